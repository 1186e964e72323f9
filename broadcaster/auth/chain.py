"""The audit log's hash chain: rows sealed with their predecessor's hash at commit; checking."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect, select, text
from sqlalchemy.orm import Session

from broadcaster.auth.models import AuditEvent

GENESIS = "0" * 64  # the prev_hash of the first row (seq 1)
PENDING = "audit_unsealed"  # session.info key: events recorded, not yet sealed
# Appends on PostgreSQL are serialised by this transaction-scoped advisory lock, taken just
# before commit (after every other statement), so it is held only for the commit itself.
PG_LOCK_KEY = 0x4175646974  # "Audit"


def canonical_time(at: dt.datetime) -> str:
    stamp = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(
    *,
    seq: int,
    prev_hash: str,
    at: dt.datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    source_ip: str | None,
    detail: Any,
) -> str:
    """SHA-256 of a row's content and its predecessor's hash (chain format 1)."""
    body = json.loads(json.dumps(detail if detail is not None else {}))  # as stored
    text_ = json.dumps(
        [
            1,
            seq,
            prev_hash,
            canonical_time(at),
            actor,
            action,
            object_type,
            object_id,
            source_ip,
            body,
        ],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(text_.encode()).hexdigest()


def hash_of(row: AuditEvent, seq: int, prev_hash: str) -> str:
    return row_hash(
        seq=seq,
        prev_hash=prev_hash,
        at=row.at,
        actor=row.actor,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        source_ip=row.source_ip,
        detail=row.detail,
    )


def mark_unsealed(session: Session, row: AuditEvent) -> None:
    """Remember a recorded event so the commit seals it."""
    session.info.setdefault(PENDING, []).append(row)


@event.listens_for(Session, "before_commit")
def _seal(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: sealed with the whole transaction
    rows: list[AuditEvent] = session.info.pop(PENDING, [])
    if not rows:
        return
    session.flush()  # every other write first: the lock below is the transaction's last
    rows = [r for r in rows if inspect(r).persistent]
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash)
        .where(AuditEvent.seq.is_not(None))
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    seq: int = (last[0] or 0) if last else 0
    prev: str = (last[1] or GENESIS) if last else GENESIS
    for row in sorted(rows, key=lambda r: r.id):
        seq += 1
        row.seq, row.prev_hash = seq, prev
        row.hash = prev = hash_of(row, seq, prev)
    session.flush()


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, _previous: Any) -> None:
    if not session.in_transaction():
        session.info.pop(PENDING, None)


@dataclass(frozen=True)
class Problem:
    """One break in the chain, naming the row (by id) where it shows."""

    row_id: int | None
    seq: int | None
    kind: str  # edited | missing | unsealed | relinked
    text: str


@dataclass(frozen=True)
class Verdict:
    rows: int
    head_seq: int
    head_hash: str
    problems: list[Problem]


def verify(session: Session, *, batch: int = 2000) -> Verdict:
    """Walk the chain in order; report every edited, missing, re-linked or unsealed row."""
    problems: list[Problem] = []
    unsealed = session.scalars(
        select(AuditEvent.id).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id)
    )
    problems += [
        Problem(i, None, "unsealed", f"row id {i} has no chain position (written around the log)")
        for i in unsealed
    ]
    expected_seq, prev_hash, prev_id, rows = 1, GENESIS, None, 0
    for row in _in_order(session, batch):
        rows += 1
        assert row.seq is not None
        if row.seq != expected_seq:
            missing = (
                f"seq {expected_seq}"
                if row.seq == expected_seq + 1
                else f"seq {expected_seq}–{row.seq - 1}"
            )
            after = f"after row id {prev_id}" if prev_id is not None else "at the start"
            problems.append(
                Problem(
                    row.id,
                    row.seq,
                    "missing",
                    f"gap: {missing} deleted ({after}, before row id {row.id})",
                )
            )
        elif row.prev_hash != prev_hash:
            problems.append(
                Problem(
                    row.id,
                    row.seq,
                    "relinked",
                    f"row id {row.id} (seq {row.seq}) does not link to row id {prev_id}",
                )
            )
        if row.hash != hash_of(row, row.seq, row.prev_hash or ""):
            problems.append(
                Problem(
                    row.id,
                    row.seq,
                    "edited",
                    f"row id {row.id} (seq {row.seq}) was edited: content does not match its hash",
                )
            )
        expected_seq, prev_hash, prev_id = row.seq + 1, row.hash or "", row.id
    head = expected_seq - 1
    return Verdict(rows, head, prev_hash if rows else GENESIS, problems)


def _in_order(session: Session, batch: int) -> Iterator[AuditEvent]:
    after = 0
    while True:
        chunk = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq > after)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
        )
        if not chunk:
            return
        yield from chunk
        session.expunge_all()
        after = chunk[-1].seq or after
