"""Sensor readings: checked one by one, remembered per station, alerts raised by the rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from broadcaster.alerts.authority import RULES
from broadcaster.alerts.models import Alert, AlertSource, Level
from broadcaster.alerts.schemas import AlertIn
from broadcaster.auth.audit import Actor
from broadcaster.errors import BroadcasterError
from broadcaster.feeds import thresholds
from broadcaster.feeds.areas import households_of
from broadcaster.feeds.models import StationState
from broadcaster.feeds.outbound import own_message
from broadcaster.feeds.rules import Rules, SensorRule, Threshold
from broadcaster.feeds.schemas import Reading, ReadingResult
from broadcaster.feeds.wording import reading_wording
from broadcaster.flows import approval, updates
from broadcaster.flows import issuing as service
from broadcaster.flows.updates import OPEN_STATES, Revision
from broadcaster.registry.models import Zone
from broadcaster.settings import Settings

FUTURE_SLACK = dt.timedelta(minutes=10)


@dataclass
class Applied:
    """Outcomes in the order of the batch, and the sends to enqueue after commit."""

    results: list[ReadingResult]
    sends: list[tuple[Alert, dict[str, int]]] = field(default_factory=list)


def problem(reading: Reading, rules: Rules, now: dt.datetime) -> str | None:
    """Why a reading cannot be taken (Chinese / English), or None."""
    rule = rules.sensors.get((reading.station, reading.kind))
    if rule is None:
        if reading.station not in rules.stations:
            return f"未知测站 / unknown station {reading.station}"
        return (
            f"测站 {reading.station} 不测 {reading.kind} / station does not measure {reading.kind}"
        )
    if reading.unit.lower() != rule.unit.lower():
        return (
            f"单位不符：应为 {rule.unit} / unit mismatch: expected {rule.unit}, got {reading.unit}"
        )
    if reading.kind.startswith("rainfall") and reading.value < 0:
        return f"降雨量不能为负 / rainfall cannot be negative: {reading.value}"
    lo, hi = rule.plausible
    if not lo <= reading.value <= hi:
        return (
            f"数值超出合理范围 [{lo}, {hi}] / value outside the plausible range "
            f"[{lo}, {hi}]: {reading.value}"
        )
    if reading.observed_at > now + FUTURE_SLACK:
        return f"观测时间在未来 / observed in the future: {reading.observed_at.isoformat()}"
    return None


def apply_readings(
    session: Session,
    *,
    items: Sequence[dict[str, Any]],
    rules: Rules,
    actor: Actor,
    settings: Settings,
    available_channels: set[str],
    now: dt.datetime,
) -> Applied:
    """Every good reading counts, in the order observed; each bad one gets its reason."""
    results: list[ReadingResult | None] = [None] * len(items)
    good: list[tuple[int, Reading, SensorRule]] = []
    for index, raw in enumerate(items):
        try:
            reading = Reading.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "reading"
            results[index] = _rejected(index, raw, f"{where}: {first.get('msg', 'invalid')}")
            continue
        reason = problem(reading, rules, now)
        if reason:
            results[index] = _rejected(index, raw, reason)
            continue
        good.append((index, reading, rules.sensors[(reading.station, reading.kind)]))
    applied = Applied([])
    for station, kind in sorted({(r.station, r.kind) for _, r, _ in good}):
        station_state(session, station, kind)  # locked in one order: no deadlock between batches
    for index, reading, rule in sorted(good, key=lambda item: item[1].observed_at):
        context = Context(session, actor, settings, available_channels, now, applied)
        try:
            with session.begin_nested():
                results[index] = apply_one(context, index, reading, rule)
        except BroadcasterError as exc:
            results[index] = _result(index, reading, "error", reason=exc.message)
    applied.results = [r for r in results if r is not None]
    return applied


@dataclass(frozen=True)
class Context:
    session: Session
    actor: Actor
    settings: Settings
    available_channels: set[str]
    now: dt.datetime
    applied: Applied


def apply_one(ctx: Context, index: int, reading: Reading, rule: SensorRule) -> ReadingResult:
    state = station_state(ctx.session, reading.station, reading.kind)
    if state.last_observed_at is not None and reading.observed_at <= state.last_observed_at:
        return _result(index, reading, "late", reason="早于已收到的读数 / older than the last")
    state.last_value, state.last_observed_at = reading.value, reading.observed_at
    step = thresholds.step(rule, state.level, reading.value)
    if step.crossed is None:
        state.level = step.level
        return _result(index, reading, "recorded", level=step.level)
    if reading.observed_at + rule.expires <= ctx.now:  # a backlog: too old to warn anyone
        return _result(index, reading, "stale", reason="过旧，不发预警 / too old to warn")
    alert = _open_alert(ctx.session, state, ctx.now)
    if alert is not None and alert.level.rank >= step.crossed.level.rank:
        state.level = step.level
        return _result(index, reading, "already_alerted", level=step.level, alert=alert)
    if alert is not None:
        changed = _raise(ctx, alert, rule, step.crossed, reading)
        state.level = step.level
        ctx.applied.sends.append((changed.alert, changed.channel_counts or {}))
        return _result(index, reading, "update", level=step.level, alert=alert)
    if state.alerted_at is not None and reading.observed_at - state.alerted_at < rule.cooldown:
        return _result(index, reading, "cooldown", reason="冷却期内 / within the cooldown")
    issued = _issue(ctx, rule, step.crossed, reading)
    state.level, state.alert_id, state.alerted_at = step.level, issued.alert.id, reading.observed_at
    ctx.applied.sends.append((issued.alert, issued.channel_counts))
    return _result(index, reading, "alert", level=step.level, alert=issued.alert)


def station_state(session: Session, station: str, kind: str) -> StationState:
    """The station's row, locked; made on first sight (a racing maker wins, we re-read)."""
    query = (
        select(StationState)
        .where(StationState.station == station, StationState.kind == kind)
        .with_for_update()
    )
    state = session.scalar(query)
    if state is not None:
        return state
    try:
        with session.begin_nested():
            state = StationState(station=station, kind=kind)
            session.add(state)
            session.flush()
            return state
    except IntegrityError:
        found = session.scalar(query)
        assert found is not None
        return found


