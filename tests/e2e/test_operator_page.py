"""The loudspeaker operator's page on a 390 px phone: level colour, issue time, times to play,
drill mark, a styled 退出; "已播放" marks the loudspeaker delivery delivered."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.registry.models import WorkerRole
from broadcaster.settings import Settings
from tests.cli import run_cli
from tests.e2e.browser import chromium
from tests.factories import registry as f
from tests.factories.alerts import RED_RAIN
from tests.stack import running_stack, wait_until

PASSWORD = "operator-password"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def speaker_state(db: Database) -> DeliveryState | None:
    with db.read() as session:
        return session.scalar(select(Delivery.state).where(Delivery.channel == "loudspeaker"))


def test_operator_page_plays_and_delivers(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        operator = f.worker(session, name="张华成", role=WorkerRole.operator)
        f.loudspeaker(session, zone=zones["V1"], operator=operator)
        f.household(session, grid=zones["G1"])
        phone = operator.phone
    args = ("users", "create", "zhang", "--role", "operator", "--worker", phone)
    run_cli(db.url, tmp_path, *args, "--password", PASSWORD)
    with (
        running_stack(db, redis_settings, tmp_path / "s") as stack,
        stack.client() as officer,
        chromium() as browser,
    ):
        drill = {**RED_RAIN, "status": "exercise", "zones": ["V1"], "channels": ["loudspeaker"]}
        assert officer.post("/api/v1/alerts", json=drill).status_code == 201
        stack.start_worker(scheduler=False)
        wait_until(lambda: speaker_state(db) == DeliveryState.sent, timeout=120)
        context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
        page = context.new_page()
        page.goto(f"{stack.api_url}/login")
        page.fill("input[name=username]", "zhang")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/operator")
        task = page.locator("article.speaker.level-red")
        text = task.inner_text()
        assert "【演练】" in text
        assert "请播放 3 遍" in text
        assert "发布" in text
        assert "回复" not in text
        assert "张华成" in page.locator(".who").inner_text()
        assert " ·\n" not in page.locator(".who").inner_text()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing sticks out sideways on a phone
        page.screenshot(path=str(DOCS / "operator-page.png"), full_page=True)
        task.locator("button.primary").click()
        page.wait_for_url("**/operator?msg=played")
        assert "已记录播放" in page.inner_text("body")
        context.close()
    assert speaker_state(db) == DeliveryState.delivered
