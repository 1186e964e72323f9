"""The field page marks drills and shows a household once when two alerts send the same
worker to its door (here a red drill and an orange warning)."""

from __future__ import annotations

from pathlib import Path

from broadcaster.db.database import Database
from broadcaster.registry.models import WorkerRole
from broadcaster.settings import Settings
from tests.cli import run_cli
from tests.e2e.browser import chromium
from tests.factories import alerts as fa
from tests.factories import registry as f
from tests.stack import running_stack

PASSWORD = "field-worker-password"


def test_drills_are_marked_and_households_shown_once(
    db: Database, redis_settings: Settings, settings: Settings, tmp_path: Path
) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        worker = f.worker(session, name="王网格", role=WorkerRole.field)
        home = f.household(session, grid=zones["G1"], vulnerability=("bedridden",))
        home.worker_id, code, phone = worker.id, home.code, worker.phone
    fa.issue(db, settings, zones=["V1"], status="exercise", headline="暴雨红色预警（演练）")
    fa.issue(db, settings, zones=["V1"], level="orange", headline="暴雨橙色预警")
    args = ("users", "create", "wang", "--role", "field", "--worker", phone)
    run_cli(db.url, tmp_path, *args, "--password", PASSWORD)
    with running_stack(db, redis_settings, tmp_path / "s") as stack, chromium() as browser:
        context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
        page = context.new_page()
        page.goto(f"{stack.api_url}/login?next=/field/")
        page.fill("input[name=username]", "wang")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/field/")
        page.locator(f"article.task[data-household={code}]").wait_for()
        assert page.locator("article.task").count() == 1  # one household, one card
        group = page.locator("section.alertgroup")
        assert group.count() == 1
        assert "exercise" in (group.get_attribute("class") or "")
        assert page.locator(".drill-mark").inner_text() == "【演练】"
        card = page.locator("article.task").inner_text()
        assert "同一户也在：暴雨橙色预警" in card
        assert "【演练】" in card
        context.close()
