"""The field page in a real browser: it opens without signal, records two outcomes offline (one
an evacuation to a shelter from the list kept on the phone), and both arrive exactly once when
the phone is back online."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import Role
from broadcaster.confirm.models import Confirmation
from broadcaster.db.database import Database
from broadcaster.followup.models import (
    Placement,
    VisitOutcome,
    VisitReport,
    VisitState,
    VisitTask,
)
from broadcaster.registry.models import WorkerRole
from broadcaster.settings import Settings
from tests.e2e.browser import chromium, page_problems
from tests.factories import alerts as fa
from tests.factories import registry as f
from tests.stack import running_stack, wait_until

PASSWORD = "field-worker-password"


def seed(db: Database, settings: Settings) -> int:
    """A field worker (with a console password), two vulnerable households of theirs (the red
    policy gives them visit tasks at once) and a shelter; returns the shelter's id."""
    with db.transaction() as session:
        zones = f.zone_tree(session)
        worker = f.worker(session, name="王网格", role=WorkerRole.field)
        user = auth_service.create_user(
            session, username="wang", role=Role.field, password=PASSWORD, actor=SYSTEM
        )
        worker.user_id = user.id
        for flag in ("elderly_alone", "bedridden"):
            f.household(session, grid=zones["G1"], vulnerability=(flag,)).worker_id = worker.id
        shelter = f.shelter(session, zone=zones["V1"], name="一村小学", capacity=80).id
    fa.issue(db, settings, zones=["V1"])
    return shelter


def done_tasks(db: Database) -> list[Any]:
    with db.read() as session:
        return list(
            session.execute(
                select(VisitTask.id, VisitTask.client_id).where(VisitTask.state == VisitState.done)
            ).all()
        )


def test_two_outcomes_recorded_offline_arrive_once(
    db: Database, redis_settings: Settings, settings: Settings, tmp_path: Path
) -> None:
    shelter = seed(db, settings)
    with running_stack(db, redis_settings, tmp_path / "s") as stack, chromium() as browser:
        context = browser.new_context(locale="zh-CN")  # type: ignore[attr-defined]
        page = context.new_page()
        problems = page_problems(page)
        page.goto(f"{stack.api_url}/login?next=/field/")
        page.fill("input[name=username]", "wang")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/field/")
        page.wait_for_selector("article.task >> nth=1")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")

        context.set_offline(True)
        page.reload()  # no signal: the service worker serves the page from the phone
        page.wait_for_selector("article.task >> nth=1")
        assert "离线" in page.inner_text("#status")
        page.click("article.task:not(.done) button[data-outcome=safe]")
        card = page.locator("article.task:not(.done)")  # the list re-rendered: the other one
        card.locator("button[data-outcome=evacuated]").click()
        card.locator(".evacuate .evac-ok").click()  # nothing filled in: not recorded
        assert "转移人数" in card.locator(".evac-error").inner_text()
        card.locator(".evacuate .people").fill("2")
        card.locator(".evacuate .placement").select_option(f"shelter:{shelter}")
        card.locator(".evacuate .evac-ok").click()
        outbox = page.evaluate("JSON.parse(localStorage.getItem('bc-outbox:wang')).length")
        assert outbox == 2
        assert done_tasks(db) == []

        context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        wait_until(lambda: len(done_tasks(db)) == 2, timeout=60)
        page.reload()
        page.wait_for_selector("#visits")
        assert page.evaluate("JSON.parse(localStorage.getItem('bc-outbox:wang')).length") == 0
        assert problems == []  # the strict CSP refused nothing, no script error
        context.close()

    tasks = done_tasks(db)
    assert len({client_id for _id, client_id in tasks}) == 2
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Confirmation)) == 2
        moved = session.execute(
            select(VisitReport.people_moved, VisitReport.placement, VisitReport.shelter_id).where(
                VisitReport.outcome == VisitOutcome.evacuated
            )
        ).all()
    assert [tuple(m) for m in moved] == [(2, Placement.shelter, shelter)]
