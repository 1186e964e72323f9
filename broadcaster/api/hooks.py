"""Provider webhooks at /hooks/{provider}/{kind}: the provider's channel verifies and parses
each request; its receipts, replies and key presses are applied through the flows."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from broadcaster.confirm.replies import key_answer
from broadcaster.delivery.batcher import GroupCommit
from broadcaster.delivery.channel_config import build_channel
from broadcaster.delivery.statuses import StatusReport
from broadcaster.errors import Forbidden, NotFound, ValidationFailed
from broadcaster.flows.calls import call_script, confirm_by_key
from broadcaster.flows.receipts import status_report
from broadcaster.flows.replies import Inbound
from broadcaster.settings import Settings
from channels.base import Channel
from channels.hooks import HookAnswer, HookRejected, HookRequest
from channels.registry import ChannelClass, hook_route

log = logging.getLogger(__name__)
router = APIRouter(prefix="/hooks", tags=["hooks"])
URLENCODED, MULTIPART = "application/x-www-form-urlencoded", "multipart/form-data"
MAX_FIELDS = 1000


def hook_channel(app: FastAPI, cls: ChannelClass) -> Channel[Any]:
    """The app's instance of a provider's channel (built once, never opened: it only reads
    webhooks), from the same settings the workers send with."""
    cache: dict[str, Channel[Any]] = app.state.hook_channels
    channel = cache.get(cls.name)
    if type(channel) is not cls:
        channel = cache[cls.name] = build_channel(cls.name, app.state.settings, drill=False)
    assert channel is not None
    return channel


async def hook_request(request: Request, settings: Settings, provider: str) -> HookRequest:
    """The request as a channel sees it, with the public URL the provider called and signed."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    form: dict[str, str] = {}
    if content_type.startswith(URLENCODED):  # as starlette reads it, at a fraction of the cost
        try:
            form = dict(
                parse_qsl(body.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
            )
        except ValueError as exc:
            raise ValidationFailed(f"表单字段过多 / over {MAX_FIELDS} form fields") from exc
    elif content_type.startswith(MULTIPART):
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    scope = request.scope
    url = settings.public_url(scope["path"])
    if scope["query_string"]:
        url += "?" + scope["query_string"].decode("latin-1")
    return HookRequest(
        url=url,
        base=settings.public_url(f"/hooks/{provider}"),
        query=request.query_params,
        headers=request.headers,
        form=form,
        body=body,
        client=request.client.host if request.client else None,
    )


PATH_PARAMETERS = [
    {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": d}
    for name, d in (
        ("provider", "the provider's name, as its channel declares it"),
        ("kind", "one of the webhooks the provider declares (may contain /)"),
    )
]


@router.post("/{provider}/{kind:path}", openapi_extra={"parameters": PATH_PARAMETERS})
async def provider_hook(request: Request) -> Response:
    """A provider's callback: 404 for a hook no installed provider declares, 403 when its
    channel does not recognise the request as the provider's, 422 when it cannot parse it."""
    # path parameters read as they are: FastAPI's validation of them is a hot-path cost
    provider, kind = request.path_params["provider"], request.path_params["kind"]
    route = hook_route(provider, kind)
    if route is None:
        raise NotFound(f"未知回调 / unknown webhook: {provider}/{kind}")
    owner, hook = route
    app: FastAPI = request.app
    settings: Settings = app.state.settings
    channel = hook_channel(app, owner)
    incoming = await hook_request(request, settings, provider)
    if not channel.verify(incoming):
        log.warning("forged or mis-signed %s callback to %s", provider, request.url.path)
        raise Forbidden("签名无效 / invalid signature")
    try:
        answer = hook.parse(incoming)
    except HookRejected as exc:
        raise ValidationFailed(exc.message, field=exc.field) from exc
    await apply(app, owner.medium, answer)
    body, turn = answer.body, answer.call
    if turn is not None:
        script = await run_in_threadpool(
            call_script,
            app.state.db,
            settings,
            medium=owner.medium,
            delivery_id=turn.delivery_id,
            audio=getattr(app.state, "voice_audio", None),
        )
        body = channel.call_document(turn, script, incoming)
    return Response(body, media_type=answer.media_type)


async def apply(app: FastAPI, medium: str, answer: HookAnswer) -> None:
    """Receipts and replies through the app's group commits (answered once committed; a push's
    many in one batch), key presses as confirmations of the medium's calls."""
    if answer.receipts:
        reports: GroupCommit[StatusReport] = app.state.status_reports
        await reports.submit_many([status_report(r) for r in answer.receipts])
    if answer.replies:
        replies: GroupCommit[Inbound] = app.state.inbound_replies
        await replies.submit_many(
            [Inbound(r.provider_id, r.sender, r.body, medium) for r in answer.replies]
        )
    for key in answer.keys:
        found = key_answer(key.digit)
        if found is not None:
            await run_in_threadpool(
                confirm_by_key,
                app.state.db,
                medium=medium,
                delivery_id=key.delivery_id,
                answer=found,
                digit=key.digit,
                call_id=key.call_id,
                settings=app.state.settings,
                connection=app.state.redis,
            )
