"""A red alert with door visits, end to end in a real browser: the field worker records
evacuations with people counts and shelters on the phone page; residents answer by SMS; the
situation report's per-zone rows add up to the alert's counts and the people evacuated; the
XLSX opens with Chinese headers; the printable page renders (screenshots in docs/); the duty
officer hands the shift over on the duty page and the next officer takes it."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import func, select

from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import Role
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.followup.models import VisitReport, VisitTask
from broadcaster.registry.duty_models import Handover
from broadcaster.registry.models import WorkerRole, ZoneKind
from broadcaster.settings import Settings
from tests.e2e.browser import chromium, page_problems
from tests.factories import registry as f
from tests.factories.alerts import RED_RAIN
from tests.stack import Stack, running_stack, wait_until

PASSWORD = "situation-test-password"
DOCS = Path(__file__).resolve().parents[2] / "docs"
NOTE = "老人腿脚不便，已背下楼"
A4_LANDSCAPE = {"width": 1123, "height": 794}  # 297 × 210 mm at 96 dpi
VULNERABLE = {"li": "G1", "wu": "G1", "zhou": "G2", "sun": "G3"}
OTHERS = {"a": "G1", "b": "G2", "c": "G2", "d": "G3", "e": "G3"}


def seed(db: Database) -> dict[str, Any]:
    """Two townships, a field worker for the four vulnerable households, two shelters, two
    duty officers with logins; every household with its own mobile."""
    homes: dict[str, tuple[int, str, str]] = {}
    with db.transaction() as session:
        zones = f.zone_tree(session)
        t2 = f.zone(session, code="T2", kind=ZoneKind.township, parent=zones["D"], name="二镇")
        v2 = f.zone(session, code="V2", kind=ZoneKind.village, parent=t2, name="二村")
        zones["G3"] = f.zone(session, code="G3", kind=ZoneKind.grid, parent=v2, name="二村网格")
        for name, shown in (("duty", "值班员小李"), ("laozhao", "值班员老赵")):
            auth_service.create_user(
                session,
                username=name,
                role=Role.officer,
                password=PASSWORD,
                display_name=shown,
                actor=SYSTEM,
            )
        worker = f.worker(session, name="王网格", role=WorkerRole.field)
        user = auth_service.create_user(session, username="wang", role=Role.field,
                                        password=PASSWORD, actor=SYSTEM)  # fmt: skip
        worker.user_id = user.id
        for n, (name, grid) in enumerate({**VULNERABLE, **OTHERS}.items()):
            phone = f"+86174060000{n:02d}"
            flags = ("elderly_alone",) if name in VULNERABLE else ()
            home = f.household(session, grid=zones[grid], vulnerability=flags, phones=(phone,))
            if name in VULNERABLE:
                home.worker_id = worker.id
            homes[name] = (home.id, home.code, phone)
        shelters = {
            "school": f.shelter(session, zone=zones["V1"], name="一村小学", capacity=50).id,
            "hall": f.shelter(session, zone=t2, name="二镇礼堂", capacity=30).id,
        }
    return {"homes": homes, "shelters": shelters}


def reply(stack: Stack, phone: str, body: str) -> None:
    wait_until(lambda: phone in {m.to for m in stack.sim_messages()}, timeout=120)
    sid = next(m.sid for m in stack.sim_messages() if m.to == phone)
    sent = httpx.post(f"{stack.sim_url}/api/messages/{sid}/reply", json={"body": body}, timeout=30)
    assert sent.status_code == 200, sent.text


def sign_in(browser: Any, stack: Stack, username: str, target: str, **options: Any) -> Any:
    context = browser.new_context(locale="zh-CN", **options)
    page = context.new_page()
    page.goto(f"{stack.api_url}/login?next={target}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{target}")
    return page


def redraw(page: Any) -> None:
    """Have the page sync and draw its list again (a sync already under way draws at its end),
    and wait until it has."""
    page.evaluate("document.querySelectorAll('article.task').forEach(n => n.dataset.old = '1')")
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_function("() => !document.querySelector('article.task[data-old]')")


def evacuate(page: Any, code: str, people: int, where: str, shot: str | None = None) -> None:
    """Tap 已转移, fill in the people and where to, and record it."""
    card = page.locator(f"article.task[data-household={code}]")
    card.locator("button[data-outcome=evacuated]").click()
    card.locator(".evacuate .people").fill(str(people))
    card.locator(".evacuate .placement").select_option(where)
    if shot:
        card.scroll_into_view_if_needed()
        page.screenshot(path=str(DOCS / shot))
    card.locator(".evacuate .evac-ok").click()
    redraw(page)  # sent, and drawn again: the next card is not redrawn under the test's hands


def redrawn_keeps_typing(page: Any, code: str) -> None:
    """A sync redraws the list: the notes and the half-filled evacuation stay on the card."""
    redraw(page)  # the page's first sync is over: the next redraw is the one below
    card = page.locator(f"article.task[data-household={code}]")
    card.locator("textarea.notes").fill(NOTE)
    card.locator("button[data-outcome=evacuated]").click()
    card.locator(".evacuate .people").fill("3")
    redraw(page)
    assert card.locator("textarea.notes").input_value() == NOTE
    assert card.locator(".evacuate").is_visible()
    assert card.locator(".evacuate .people").input_value() == "3"
    card.locator(".evacuate .evac-cancel").click()


def reports(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(VisitReport)) or 0)


def test_evacuations_reach_the_situation_report_and_the_shift_is_handed_over(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    seeded = seed(db)
    homes, shelters = seeded["homes"], seeded["shelters"]
    with (
        running_stack(db, redis_settings, tmp_path / "s") as stack,
        stack.client() as admin,
        chromium() as browser,
    ):
        created = admin.post("/api/v1/alerts", json={**RED_RAIN, "zones": ["T1", "T2"]})
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        stack.start_worker(scheduler=False)
        for name, said in (("a", "1"), ("c", "1"), ("b", "3"), ("d", "2")):
            reply(stack, homes[name][2], said)

        field = sign_in(browser, stack, "wang", "/field/", viewport={"width": 390, "height": 844})
        problems = page_problems(field)
        for name in VULNERABLE:
            field.locator(f"article.task[data-household={homes[name][1]}]").wait_for()
        redrawn_keeps_typing(field, homes["li"][1])
        evacuate(field, homes["li"][1], 3, f"shelter:{shelters['school']}", "field-evacuation.png")
        evacuate(field, homes["sun"][1], 4, f"shelter:{shelters['hall']}")
        evacuate(field, homes["wu"][1], 2, "relatives")
        field.locator(f"article.task[data-household={homes['zhou'][1]}] "
                      "button[data-outcome=needs_help]").click()  # fmt: skip
        wait_until(lambda: reports(db) == 4, timeout=60)
        assert "已转移 · 3 人 → 一村小学" in field.locator("#notices").inner_text()
        with db.read() as session:
            kept = session.execute(
                select(VisitReport.notes, VisitReport.people_moved, VisitReport.shelter_id)
                .join(VisitTask, VisitTask.id == VisitReport.task_id)
                .where(VisitTask.household_id == homes["li"][0])
            ).one()
        assert tuple(kept) == (NOTE, 3, shelters["school"])
        assert problems == []

        found = admin.get(f"/api/v1/alerts/{alert_id}/situation-report").json()
        counts = admin.get(f"/api/v1/alerts/{alert_id}").json()["counts"]
        total, rows = found["total"], found["rows"]
        grids = [r for r in rows if r["kind"] == "grid"]
        for name in ("households_targeted", "households_confirmed", "households_needs_help",
                     "households_visited", "households_reached", "households_pending"):  # fmt: skip
            assert total[name] == counts[name], name
            assert sum(r[name] for r in grids) == counts[name], name
        assert total["households_targeted"] == 9
        assert sum(r["people_evacuated"] for r in grids) == total["people_evacuated"] == 9
        assert total["households_evacuated"] == 4  # three at the door, one answered "3"
        assert {s["name"]: s["people"] for s in found["shelters"]} == {"一村小学": 3, "二镇礼堂": 4}
        xlsx = admin.get(f"/api/v1/alerts/{alert_id}/situation-report?format=xlsx")
        book = load_workbook(io.BytesIO(xlsx.content))
        header = [c.value for c in book["灾情报送"][5]]
        assert header[:4] == ["乡镇（街道）", "村（社区）", "网格", "应通知户数"]
        assert [c.value for c in book["转移人员统计"][5]][4] == "转移人数"

        officer = sign_in(browser, stack, "duty", f"/console/alerts/{alert_id}/situation",
                          viewport=A4_LANDSCAPE)  # fmt: skip
        problems = page_problems(officer)
        assert officer.inner_text("h1.form-title") == "防汛预警到户及灾情核查报送表"
        assert officer.inner_text("td[data-figure=targeted]") == "9"
        assert officer.inner_text("td[data-figure=people]") == "9"
        assert "二镇礼堂" in officer.inner_text("section[aria-labelledby=h-moved]")
        officer.screenshot(path=str(DOCS / "console-situation.png"), full_page=True)

        now = utcnow()
        for name, start, end in (("duty", -8, 1), ("laozhao", 1, 13)):
            turn = {"username": name, "starts_at": (now + dt.timedelta(hours=start)).isoformat(),
                    "ends_at": (now + dt.timedelta(hours=end)).isoformat()}  # fmt: skip
            assert admin.post("/api/v1/shifts", json=turn).status_code == 201
        officer.goto(f"{stack.api_url}/console/duty")
        officer.fill("#handover-note", "孙家老人已送二镇礼堂；周家求助已转镇卫生院，待回电。")
        officer.click("form[data-api='/api/v1/shifts/handover'] button[type=submit]")
        officer.locator(".handover").first.wait_for()
        officer.screenshot(path=str(DOCS / "console-duty.png"), full_page=True)
        with db.read() as session:
            handover = session.scalars(select(Handover)).one()
        assert handover.items["counts"]["help_open"] == 2
        assert problems == []

        incoming = sign_in(browser, stack, "laozhao", "/console", viewport=A4_LANDSCAPE)
        assert "值班员小李" in incoming.inner_text("[data-fragment=shift]")
        incoming.goto(f"{stack.api_url}/console/duty")
        incoming.click(f"#handover-{handover.id} button[type=submit]")
        incoming.locator(f"#handover-{handover.id}.done").wait_for()
    with db.read() as session:
        taken = session.get_one(Handover, handover.id)
    assert taken.acknowledged_at is not None
