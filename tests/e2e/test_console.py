"""The duty console in a real browser: sign in, compose a drill for one village, see the
preview with its SMS segment count, send it, watch the board reach 100 % final through the
simulator without reloading, export the recipients as XLSX, open the after-action report.
The screenshots in docs/ are taken here."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook

from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.settings import PACKAGE_CONFIG_DIR, Settings
from tests.e2e.browser import chromium, page_problems
from tests.factories import registry as f
from tests.stack import Stack, running_stack, wait_until

HOUSEHOLDS = 24
PASSWORD = "duty-officer-password"
DOCS = Path(__file__).resolve().parents[2] / "docs"
POLICY = "\n".join(
    f'[{level}]\nchannels = ["sms"]\n'
    f'steps = [{{ after = "10m", channel = "voice" }}, {{ after = "1h", visit = true }}]\n'
    for level in ("blue", "yellow", "orange", "red")
)


def config_dir(tmp_path: Path) -> Path:
    """The shipped templates (compose suggestions included) with SMS-only policies."""
    target = tmp_path / "config"
    shutil.copytree(PACKAGE_CONFIG_DIR / "templates", target / "templates")
    (target / "policies.toml").write_text(POLICY)
    return target


def seed(db: Database) -> None:
    """The duty officer, and a village of two grids; a second village nobody alerts."""
    with db.transaction() as session:
        auth_service.create_user(
            session,
            username="duty",
            role=Role.officer,
            password=PASSWORD,
            display_name="值班员小李",
            actor=SYSTEM,
        )
        zones = f.zone_tree(session)
        for n in range(HOUSEHOLDS):
            f.household(
                session,
                grid=zones["G1" if n % 2 else "G2"],
                phones=(f"+861390000{n:04d}",),
                vulnerability=("elderly_alone",) if n % 6 == 0 else (),
            )
        other = f.zone(session, code="V2", kind=zones["V1"].kind, parent=zones["T1"], name="二村")
        grid = f.zone(session, code="G3", kind=zones["G1"].kind, parent=other, name="二村网格")
        f.household(session, grid=grid)


def reply_to_all(stack: Stack) -> None:
    """Every household answers its SMS with "1" through the simulator's control API."""
    with httpx.Client(timeout=30) as web:
        for message in stack.sim_messages():
            answer = web.post(
                f"{stack.sim_url}/api/messages/{message.sid}/reply", json={"body": "1"}
            )
            assert answer.status_code == 200, answer.text


def shot(page: Any, name: str) -> None:
    DOCS.mkdir(exist_ok=True)
    path = DOCS / name
    page.screenshot(path=str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000


def test_compose_send_watch_export_and_report(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    seed(db)
    with (
        running_stack(db, redis_settings, tmp_path / "s", config_dir=config_dir(tmp_path)) as stack,
        chromium() as browser,
    ):
        stack.start_worker()
        context = browser.new_context(  # type: ignore[attr-defined]
            locale="zh-CN", viewport={"width": 1366, "height": 768}, accept_downloads=True
        )
        page = context.new_page()
        problems = page_problems(page)  # CSP refusals, script errors
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{stack.api_url}/login?next=/console/compose")
        page.fill("input[name=username]", "duty")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/console/compose")

        # compose: a drill for one village, texts from the template, the preview
        page.check("input[name=level][value=orange]")
        page.check("input[name=zone][value=V1]")
        page.check("#exercise")
        assert "一村" in page.input_value("#headline")  # the template named the village
        page.wait_for_function(  # a function, not a string: the CSP forbids eval
            f"() => document.querySelector('#pv-households').textContent === '{HOUSEHOLDS}'"
        )
        figures = page.inner_text("#pv-sms-figures")
        assert "条" in figures  # characters · segments · encoding
        assert "UCS-2" in figures
        assert page.inner_text("#pv-sms").startswith("【演练】")
        shot(page, "console-compose.png")
        page.click("#send")
        page.wait_for_url("**/console/alerts/*")
        alert_id = int(page.url.split("/console/alerts/")[1].split("?")[0])

        # the board: counts climb to 100 % final while the page stays loaded
        page.goto(f"{stack.api_url}/console")
        page.evaluate("window.__notReloaded = true")
        funnel = f"[data-funnel='{alert_id}']"
        page.wait_for_selector(funnel)
        wait_until(lambda: len(stack.sim_messages()) == HOUSEHOLDS, timeout=120)
        reply_to_all(stack)
        page.wait_for_function(
            f'() => document.querySelector("{funnel} [data-key=percent]").textContent'
            " === '100.0'",
            timeout=90_000,
        )
        assert page.inner_text(f"{funnel} [data-key=confirmed]") == str(HOUSEHOLDS)
        assert page.evaluate("window.__notReloaded") is True
        page.wait_for_function(  # the coverage table follows the counts
            "() => document.querySelector('table.coverage tr.kind-village td.pctcol')"
            ".textContent.includes('100%')",
            timeout=30_000,
        )
        page.wait_for_timeout(1500)  # let the bars finish their transition
        shot(page, "console-dashboard.png")

        # the alert page: export the recipients as XLSX, then the after-action report
        page.goto(f"{stack.api_url}/console/alerts/{alert_id}")
        page.wait_for_selector("table.recipients")
        shot(page, "console-alert.png")
        with page.expect_download() as download:
            page.click("text=XLSX")
        sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
        rows = list(sheet.worksheets[0].iter_rows(values_only=True))
        assert len(rows) == 1 + HOUSEHOLDS
        assert {row[7] for row in rows[1:]} == {"已确认"}  # in words, as the console reads
        assert all("****" in str(row[8]) for row in rows[1:])  # phones masked
        page.click("text=事后报告")
        page.wait_for_url("**/report")
        assert "漏户 0" in page.inner_text("body")
        assert page.inner_text("[data-figure=final]") == str(HOUSEHOLDS)
        assert page.inner_text("[data-figure=p100]") != "—"
        page.goto(f"{stack.api_url}/console/registry?tab=zones")
        page.wait_for_selector("table.coverage")
        assert problems == []
        context.close()
