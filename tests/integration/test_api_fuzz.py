"""API fuzzing: schemathesis over the app's OpenAPI document, in process (ASGI), with a valid
key of every role a route allows; no input (valid or not) may make the server answer 5xx."""

from __future__ import annotations

import os
import time
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from broadcaster.app import create_app
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.integration.console_support import seed

EXAMPLES = int(os.environ.get("BROADCASTER_FUZZ_EXAMPLES", "8"))  # per route and mode


def allowed_roles(operation: Any) -> list[Role | None]:
    """The roles a route declares (its OpenAPI security scopes); None for open routes."""
    roles = {
        scope
        for requirement in operation.definition.raw.get("security", [])
        for scopes in requirement.values()
        for scope in scopes
    }
    return sorted((Role(r) for r in roles), key=lambda r: r.value) or [None]


def test_no_input_makes_a_server_error(
    db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    seed(db, settings, households=3)  # an alert, zones and households for ids to find
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings, db))
    errors: list[str] = []
    calls = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        roles = allowed_roles(operation)
        strategy = st.one_of(
            operation.as_strategy(generation_mode=mode) for mode in schemathesis.GenerationMode
        )

        @given(case=strategy, role=st.sampled_from(roles))
        @fuzz_settings(
            max_examples=EXAMPLES * 2,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any, role: Role | None) -> None:
            nonlocal calls
            headers = auth(role_keys[role]) if role else {}
            calls += 1
            try:  # the in-process client re-raises what the app did not handle (a 500)
                status = case.call(headers=headers).status_code
            except Exception as exc:
                status = f"500 {type(exc).__name__}: {exc!s:.120}"
            if str(status) >= "500":
                errors.append(
                    f"{role}: {case.method} {case.formatted_path} → {status}: "
                    f"{case.as_curl_command(headers=headers)}"
                )

        run()
    print(f"fuzz: {calls} calls in {time.monotonic() - started:.1f} s, {len(errors)} 5xx")
    assert errors == [], "\n".join(errors)
