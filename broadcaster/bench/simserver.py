"""The provider simulator in a process of its own, plus /bench/marks (when the first and last
messages were created, how many callbacks went out; `?provider=aliyun`: Aliyun SMS's) and
/bench/numbers, for benchmarks to poll."""

from __future__ import annotations

import argparse
import time
from collections import Counter

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from broadcaster.sim import SimConfig, create_standalone_app
from broadcaster.sim.aliyun_sms import AliyunSmsApi
from broadcaster.sim.aliyun_sms_config import AliyunSmsSimConfig
from broadcaster.sim.state import SimState


def marks(state: SimState) -> dict[str, object]:
    """O(1) figures of the simulator's store: messages, first/last creation, callbacks."""
    store = state.store
    messages = store.messages
    first = next(iter(messages.values()), None)
    last = next(reversed(messages.values()), None)
    counters = store.counters
    return {
        "now": time.time(),
        "messages": len(messages),
        "first_created": first.created if first else None,
        "last_created": last.created if last else None,
        "first_body": first.body if first else None,
        "requests": counters["requests"],
        "responses_201": counters["responses_201"],
        "callbacks_sent": counters["callbacks_sent"],
        "callbacks_failed": counters["callbacks_failed"],
        "callback_retries": counters["callback_retries"],
        "callback_5xx": counters["callback_5xx"],
        "pending": state.dispatcher.pending(),
        "by_status": {k: v for k, v in store.status_counts.items() if v},
    }


def aliyun_marks(api: AliyunSmsApi) -> dict[str, object]:
    """The same figures of the simulated Aliyun SMS account: numbers accepted (a batch's each),
    first and last accepted, the first one's request fields."""
    api.sync()
    sms = api.account.sms
    first = sms[0] if sms else None
    last = sms[-1] if sms else None
    return {
        "now": time.time(),
        "messages": len(sms),
        "first_created": first.send_time.timestamp() if first else None,
        "last_created": last.send_time.timestamp() if last else None,
        "first_body": first.fields if first else None,
        "refused": len(api.account.refused),
    }


def aliyun_duplicates(api: AliyunSmsApi) -> dict[str, int]:
    """Numbers beyond the first of one text to one number, and the requests (BizIds)."""
    api.sync()
    sms = list(api.account.sms)
    texts = {(s.phone_number, s.text) for s in sms}
    return {"duplicates": len(sms) - len(texts), "requests": len({s.biz_id for s in sms})}


def numbers(state: SimState) -> dict[str, int]:
    """Messages the simulator accepted, per To number (duplicates show as counts above 1)."""
    counts: Counter[str] = Counter(message.to for message in state.store.messages.values())
    return dict(counts)


def create_bench_sim(config: SimConfig) -> Starlette:
    """The standalone simulator (at /sim) with the marks route next to it."""
    sim = create_standalone_app(config)
    state: SimState = sim.state.sim
    aliyun: AliyunSmsApi = sim.state.aliyun_sms

    async def bench_marks(request: Request) -> JSONResponse:
        if request.query_params.get("provider") == "aliyun":
            return JSONResponse(aliyun_marks(aliyun))
        return JSONResponse(marks(state))

    async def bench_duplicates(request: Request) -> JSONResponse:
        """Messages beyond the first of one text to one number (texts are personal: a proxy
        gets one per person it answers for). One pass over the store: call it once."""
        if request.query_params.get("provider") == "aliyun":
            return JSONResponse(aliyun_duplicates(aliyun))
        messages = list(state.store.messages.values())
        texts = {(m.to, m.body) for m in messages}
        return JSONResponse({"duplicates": len(messages) - len(texts)})

    async def bench_numbers(_request: Request) -> JSONResponse:
        return JSONResponse({"numbers": numbers(state)})

    app = Starlette(
        routes=[
            Route("/bench/marks", bench_marks),
            Route("/bench/duplicates", bench_duplicates),
            Route("/bench/numbers", bench_numbers),
            Mount("/", app=sim),
        ],
        lifespan=sim.router.lifespan_context,
    )
    app.state.sim = state
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--callback-delay-ms", type=float, default=0)
    parser.add_argument("--callback-concurrency", type=int, default=64)
    parser.add_argument("--no-callbacks", action="store_true")
    parser.add_argument("--aliyun-key", nargs=2, metavar=("ID", "SECRET"), help="Aliyun SMS")
    args = parser.parse_args()
    # Aliyun SMS: the key given, no per-number limit (the district's shared phones get a text
    # per household) and no pushes (the bench measures the hand-off)
    aliyun = AliyunSmsSimConfig(
        access_keys=dict([args.aliyun_key]) if args.aliyun_key else {},
        per_minute=1_000_000,
        per_hour=1_000_000,
        per_day=1_000_000,
        max_recorded=2_000_000,
    )
    config = SimConfig(
        accounts={args.account: args.token},
        callbacks=not args.no_callbacks,
        callback_delay_ms=args.callback_delay_ms,
        callback_concurrency=args.callback_concurrency,
        callback_queue_size=4_000_000,  # never push back on creates: a provider would not
        max_recorded=2_000_000,
        max_recorded_requests=0,
        max_recorded_callbacks=0,
        aliyun_sms=aliyun,
    )
    uvicorn.run(
        create_bench_sim(config),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