def _open_alert(session: Session, state: StationState, now: dt.datetime) -> Alert | None:
    alert = session.get(Alert, state.alert_id) if state.alert_id else None
    if alert is None or alert.state not in OPEN_STATES:
        return None
    if alert.expires_at is not None and alert.expires_at <= now:
        return None
    return alert


def _text(ctx: Context, rule: SensorRule, threshold: Threshold, reading: Reading) -> Revision:
    words = reading_wording(
        rule,
        threshold,
        reading.value,
        reading.observed_at,
        templates_dir=ctx.settings.config_dir / "templates",
        language=ctx.settings.language,
        zone=ctx.settings.zone,
    )
    return Revision(
        headline=words.headline,
        body=words.body,
        instruction=words.instruction,
        level=threshold.level,
        hazard=rule.hazard,
        expires_at=reading.observed_at + rule.expires,
        zone_codes=rule.zones,
    )


def _issue(
    ctx: Context, rule: SensorRule, threshold: Threshold, reading: Reading
) -> service.Issued:
    text = _text(ctx, rule, threshold, reading)
    body = AlertIn(
        hazard=text.hazard,
        level=text.level,
        headline=text.headline[:200],
        body=text.body[:2000],
        instruction=text.instruction[:1000],
        zones=list(rule.zones),
        expires_at=text.expires_at,
    )
    issued = service.issue_alert(
        ctx.session,
        body=body,
        actor=ctx.actor,
        source=AlertSource.feed,
        settings=ctx.settings,
        available_channels=ctx.available_channels,
        issuer=RULES,
    )
    approval.flag_if_empty(issued.alert)
    return issued


def _raise(
    ctx: Context, alert: Alert, rule: SensorRule, threshold: Threshold, reading: Reading
) -> updates.Changed:
    """A higher level while the alert is open: an Update of it, never a second alert."""
    zones = list(ctx.session.scalars(select(Zone).where(Zone.code.in_(rule.zones))))
    return updates.update_alert(
        ctx.session,
        alert_id=alert.id,
        revision=_text(ctx, rule, threshold, reading),
        households=[households_of(zones)] if zones else [],
        message=own_message(ctx.session, alert, ctx.settings, ctx.now),
        actor=ctx.actor,
        issuer=RULES,
        settings=ctx.settings,
        available_channels=ctx.available_channels,
    )


def _rejected(index: int, raw: Any, reason: str) -> ReadingResult:
    station = raw.get("station") if isinstance(raw, dict) else None
    kind = raw.get("kind") if isinstance(raw, dict) else None
    return ReadingResult(
        index=index,
        station=station if isinstance(station, str) else None,
        kind=kind if isinstance(kind, str) else None,
        outcome="rejected",
        reason=reason,
    )


def _result(
    index: int,
    reading: Reading,
    outcome: Any,
    *,
    reason: str = "",
    level: Level | None = None,
    alert: Alert | None = None,
) -> ReadingResult:
    return ReadingResult(
        index=index,
        station=reading.station,
        kind=reading.kind,
        outcome=outcome,
        reason=reason,
        level=level.value if level else None,
        alert_id=alert.id if alert else None,
    )
