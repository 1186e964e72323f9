"""The alert page's changes in a real browser: an evacuation order previewed (who is asked
again, each channel's text) then sent, then the all-clear previewed and sent."""

from __future__ import annotations

from pathlib import Path

from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.settings import Settings
from tests.e2e.browser import chromium, page_problems
from tests.factories import alerts as fa
from tests.factories import registry as f
from tests.stack import running_stack

PASSWORD = "duty-officer-password"
HOUSEHOLDS = 4


def seed(db: Database) -> None:
    with db.transaction() as session:
        auth_service.create_user(
            session, username="duty", role=Role.officer, password=PASSWORD, actor=SYSTEM
        )
        zones = f.zone_tree(session)
        for n in range(HOUSEHOLDS):
            f.household(session, grid=zones["G1"], phones=(f"+861390001{n:04d}",))


def test_an_evacuation_order_then_the_all_clear_from_the_alert_page(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    seed(db)
    with running_stack(db, redis_settings, tmp_path / "s") as stack, chromium() as browser:
        with stack.client() as api:
            orange = {"level": "orange", "headline": "暴雨橙色预警", "zones": ["V1"]}
            alert = api.post("/api/v1/alerts", json={**fa.RED_RAIN, **orange}).json()
        fa.mark_sent(db, alert["id"])
        context = browser.new_context(locale="zh-CN")  # type: ignore[attr-defined]
        page = context.new_page()
        problems = page_problems(page)
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{stack.api_url}/login?next=/console/alerts/{alert['id']}")
        page.fill("input[name=username]", "duty")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"**/console/alerts/{alert['id']}")
        assert "预计未来3小时降雨量将达100毫米以上。" in page.inner_text("section.full-text")

        page.check("input[name=kind][value=evacuate]")
        page.select_option("select[name=level]", "red")
        assert page.is_disabled("[data-change-apply]")
        page.click("[data-change-preview]")
        page.wait_for_selector(".change-preview li")
        shown = page.inner_text(".change-preview")
        assert f"{HOUSEHOLDS} 户将被重新要求确认" in shown
        assert "【转移令】" in shown
        page.click("[data-change-apply]")
        page.wait_for_selector("#h-revisions")
        assert "转移令" in page.inner_text(".alert-head")
        assert "第 2 版" in page.inner_text(".alert-head")

        page.check("input[name=kind][value=all-clear]")
        page.fill("input[name=note]", "降雨已减弱。")
        page.click("[data-change-preview]")
        page.wait_for_selector(".change-preview li")
        assert "解除" in page.inner_text(".change-preview")
        page.click("[data-change-apply]")
        page.wait_for_function(
            "() => document.querySelector('.alert-head').textContent.includes('已解除')"
        )
        assert page.query_selector("form[data-change]") is None  # ended: nothing to change
        assert problems == []
        context.close()
