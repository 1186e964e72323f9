"""Feed API: CAP 1.2 documents (read with a size cap) and batches of sensor readings."""

from __future__ import annotations

import redis
from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from broadcaster.alerts.authority import Issuer
from broadcaster.alerts.schemas import AlertOut
from broadcaster.api.deps import allow, get_db, get_redis, get_settings_dep
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.errors import BroadcasterError
from broadcaster.feeds.cap import CapError
from broadcaster.feeds.rules import load_rules
from broadcaster.feeds.schemas import CapResult, ReadingsIn, ReadingsResult
from broadcaster.flows.cap_ingest import Ingested, enqueue, ingest_document
from broadcaster.flows.readings import apply_readings
from broadcaster.settings import Settings
from channels.registry import registered

router = APIRouter(prefix="/feeds", tags=["feeds"])
feeders = allow(Role.feed, Role.admin)
CAP_MEDIA_TYPES = frozenset({"application/cap+xml", "application/xml", "text/xml"})
CAP_BODY = {
    "requestBody": {
        "required": True,
        "content": {t: {"schema": {"type": "string"}} for t in sorted(CAP_MEDIA_TYPES)},
    }
}


class TooLarge(CapError):
    status_code = 413
    code = "too_large"


class UnsupportedMedia(BroadcasterError):
    status_code = 415
    code = "unsupported_media_type"


def too_large(size: int | str, limit: int) -> TooLarge:
    return TooLarge(
        "document",
        f"文档过大：{size} 字节，上限 {limit} 字节 / "
        f"document too large: {size} bytes, limit {limit}",
    )


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it passes `limit` bytes (never read whole)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(declared, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(f"> {limit}", limit)
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/cap", response_model=CapResult, status_code=201, openapi_extra=CAP_BODY)
async def post_cap(
    request: Request,
    response: Response,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    redis_client: redis.Redis | None = Depends(get_redis),
    who: Principal = feeders,
) -> CapResult:
    """Take one CAP 1.2 `<alert>`: a new alert (201), or an Update/Cancel of one or a
    duplicate (200). A bad document is refused naming the element, and creates nothing."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in CAP_MEDIA_TYPES:
        raise UnsupportedMedia(
            f"需要 CAP XML / send the CAP XML as one of: {', '.join(sorted(CAP_MEDIA_TYPES))}",
            field="Content-Type",
        )
    data = await read_capped(request, settings.feeds.max_cap_bytes)
    issuer = Issuer.of(who)
    result = await run_in_threadpool(ingest_document, db, settings, data, who.actor, issuer)
    await run_in_threadpool(enqueue, settings, redis_client, result)
    if not result.created:
        response.status_code = 200
    return CapResult(
        action=result.action,
        alert=AlertOut.model_validate(result.alert),
        households_added=result.households_added,
        deliveries=result.channel_counts,
        withdrawn=result.withdrawn,
        tasks_closed=result.tasks_closed,
    )


@router.post("/readings", response_model=ReadingsResult)
def post_readings(
    body: ReadingsIn,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    redis_client: redis.Redis | None = Depends(get_redis),
    who: Principal = feeders,
) -> ReadingsResult:
    """Sensor readings: each is taken or rejected with its reason; crossing a threshold
    raises an alert, a higher level updates the open one."""
    rules = load_rules(settings.config_dir)
    with db.transaction() as session:
        applied = apply_readings(
            session,
            items=body.readings,
            rules=rules,
            actor=who.actor,
            settings=settings,
            available_channels=set(registered()),
            now=utcnow(),
        )
    for alert, counts in applied.sends:
        enqueue(settings, redis_client, Ingested("issued", alert, channel_counts=counts))
    rejected = sum(r.outcome in ("rejected", "error") for r in applied.results)
    return ReadingsResult(
        accepted=len(applied.results) - rejected, rejected=rejected, results=applied.results
    )
