"""One number, several households: a reply from a phone two households share answers for both
(one acknowledgement); a proxy's (代联系人) answer is recorded as the proxy's, and for a bedridden
or lone elderly household the default policy still sends someone to the door."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.alerts.texts import NOTICE_ACK_HELP, NOTICE_ACK_SAFE
from broadcaster.auth.models import Role
from broadcaster.confirm.models import Answer, Confirmation, ConfirmedBy, HelpRequest
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.flows.calls import confirm_by_key
from broadcaster.followup.models import VisitState, VisitTask
from broadcaster.registry.models import Household
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.factories import alerts as fa
from tests.factories import registry as f
from tests.integration.console_support import login, users
from tests.integration.test_confirm import sms

SHARED = "+8617411110001"  # a son's phone, in his parents' household and his own
PROXY = "+8617422220002"  # a daughter in the city, proxy of two households
LISTENER = "+8617433330003"  # a neighbour listed to be told, not to answer


def states(db: Database, alert_id: int) -> dict[str, RecipientState]:
    with db.read() as session:
        rows = session.execute(
            select(Recipient.household_id, Recipient.state).where(Recipient.alert_id == alert_id)
        )
        codes = {row[0]: row[1] for row in session.execute(select(Household.id, Household.code))}
        return {codes[household]: state for household, state in rows}


def answers(db: Database, alert_id: int) -> list[tuple[str, str, ConfirmedBy | None, bool]]:
    with db.read() as session:
        rows = session.execute(
            select(Household.code, Confirmation.by, Confirmation.confirmed_by, Confirmation.final)
            .join(Recipient, Recipient.id == Confirmation.recipient_id)
            .join(Household, Household.id == Recipient.household_id)
            .where(Confirmation.alert_id == alert_id)
            .order_by(Confirmation.id)
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]


def acks(db: Database, alert_id: int) -> list[tuple[str, str | None]]:
    with db.read() as session:
        rows = session.execute(
            select(Delivery.address, Delivery.notice)
            .where(
                Delivery.alert_id == alert_id,
                Delivery.notice.in_((NOTICE_ACK_SAFE, NOTICE_ACK_HELP)),
            )
            .order_by(Delivery.id)
        )
        return [(r[0], r[1]) for r in rows]


def test_one_reply_from_a_shared_phone_answers_for_both_households(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    with db.transaction() as session:
        grid = f.zone_tree(session)["G1"]
        f.household(session, grid=grid, code="PARENTS", phones=(SHARED,))
        f.household(session, grid=grid, code="SON", phones=("+8617411110002", SHARED))
        f.household(session, grid=grid, code="OTHER")
    alert_id = fa.issue(db, settings, zones=["V1"]).alert.id
    fa.mark_sent(db, alert_id)

    assert sms(client, settings, SHARED, "1", "SM1").status_code == 200
    assert states(db, alert_id) == {
        "PARENTS": RecipientState.confirmed,
        "SON": RecipientState.confirmed,
        "OTHER": RecipientState.pending,
    }
    by = f"sms:{SHARED}"
    assert sorted(answers(db, alert_id)) == [  # one reply's answers: in no particular order
        ("PARENTS", by, ConfirmedBy.member, True),
        ("SON", by, ConfirmedBy.member, True),
    ]
    assert acks(db, alert_id) == [(SHARED, NOTICE_ACK_SAFE)]  # one message, not two
    assert sms(client, settings, SHARED, "1", "SM2").status_code == 200
    assert sms(client, settings, "+8617411110002", "1", "SM3").status_code == 200
    assert acks(db, alert_id) == [(SHARED, NOTICE_ACK_SAFE)]  # both households were told

    # "2" from the shared phone: a help request for each household, one acknowledgement
    assert sms(client, settings, SHARED, "2", "SM4").status_code == 200
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(HelpRequest)) == 2
    assert set(states(db, alert_id).values()) >= {RecipientState.needs_help}
    assert [s for c, s in states(db, alert_id).items() if c != "OTHER"] == [
        RecipientState.needs_help
    ] * 2
    assert acks(db, alert_id)[1:] == [(SHARED, NOTICE_ACK_HELP)]

    listed = client.get(
        f"/api/v1/alerts/{alert_id}/recipients", headers=auth(role_keys[Role.officer])
    ).json()["items"]
    son = next(item for item in listed if item["household_code"] == "SON")
    assert [(c["answer"], c["confirmed_by"], c["by"]) for c in son["confirmations"]] == [
        ("safe", "member", by),
        ("safe", "member", by),
        ("safe", "member", "sms:+8617411110002"),
        ("needs_help", "member", by),
    ]


def proxies_village(db: Database) -> None:
    with db.transaction() as session:
        grid = f.zone_tree(session)["G1"]
        alone = f.household(session, grid=grid, code="ALONE", vulnerability=("elderly_alone",))
        bedridden = f.household(session, grid=grid, code="BED", vulnerability=("bedridden",))
        disabled = f.household(session, grid=grid, code="DISABLED", vulnerability=("disabled",))
        plain = f.household(session, grid=grid, code="PLAIN")
        for household in (alone, bedridden, disabled, plain):
            f.proxy(session, household=household, phone=PROXY)
        f.proxy(session, household=plain, phone=LISTENER, may_confirm=False, relation="邻居")


def open_visits(db: Database, alert_id: int) -> dict[str, str]:
    with db.read() as session:
        rows = session.execute(
            select(Household.code, VisitTask.reason)
            .join(Household, Household.id == VisitTask.household_id)
            .where(VisitTask.alert_id == alert_id, VisitTask.state == VisitState.open)
        )
        return {r[0]: r[1] for r in rows}


def test_a_proxy_confirms_but_lone_elderly_and_bedridden_households_still_get_a_visit(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    proxies_village(db)
    # yellow: no visit for vulnerable households at issue; no message went to the proxies
    alert_id = fa.issue(db, settings, zones=["V1"], level="yellow").alert.id
    fa.mark_sent(db, alert_id)

    assert sms(client, settings, LISTENER, "1", "SM1").status_code == 200
    listener = ("PLAIN", f"sms:{LISTENER}", ConfirmedBy.proxy, False)
    assert answers(db, alert_id) == [listener]  # kept, but a proxy to be told confirms nothing
    assert states(db, alert_id)["PLAIN"] == RecipientState.pending
    assert open_visits(db, alert_id) == {}
    assert sms(client, settings, PROXY, "收到", "SM2").status_code == 200
    assert states(db, alert_id) == {
        "ALONE": RecipientState.pending,
        "BED": RecipientState.pending,
        "DISABLED": RecipientState.confirmed,
        "PLAIN": RecipientState.confirmed,
    }
    by = f"sms:{PROXY}"
    assert sorted(answers(db, alert_id)[1:]) == [  # one reply's answers: in no particular order
        ("ALONE", by, ConfirmedBy.proxy, False),
        ("BED", by, ConfirmedBy.proxy, False),
        ("DISABLED", by, ConfirmedBy.proxy, True),
        ("PLAIN", by, ConfirmedBy.proxy, True),
    ]
    assert open_visits(db, alert_id) == {"ALONE": "proxy_confirmed", "BED": "proxy_confirmed"}
    assert acks(db, alert_id) == [(LISTENER, NOTICE_ACK_SAFE), (PROXY, NOTICE_ACK_SAFE)]
    assert sms(client, settings, PROXY, "1", "SM3").status_code == 200  # no second visit
    assert open_visits(db, alert_id) == {"ALONE": "proxy_confirmed", "BED": "proxy_confirmed"}

    officer = auth(role_keys[Role.officer])
    listed = client.get(f"/api/v1/alerts/{alert_id}/recipients", headers=officer).json()["items"]
    alone = next(item for item in listed if item["household_code"] == "ALONE")
    assert alone["confirmations"][0]["confirmed_by"] == "proxy"
    assert alone["confirmations"][0]["final"] is False
    users(db)
    login(client, "officer")
    page = client.get(f"/console/alerts/{alert_id}/households/ALONE")
    assert page.status_code == 200
    assert "代联系人" in page.text
    assert "否，仍需上门" in page.text

    # a neighbour who may not confirm is still heard when asking for help
    assert sms(client, settings, LISTENER, "2", "SM4").status_code == 200
    assert states(db, alert_id)["PLAIN"] == RecipientState.needs_help
    assert answers(db, alert_id)[-1] == ("PLAIN", f"sms:{LISTENER}", ConfirmedBy.proxy, True)


def test_a_policy_that_takes_every_proxy_answer_as_final(
    client: TestClient, db: Database, settings: Settings
) -> None:
    proxies_village(db)
    alert_id = fa.issue(db, settings, zones=["V1"]).alert.id
    with db.transaction() as session:
        alert = session.get_one(Alert, alert_id)
        session.execute(
            update(Alert)
            .where(Alert.id == alert_id)
            .values(policy={**alert.policy, "proxy_still_visit": []})
        )
    fa.mark_sent(db, alert_id)
    assert sms(client, settings, PROXY, "1", "SM1").status_code == 200
    assert set(states(db, alert_id).values()) == {RecipientState.confirmed}
    assert open_visits(db, alert_id) == {}


def test_a_proxys_key_press_in_a_call_counts_as_the_proxys(
    db: Database, settings: Settings
) -> None:
    proxies_village(db)
    alert_id = fa.issue(db, settings, zones=["V1"], level="yellow").alert.id
    with db.transaction() as session:
        calls = {}
        for code in ("ALONE", "DISABLED"):  # a call to the proxy for each household
            recipient = session.scalars(
                select(Recipient)
                .join(Household, Household.id == Recipient.household_id)
                .where(Recipient.alert_id == alert_id, Household.code == code)
            ).one()
            call = Delivery(
                alert_id=alert_id,
                recipient_id=recipient.id,
                channel="voice",
                address=PROXY,
                state=DeliveryState.sent,
            )
            session.add(call)
            session.flush()
            calls[code] = call.id
    for call_id in calls.values():
        assert confirm_by_key(
            db,
            medium="voice",
            delivery_id=call_id,
            answer=Answer.safe,
            digit="1",
            call_id=f"CA{call_id}",
        )
    assert sorted(answers(db, alert_id)) == [  # one key press's answers: in no particular order
        ("ALONE", f"call:{PROXY}", ConfirmedBy.proxy, False),
        ("DISABLED", f"call:{PROXY}", ConfirmedBy.proxy, True),
    ]
    assert states(db, alert_id)["ALONE"] == RecipientState.pending
    assert states(db, alert_id)["DISABLED"] == RecipientState.confirmed
    assert open_visits(db, alert_id) == {"ALONE": "proxy_confirmed"}
