"""Voice webhooks on a real database: TwiML per delivery, keys that confirm, call statuses,
and forged signatures that change nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.auth.models import AuditEvent
from broadcaster.confirm.models import Answer, Confirmation, ConfirmVia, HelpRequest
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.settings import Settings
from tests.integration.voice_support import (
    GATHER,
    STATUS,
    TWIML,
    VoiceRow,
    call_params,
    mark_called,
    plan_calls,
    signed,
    snapshot,
    voice_app,
)


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    with TestClient(voice_app(settings, db)) as test_client:
        yield test_client


def post(
    client: TestClient,
    settings: Settings,
    path: str,
    query: str,
    params: dict[str, str],
    *,
    token: str | None = None,
    signed_query: str | None = None,
) -> tuple[int, str]:
    url = f"{settings.public_base_url}{path}?{signed_query or query}"
    headers = {"X-Twilio-Signature": signed(settings, url, params, token)}
    answer = client.post(f"{path}?{query}", data=params, headers=headers)
    return answer.status_code, answer.text


def called(db: Database, settings: Settings, **kw: object) -> tuple[list[VoiceRow], dict[int, str]]:
    _alert_id, rows = plan_calls(db, settings, **kw)  # type: ignore[arg-type]
    return rows, mark_called(db, rows)


def delivery(db: Database, delivery_id: int) -> Delivery:
    with db.read() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        session.expunge(row)
        return row


def recipient_state(db: Database, recipient_id: int) -> RecipientState:
    with db.read() as session:
        row = session.get(Recipient, recipient_id)
        assert row is not None
        return row.state


def test_twiml_speaks_the_alert_and_gathers_for_this_delivery(
    client: TestClient, db: Database, settings: Settings
) -> None:
    rows, sids = called(db, settings, languages={})
    row = rows[0]
    params = call_params(sids[row.delivery_id], row.phone, AnsweredBy="human")
    status, text = post(client, settings, TWIML, f"d={row.delivery_id}", params)
    assert status == 200, text
    root = ET.fromstring(text)
    assert [child.tag for child in root] == ["Say", "Gather", "Redirect"]
    script = root[0].text or ""
    assert root[0].get("language") == "cmn-CN"
    assert "暴雨红色预警" in script
    assert "请立即转移到安全地带" in script
    assert "http" not in script
    assert "【" not in script
    base = settings.public_base_url
    assert root[1].get("action") == f"{base}{GATHER}?d={row.delivery_id}&attempt=1"
    assert root[2].text == f"{base}{TWIML}?d={row.delivery_id}&attempt=2"
    assert delivery(db, row.delivery_id).state == DeliveryState.sent


def test_drills_and_english_speakers(client: TestClient, db: Database, settings: Settings) -> None:
    phones = ["+8613900000001", "+8613900000002"]
    rows, sids = called(db, settings, phones=phones, languages={phones[1]: "en"}, status="exercise")
    texts = {}
    for row in rows:
        params = call_params(sids[row.delivery_id], row.phone)
        status, text = post(client, settings, TWIML, f"d={row.delivery_id}&attempt=2", params)
        assert status == 200
        root = ET.fromstring(text)
        assert [child.tag for child in root] == ["Say", "Gather", "Say", "Hangup"]
        texts[row.phone] = (root[0].text or "", root[0].get("language"))
    assert texts[phones[0]][0].startswith("这是一次演练。")
    assert texts[phones[1]] == (texts[phones[1]][0], "en-US")
    assert texts[phones[1]][0].startswith("This is a drill.")


def test_play_mode_uses_the_audio_the_app_provides(db: Database, settings: Settings) -> None:
    voice = settings.voice.model_copy(update={"speak_mode": "play"})
    playing = settings.model_copy(update={"voice": voice})
    app = voice_app(playing, db)
    asked: list[tuple[int, str]] = []

    def audio(alert: Alert, language: str) -> str:
        asked.append((alert.id, language))
        return f"https://files.example.org/alerts/{alert.id}.mp3"

    app.state.voice_audio = audio
    rows, sids = called(db, settings, households=1)
    with TestClient(app) as client:
        params = call_params(sids[rows[0].delivery_id], rows[0].phone)
        status, text = post(client, playing, TWIML, f"d={rows[0].delivery_id}", params)
    assert status == 200
    root = ET.fromstring(text)
    assert root[0].tag == "Play"
    assert root[0].text == f"https://files.example.org/alerts/{asked[0][0]}.mp3"
    assert asked[0][1] == "zh-CN"


def test_a_machine_is_hung_up_on_and_the_call_fails(
    client: TestClient, db: Database, settings: Settings
) -> None:
    rows, sids = called(db, settings, households=1)
    row = rows[0]
    params = call_params(sids[row.delivery_id], row.phone, AnsweredBy="machine_start")
    status, text = post(client, settings, TWIML, f"d={row.delivery_id}", params)
    assert status == 200
    assert [child.tag for child in ET.fromstring(text)] == ["Hangup"]
    stored = delivery(db, row.delivery_id)
    assert (stored.state, stored.error_code) == (DeliveryState.failed, "machine")


def press(
    client: TestClient, settings: Settings, row: VoiceRow, sid: str, digit: str, attempt: int = 1
) -> ET.Element:
    params = call_params(sid, row.phone, Digits=digit, FinishedOnKey="")
    status, text = post(client, settings, GATHER, f"d={row.delivery_id}&attempt={attempt}", params)
    assert status == 200, text
    return ET.fromstring(text)


def confirmations(db: Database) -> list[Confirmation]:
    with db.read() as session:
        found = list(session.scalars(select(Confirmation).order_by(Confirmation.id)))
        session.expunge_all()
    return found


def test_key_1_confirms_the_household_once_even_when_repeated(
    client: TestClient, db: Database, settings: Settings
) -> None:
    rows, sids = called(db, settings)
    row, other = rows
    for _ in range(3):  # the provider retries the same request
        reply = press(client, settings, row, sids[row.delivery_id], "1")
        assert [child.tag for child in reply] == ["Say", "Hangup"]
    assert recipient_state(db, row.recipient_id) == RecipientState.confirmed
    assert recipient_state(db, other.recipient_id) == RecipientState.pending
    [confirmation] = confirmations(db)
    assert (confirmation.via, confirmation.answer) == (ConfirmVia.keypress, Answer.safe)
    assert (confirmation.by, confirmation.person_id) == (f"call:{row.phone}", row.person_id)
    with db.read() as session:
        audits = session.scalar(
            select(func.count()).where(AuditEvent.action == "household.confirm")
        )
    assert audits == 1
    # a later "needs help" still moves the household forward; a late "1" does not undo it
    press(client, settings, row, sids[row.delivery_id], "2", attempt=2)
    press(client, settings, row, "CA" + "e" * 32, "1")
    assert recipient_state(db, row.recipient_id) == RecipientState.needs_help


def test_key_2_asks_for_help(client: TestClient, db: Database, settings: Settings) -> None:
    rows, sids = called(db, settings, households=1)
    row = rows[0]
    reply = press(client, settings, row, sids[row.delivery_id], "2")
    assert "已通知值班人员" in (reply[0].text or "")
    assert recipient_state(db, row.recipient_id) == RecipientState.needs_help
    with db.read() as session:
        requests = list(session.scalars(select(HelpRequest)))
    assert [r.recipient_id for r in requests] == [row.recipient_id]
    assert [c.answer for c in confirmations(db)] == [Answer.needs_help]


def test_key_9_replays_and_other_keys_prompt_again(
    client: TestClient, db: Database, settings: Settings
) -> None:
    rows, sids = called(db, settings, households=1)
    row, sid = rows[0], sids[rows[0].delivery_id]
    base = settings.public_base_url
    replay = press(client, settings, row, sid, "9")
    assert [child.tag for child in replay] == ["Redirect"]
    assert replay[0].text == f"{base}{TWIML}?d={row.delivery_id}&attempt=2"
    again = press(client, settings, row, sid, "7")
    assert again[0].tag == "Gather"
    assert again[0].get("action") == f"{base}{GATHER}?d={row.delivery_id}&attempt=2"
    done = press(client, settings, row, sid, "7", attempt=2)
    assert [child.tag for child in done] == ["Say", "Hangup"]
    assert confirmations(db) == []
    assert recipient_state(db, row.recipient_id) == RecipientState.pending


def status_of(
    client: TestClient, settings: Settings, row: VoiceRow, sid: str, status: str, **extra: str
) -> None:
    params = call_params(sid, row.phone, status, **extra)
    if not status:
        del params["CallStatus"]
    code, text = post(client, settings, STATUS, f"d={row.delivery_id}", params)
    assert code == 200, text


def test_status_callbacks_only_move_forward(
    client: TestClient, db: Database, settings: Settings
) -> None:
    phones = [f"+861390000000{n}" for n in range(6)]
    rows, sids = called(db, settings, phones=phones)
    human, busy, unanswered, machine, amd, other_sid = rows
    for row, sequence in (
        (human, [("initiated", {}), ("completed", {"AnsweredBy": "human"}), ("ringing", {})]),
        (busy, [("ringing", {}), ("busy", {}), ("completed", {})]),
        (unanswered, [("no-answer", {})]),
        (machine, [("in-progress", {}), ("completed", {"AnsweredBy": "machine_start"})]),
        (amd, [("in-progress", {}), ("", {"AnsweredBy": "machine_end_beep"}), ("completed", {})]),
    ):
        for status, extra in sequence:
            status_of(client, settings, row, sids[row.delivery_id], status, **extra)
    status_of(client, settings, other_sid, "CA" + "f" * 32, "completed")  # not this call
    expected = {
        human.delivery_id: (DeliveryState.delivered, None),
        busy.delivery_id: (DeliveryState.failed, "busy"),
        unanswered.delivery_id: (DeliveryState.failed, "no-answer"),
        machine.delivery_id: (DeliveryState.failed, "machine"),
        amd.delivery_id: (DeliveryState.failed, "machine"),
        other_sid.delivery_id: (DeliveryState.sent, None),
    }
    for delivery_id, (state, code) in expected.items():
        stored = delivery(db, delivery_id)
        assert (stored.state, stored.error_code) == (state, code), delivery_id
    assert recipient_state(db, human.recipient_id) == RecipientState.reached
    assert recipient_state(db, busy.recipient_id) == RecipientState.pending


@pytest.mark.parametrize("path", [TWIML, GATHER, STATUS])
def test_forged_requests_are_403_and_change_nothing(
    client: TestClient, db: Database, settings: Settings, path: str
) -> None:
    rows, sids = called(db, settings)
    row = rows[0]
    base = call_params(sids[row.delivery_id], row.phone, "completed", Digits="2")
    base["AnsweredBy"] = "machine_start"
    before = snapshot(db)
    query = f"d={row.delivery_id}&attempt=1"
    url = f"{settings.public_base_url}{path}?{query}"
    attempts = [
        ({"X-Twilio-Signature": signed(settings, url, base, token="wrong-token")}, base),
        ({"X-Twilio-Signature": signed(settings, url, base)}, {**base, "Digits": "1"}),
        ({"X-Twilio-Signature": signed(settings, url.replace("d=", "d=9"), base)}, base),
        ({"X-Twilio-Signature": signed(settings, url + "&attempt=2", base)}, base),
        ({}, base),
        ({"X-Twilio-Signature": "not base64 at all"}, base),
    ]
    for headers, params in attempts:
        answer = client.post(f"{path}?{query}", data=params, headers=headers)
        assert answer.status_code == 403, answer.text
    assert snapshot(db) == before


def test_signed_requests_without_a_delivery_are_refused_or_hung_up(
    client: TestClient, db: Database, settings: Settings
) -> None:
    params = call_params("CA" + "1" * 32, "+8613900000009", Digits="1")
    for path in (TWIML, GATHER, STATUS):
        code, _text = post(client, settings, path, "attempt=1", params)
        assert code == 422
    for path in (TWIML, GATHER):
        code, text = post(client, settings, path, "d=424242", params)
        assert code == 200
        assert [child.tag for child in ET.fromstring(text)] == ["Hangup"]
    assert confirmations(db) == []
