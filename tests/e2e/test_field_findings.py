"""A field worker whose login was made only with `broadcaster users create --worker` works
their visits in a real browser: "needs help" recorded offline while the household confirms by
SMS still opens a help request; "safe" recorded offline before the task went to the zone lead
is kept and shown to the lead; a refused outcome stays on its card with a message."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.confirm.models import HelpRequest
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.followup.models import VisitReport, VisitState, VisitTask
from broadcaster.followup.visits import reassign_overdue
from broadcaster.registry.models import Household, WorkerRole
from broadcaster.settings import Settings
from tests.cli import run_cli
from tests.e2e.browser import chromium
from tests.factories import registry as f
from tests.factories.alerts import RED_RAIN
from tests.stack import Stack, running_stack, wait_until

PASSWORD = "field-worker-password"
DOCS = Path(__file__).resolve().parents[2] / "docs"
HURT = "老人摔伤，行动不便，需要担架"


def seed(db: Database) -> dict[str, Any]:
    """A grid worker with three vulnerable households (one with coordinates), the village's
    lead: a red alert will give the households visit tasks at once and send them an SMS."""
    with db.transaction() as session:
        zones = f.zone_tree(session)
        worker = f.worker(session, name="王网格", role=WorkerRole.field)
        lead = f.worker(session, name="赵组长", role=WorkerRole.lead)
        lead.zones = [zones["V1"]]
        homes = {}
        for key, flag, phone in (
            ("hurt", "bedridden", "+8617405000001"),
            ("moved", "elderly_alone", "+8617405000002"),
            ("odd", "disabled", "+8617405000003"),
        ):
            home = f.household(session, grid=zones["G1"], vulnerability=(flag,), phones=(phone,))
            home.worker_id = worker.id
            homes[key] = (home.id, home.code, phone)
        session.get_one(Household, homes["hurt"][0]).lat = 29.7182
        session.get_one(Household, homes["hurt"][0]).lon = 106.6311
        return {"homes": homes, "worker": worker.phone, "lead": lead.phone}


def task_of(db: Database, household_id: int) -> VisitTask:
    with db.read() as session:
        task = session.scalar(select(VisitTask).where(VisitTask.household_id == household_id))
        assert task is not None
        return task


def login(browser: Any, stack: Stack, username: str) -> tuple[Any, Any]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{stack.api_url}/login?next=/field/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/field/")
    return context, page


def card(page: Any, code: str) -> Any:
    return page.locator(f"article.task[data-household={code}]")


def reply_by_sms(stack: Stack, phone: str, body: str) -> None:
    wait_until(lambda: phone in {m.to for m in stack.sim_messages()}, timeout=120)
    sid = next(m.sid for m in stack.sim_messages() if m.to == phone)
    sent = httpx.post(f"{stack.sim_url}/api/messages/{sid}/reply", json={"body": body}, timeout=30)
    assert sent.status_code == 200, sent.text


def test_findings_recorded_offline_are_never_lost(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    seeded = seed(db)
    hurt, moved, odd = (seeded["homes"][k] for k in ("hurt", "moved", "odd"))
    for name, role, phone in (("wang", "field", "worker"), ("zhao", "lead", "lead")):
        args = ("users", "create", name, "--role", role, "--worker", seeded[phone])
        made = run_cli(db.url, tmp_path, *args, "--password", PASSWORD)
        assert "worker" in made
    with (
        running_stack(db, redis_settings, tmp_path / "s") as stack,
        stack.client() as officer,
        chromium() as browser,
    ):
        created = officer.post("/api/v1/alerts", json={**RED_RAIN, "zones": ["V1"]})
        assert created.status_code == 201, created.text
        stack.start_worker(scheduler=False)  # sends the SMS; no ticks behind the test's back
        context, page = login(browser, stack, "wang")
        for code in (hurt[1], moved[1], odd[1]):
            card(page, code).wait_for()
        group = page.locator("section.alertgroup.level-red")
        assert "暴雨红色预警" in group.locator(".grouphead").inner_text()
        hurt_card = card(page, hurt[1])
        assert "卧床" in hurt_card.inner_text()
        assert "前上门" in hurt_card.inner_text()
        assert hurt_card.locator("a[href^='geo:29.7182,106.6311']").count() == 1
        assert hurt_card.locator("a[href^='https://uri.amap.com/marker']").count() == 1
        assert card(page, moved[1]).locator("a[href^='geo:']").count() == 0
        page.screenshot(path=str(DOCS / "field-page.png"), full_page=True)
        card(page, odd[1]).locator("button.start").click()  # on the way: not reassigned
        wait_until(lambda: task_of(db, odd[0]).state == VisitState.in_progress, timeout=30)
        assert card(page, odd[1]).locator("button.start").is_hidden()
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")

        context.set_offline(True)
        page.reload()  # no signal: the page comes from the phone
        card(page, hurt[1]).wait_for()
        hurt_card = card(page, hurt[1])
        hurt_card.locator("textarea.notes").fill(HURT)
        hurt_card.locator("button[data-outcome=needs_help]").click()
        card(page, moved[1]).locator("button[data-outcome=safe]").click()
        assert "已保存，待上传" in card(page, hurt[1]).inner_text()
        # a refusal the server keeps giving (here an item an older page version queued)
        odd_visit = page.evaluate(
            "code => JSON.parse(localStorage.getItem('bc-visits:wang'))"
            ".find(v => v.household_code === code)",
            odd[1],
        )
        page.evaluate(
            """([id, visit]) => { const key = 'bc-outbox:wang';
            const box = JSON.parse(localStorage.getItem(key));
            box.push({kind: 'outcome', task_id: id, outcome: 'maybe', notes: '', problem: null,
                      client_id: 'odd-item-0001', found_at: new Date().toISOString(), visit});
            localStorage.setItem(key, JSON.stringify(box)); }""",
            [task_of(db, odd[0]).id, odd_visit],
        )
        assert page.evaluate("JSON.parse(localStorage.getItem('bc-outbox:wang')).length") == 3

        # meanwhile: the household answers the SMS "1", the other visit goes to the lead
        reply_by_sms(stack, hurt[2], "1")
        wait_until(lambda: task_of(db, hurt[0]).state == VisitState.cancelled, timeout=60)
        with db.transaction() as session:
            assert reassign_overdue(session, now=utcnow() + dt.timedelta(hours=1)) >= 1
        assert task_of(db, moved[0]).worker_id != task_of(db, moved[0]).reassigned_from
        assert task_of(db, odd[0]).reassigned_from is None  # started: stays with its worker

        context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        wait_until(lambda: task_of(db, moved[0]).state == VisitState.done, timeout=60)
        page.locator("ul.sent li").nth(1).wait_for()
        sent = page.locator("#notices").inner_text()
        assert "结果仍已记录" in sent
        assert "已通知值班台处理求助" in sent
        odd_card = card(page, odd[1])
        odd_card.locator(".problem").wait_for()
        assert "未能上传" in odd_card.locator(".problem").inner_text()
        assert page.evaluate("JSON.parse(localStorage.getItem('bc-outbox:wang')).length") == 1
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(DOCS / "field-page-synced.png"), full_page=True)

        help_queue = officer.get("/api/v1/help-requests").json()
        assert [h["household_code"] for h in help_queue] == [hurt[1]]
        assert help_queue[0]["exercise"] is False
        assert HURT in help_queue[0]["text"]
        assert help_queue[0]["by_name"] == "王网格"

        lead_context, lead_page = login(browser, stack, "zhao")
        lead_card = card(lead_page, moved[1])
        lead_card.wait_for()
        assert "已由他人上门记录：王网格 · 平安" in lead_card.inner_text()
        lead_context.close()
        context.close()

    with db.read() as session:
        reports = dict(session.execute(select(VisitReport.task_id, VisitReport.moved_on)).all())
        hurt_state = session.scalar(
            select(Recipient.state).where(Recipient.household_id == hurt[0])
        )
        opened = session.scalar(select(HelpRequest.handled_at).where(HelpRequest.id > 0))
    assert reports == {task_of(db, hurt[0]).id: "cancelled", task_of(db, moved[0]).id: "reassigned"}
    assert hurt_state == RecipientState.needs_help
    assert opened is None
    assert task_of(db, moved[0]).done_by == "user:wang"
