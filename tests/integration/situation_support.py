"""A red alert over two townships with shelters, field workers' evacuations, answers by SMS,
a help request and a loudspeaker: the situation report's test district."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from broadcaster.alerts.models import Recipient
from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM, Actor
from broadcaster.auth.models import Role
from broadcaster.confirm.models import Answer, ConfirmVia
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import LoudspeakerTask, TaskState
from broadcaster.flows.confirming import record_confirmation
from broadcaster.followup.models import VisitTask
from broadcaster.registry.models import Household, WorkerRole, ZoneKind
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.factories import alerts as fa
from tests.factories import registry as f


@dataclass
class District:
    alert_id: int
    key: str  # the field worker's API key
    shelters: dict[str, int]
    homes: dict[str, int] = field(default_factory=dict)  # name → household id
    tasks: dict[str, int] = field(default_factory=dict)  # name → visit task id


VULNERABLE = {"li": "G1", "wu": "G1", "zhou": "G2", "sun": "G3", "he": "G3"}
OTHERS = {"a": "G1", "b": "G2", "c": "G2", "d": "G3"}


def seed(db: Database, settings: Settings) -> District:
    """Townships T1 (V1: G1, G2) and T2 (V2: G3); five vulnerable households get visits at
    once under a red alert on both; shelters in V1 and T2; a loudspeaker in V1."""
    with db.transaction() as session:
        zones = f.zone_tree(session)
        t2 = f.zone(session, code="T2", kind=ZoneKind.township, parent=zones["D"], name="二镇")
        v2 = f.zone(session, code="V2", kind=ZoneKind.village, parent=t2, name="二村")
        zones["G3"] = f.zone(session, code="G3", kind=ZoneKind.grid, parent=v2, name="二村网格")
        worker = f.worker(session, name="王网格", role=WorkerRole.field)
        user = auth_service.create_user(session, username="wang", role=Role.field, actor=SYSTEM)
        worker.user_id = user.id
        _row, key = auth_service.create_api_key(session, user=user, actor=SYSTEM)
        homes = {}
        for name, grid in VULNERABLE.items():
            home = f.household(session, grid=zones[grid], vulnerability=("elderly_alone",))
            home.worker_id, homes[name] = worker.id, home.id
        for name, grid in OTHERS.items():
            homes[name] = f.household(session, grid=zones[grid]).id
        shelters = {
            "school": f.shelter(session, zone=zones["V1"], name="一村小学", capacity=50).id,
            "hall": f.shelter(session, zone=t2, name="二镇礼堂", capacity=4).id,
        }
        speaker = f.loudspeaker(session, zone=zones["V1"]).id
    issued = fa.issue(db, settings, zones=["T1", "T2"])
    with db.transaction() as session:
        tasks = dict(session.execute(select(VisitTask.household_id, VisitTask.id)).all())
        session.add(
            LoudspeakerTask(alert_id=issued.alert.id, loudspeaker_id=speaker,
                            state=TaskState.played, created_at=utcnow(), played_at=utcnow())
        )  # fmt: skip
    district = District(issued.alert.id, key, shelters, homes)
    district.tasks = {name: tasks[hid] for name, hid in homes.items() if hid in tasks}
    return district


def answer(db: Database, district: District, name: str, said: Answer) -> None:
    """The household answers by SMS."""
    with db.transaction() as session:
        recipient = session.scalar(
            select(Recipient).where(
                Recipient.alert_id == district.alert_id,
                Recipient.household_id == district.homes[name],
            )
        )
        assert recipient is not None
        record_confirmation(session, recipient=recipient, via=ConfirmVia.sms_reply, answer=said,
                            actor=Actor("sms:+86"), now=utcnow())  # fmt: skip


def outcome(client: TestClient, district: District, name: str, **body: Any) -> Any:
    answer_ = client.post(
        f"/api/v1/visits/{district.tasks[name]}/outcome", json=body, headers=auth(district.key)
    )
    return answer_


def work_the_district(client: TestClient, db: Database, district: District) -> None:
    """Evacuations with people and shelters, a count corrected later, a help request at the
    door, answers by SMS (one "已转移", one "求助")."""
    school, hall = district.shelters["school"], district.shelters["hall"]
    moves = (
        ("li", {"people_moved": 3, "shelter_id": school}),
        ("wu", {"people_moved": 2, "placement": "relatives"}),
        ("sun", {"people_moved": 4, "placement": "shelter", "shelter_id": hall}),
    )
    for name, moved in moves:
        done = outcome(client, district, name, outcome="evacuated", client_id=f"door-{name}-0001",
                       **moved)  # fmt: skip
        assert done.status_code == 200, done.text
    # the count at the hall was wrong: the later finding replaces it (5, not 4 + 5)
    later = outcome(client, district, "sun", outcome="evacuated", client_id="door-sun-0002",
                    people_moved=5, shelter_id=hall)  # fmt: skip
    assert later.json()["moved_on"] == "done"
    assert outcome(client, district, "zhou", outcome="needs_help").status_code == 200
    answer(db, district, "a", Answer.safe)
    answer(db, district, "b", Answer.evacuated)
    answer(db, district, "d", Answer.needs_help)


def homes_of(db: Database) -> int:
    with db.read() as session:
        return len(list(session.scalars(select(Household.id))))
