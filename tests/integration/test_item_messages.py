"""Send items say what they carry (kind, hazard, level, values), so template-only providers
can send the approved template that says it."""

from __future__ import annotations

from sqlalchemy import select

from broadcaster.db.database import Database
from broadcaster.delivery.items import ItemContext
from broadcaster.delivery.ledger import Claimed
from broadcaster.delivery.models import Delivery
from broadcaster.flows.sending import build_items
from broadcaster.settings import Settings
from channels.templated import book_path, load_book
from tests.factories import alerts as fa
from tests.factories import registry as f


def claimed_of(db: Database, alert_id: int, notice: str | None = None) -> list[Claimed]:
    with db.transaction() as session:
        rows = session.scalars(select(Delivery).where(Delivery.alert_id == alert_id)).all()
        return [
            Claimed(
                id=d.id,
                alert_id=alert_id,
                recipient_id=d.recipient_id,
                person_id=d.person_id,
                group_id=d.group_id,
                loudspeaker_id=d.loudspeaker_id,
                address=d.address,
                priority=d.priority,
                notice=notice,
            )
            for d in rows
        ]


def test_sms_items_carry_the_alert_message_with_the_personal_token(
    db: Database, settings: Settings
) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(3):
            f.household(session, grid=zones["G1"])
    issued = fa.issue(db, settings, zones=["V1"], hazard="flood", level="orange")
    claimed = claimed_of(db, issued.alert.id)
    with db.transaction() as session:
        ctx = ItemContext(settings=settings, alert=issued.alert, channel="sms")
        items = build_items(session, ctx, claimed)
    assert len(items) == len(claimed) >= 3
    book = load_book(book_path(settings.config_dir, "sms_aliyun"), "https://jz.example.cn")
    tokens = set()
    for item in items:
        assert item.message is not None
        assert (item.message.kind, item.message.hazard, item.message.level) == (
            "alert",
            "flood",
            "orange",
        )
        assert item.message.values["headline"] == "暴雨红色预警"
        assert item.message.values["token"] == item.extra["token"]
        assert item.body.endswith(item.message.values["link"])
        filled = book.fill(item.message)
        assert filled.text.endswith(f"/c/{item.extra['token']}")
        assert "橙色" in filled.text
        tokens.add(item.message.values["token"])
    assert len(tokens) == len(items)  # one personal token per person


def test_notices_carry_their_kind(db: Database, settings: Settings) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        f.household(session, grid=zones["G1"])
    issued = fa.issue(db, settings, zones=["V1"])
    for notice in ("ack_safe", "ack_help", "all_clear", "cancel", "released"):
        with db.transaction() as session:
            ctx = ItemContext(settings=settings, alert=issued.alert, channel="sms")
            items = build_items(session, ctx, claimed_of(db, issued.alert.id, notice))
        assert {item.message.kind for item in items if item.message} == {notice}
