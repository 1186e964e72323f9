"""Walks every API route of the OpenAPI table: each declares its roles; no key is 401,
every role outside them is 403."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from broadcaster.auth.models import Role
from tests.api_fixtures import auth

METHODS = {"get", "post", "put", "patch", "delete"}


def operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    paths = client.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), path, op)
        for path, item in paths.items()
        for method, op in item.items()
        if method in METHODS and path.startswith("/api/")
    ]


def declared_roles(operation: dict[str, Any]) -> set[str]:
    roles: set[str] = set()
    for requirement in operation.get("security", []):
        for scopes in requirement.values():
            roles.update(scopes)
    return roles


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "999999", path)


def test_every_api_route_declares_roles(client: TestClient) -> None:
    ops = operations(client)
    assert len(ops) >= 15
    undeclared = [f"{m} {p}" for m, p, op in ops if not declared_roles(op)]
    assert undeclared == []
    unknown = {r for _m, _p, op in ops for r in declared_roles(op)} - {r.value for r in Role}
    assert unknown == set()


def test_missing_key_is_401_and_wrong_role_is_403(
    client: TestClient, role_keys: dict[Role, str]
) -> None:
    checked = 0
    for method, path, op in operations(client):
        url = concrete(path)
        anonymous = client.request(method, url, json={})
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        for role in {r for r in Role if r.value not in declared_roles(op)}:
            answer = client.request(method, url, json={}, headers=auth(role_keys[role]))
            assert answer.status_code == 403, (method, path, role, answer.text)
            checked += 1
    assert checked > 20


def test_allowed_role_passes_the_guard(client: TestClient, role_keys: dict[Role, str]) -> None:
    for method, path, op in operations(client):
        for role in declared_roles(op):
            answer = client.request(
                method, concrete(path), json={}, headers=auth(role_keys[Role(role)])
            )
            assert answer.status_code not in (401, 403), (method, path, role, answer.text)
