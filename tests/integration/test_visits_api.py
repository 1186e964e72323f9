"""Visit API: someone else's task is 403, an unknown outcome 422, replays are harmless,
nothing changes on a refusal, and a finding on a task that moved on is kept."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.followup.models import VisitReport, VisitState, VisitTask
from broadcaster.registry.models import Worker, WorkerRole
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.factories import alerts as fa
from tests.factories import registry as f


def setup(db: Database, settings: Settings) -> tuple[dict[str, str], list[int]]:
    """Two field workers with a vulnerable household each; immediate visits at issue; the
    task ids, worker a's first."""
    keys: dict[str, str] = {}
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for name in ("a", "b"):
            worker = f.worker(session, name=name, role=WorkerRole.field)
            user = auth_service.create_user(
                session, username=f"w-{name}", role=Role.field, actor=SYSTEM
            )
            worker.user_id = user.id
            _row, keys[name] = auth_service.create_api_key(session, user=user, actor=SYSTEM)
            home = f.household(session, grid=zones["G1"], vulnerability=("bedridden",))
            home.worker_id = worker.id
    policy = settings.config_dir  # the shipped red policy visits vulnerable households at once
    assert policy.is_dir()
    fa.issue(db, settings, zones=["V1"])
    with db.read() as session:
        # worker a's task first: the order planning wrote them in is not the households'
        tasks = list(
            session.scalars(
                select(VisitTask.id)
                .join(Worker, Worker.id == VisitTask.worker_id)
                .order_by(Worker.name)
            )
        )
    return keys, tasks


def snapshot(db: Database) -> list[tuple[object, ...]]:
    with db.read() as session:
        visits = session.execute(select(VisitTask.id, VisitTask.state, VisitTask.outcome)).all()
        recipients = session.execute(select(Recipient.id, Recipient.state)).all()
    return [tuple(v) for v in visits] + [tuple(r) for r in recipients]


def test_refusals_change_nothing(client: TestClient, db: Database, settings: Settings) -> None:
    keys, tasks = setup(db, settings)
    assert len(tasks) == 2
    before = snapshot(db)
    mine = client.get("/api/v1/visits", headers=auth(keys["a"])).json()
    assert [t["id"] for t in mine] == [tasks[0]]
    theirs = client.post(
        f"/api/v1/visits/{tasks[1]}/outcome", json={"outcome": "safe"}, headers=auth(keys["a"])
    )
    assert theirs.status_code == 403
    unknown = client.post(
        f"/api/v1/visits/{tasks[0]}/outcome", json={"outcome": "maybe"}, headers=auth(keys["a"])
    )
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "outcome"
    missing = client.post(
        "/api/v1/visits/999999/outcome", json={"outcome": "safe"}, headers=auth(keys["a"])
    )
    assert missing.status_code == 404
    assert snapshot(db) == before


def test_outcome_replays_are_harmless(client: TestClient, db: Database, settings: Settings) -> None:
    keys, tasks = setup(db, settings)
    body = {"outcome": "evacuated", "notes": "已转移到村委会", "client_id": "offline-0001"}
    first = client.post(f"/api/v1/visits/{tasks[0]}/outcome", json=body, headers=auth(keys["a"]))
    again = client.post(f"/api/v1/visits/{tasks[0]}/outcome", json=body, headers=auth(keys["a"]))
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    other = client.post(
        f"/api/v1/visits/{tasks[0]}/outcome",
        json={**body, "client_id": "offline-0002"},
        headers=auth(keys["a"]),
    )
    # a second finding on a finished task is a fact too: kept, saying the task was done
    assert other.status_code == 200
    assert other.json()["moved_on"] == "done"
    with db.read() as session:
        task = session.get_one(VisitTask, tasks[0])
        state = session.scalar(select(Recipient.state).where(Recipient.id == task.recipient_id))
        reports = list(session.scalars(select(VisitReport.moved_on).order_by(VisitReport.id)))
    assert task.state == VisitState.done
    assert reports == [None, "done"]
    assert state == RecipientState.visited


def test_not_home_stays_open_for_a_second_visit(
    client: TestClient, db: Database, settings: Settings
) -> None:
    keys, tasks = setup(db, settings)
    first = client.post(
        f"/api/v1/visits/{tasks[0]}/outcome",
        json={"outcome": "not_home", "client_id": "door-knock-1"},
        headers=auth(keys["a"]),
    )
    assert first.json()["state"] == "open"
    assert first.json()["outcome"] == "not_home"
    second = client.post(
        f"/api/v1/visits/{tasks[0]}/outcome",
        json={"outcome": "safe", "client_id": "door-knock-2", "lat": 29.71, "lon": 106.62},
        headers=auth(keys["a"]),
    )
    assert second.json()["state"] == "done"
    invalid = client.post(
        f"/api/v1/visits/{tasks[1]}/outcome",
        json={"outcome": "address_invalid", "client_id": "door-knock-3"},
        headers=auth(keys["b"]),
    )
    assert invalid.json()["state"] == "unable"
    with db.read() as session:
        reports = session.execute(
            select(VisitReport.task_id, VisitReport.outcome).order_by(VisitReport.id)
        ).all()
        states = set(session.scalars(select(Recipient.state)))
    assert [(t, o.value) for t, o in reports] == [
        (tasks[0], "not_home"),
        (tasks[0], "safe"),
        (tasks[1], "address_invalid"),
    ]
    assert states == {RecipientState.visited}


def test_a_household_without_a_responsible_worker_goes_to_its_grid_worker(
    db: Database, settings: Settings
) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        grid_worker = f.worker(session, name="格员", role=WorkerRole.field)
        grid_worker.zones = [zones["G1"]]
        f.household(session, grid=zones["G1"], vulnerability=("disabled",))
    fa.issue(db, settings, zones=["V1"])
    with db.read() as session:
        assert list(session.scalars(select(VisitTask.worker_id))) == [grid_worker.id]
