"""The board's funnel shows WeChat/QQ group relays on their own line, apart from households."""

from __future__ import annotations

from fastapi.testclient import TestClient

from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.settings import Settings
from tests.integration.console_support import login, users
from tests.integration.relay_support import link_path, seed_village, tasks_by_group
from tests.integration.test_relay_pages import issue


def test_funnel_counts_relayed_groups_apart_from_households(
    client: TestClient, role_keys: dict[Role, str], db: Database, settings: Settings
) -> None:
    users(db)
    village = seed_village(db)
    alert = issue(client, role_keys[Role.officer], status="exercise")
    tasks = tasks_by_group(db, alert["id"])
    assert client.post(link_path(settings, tasks["WC1"].id, village.holders["WC1"])).is_success

    login(client, "officer")
    board = client.get("/console").text
    assert '<span class="n" data-key="groups_relayed">1</span>' in board
    assert '<span data-key="groups_targeted">3</span>' in board
    assert '<span class="n ok" data-key="confirmed">0</span>' in board  # not a household
    live = client.get("/console/alerts/" + str(alert["id"])).text
    assert 'data-key="groups_relayed">1<' in live
