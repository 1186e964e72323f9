"""The baselines of `bench fanout`, against the same simulator in the same run: the raw limit
of the provider measured (Twilio's Messages API, or Aliyun SMS sent as our fan-out sent it,
single or batched) and, for Twilio, the naive RQ-job-per-message sender; and the settings
that point the stack at the measured provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from broadcaster.bench import procs as p
from broadcaster.bench.naive import run_naive
from broadcaster.bench.raw import run_raw
from broadcaster.bench.raw_aliyun import run_raw_aliyun
from broadcaster.bench.watch import Sim

if TYPE_CHECKING:
    from broadcaster.bench.fanout import FanoutOptions

Say = Callable[[str], None]
NEVER_SECONDS = "3600"  # status look-ups wait this long: the hand-off is measured alone


def provider_settings(
    provider: str, sim_url: str, rate_per_second: float, batch: int
) -> dict[str, str]:
    """BROADCASTER_* settings sending SMS through `provider` at the simulator (Twilio: none
    beyond the stack's). Aliyun: the simulator's key, our rate limit, no per-number limit
    (the district's shared phones get a text per household), SendBatchSms when `batch`."""
    if provider != "aliyun":
        return {}
    options = "BROADCASTER_CHANNEL_OPTIONS__"
    key_id, secret = p.ALIYUN_KEY
    return {
        "BROADCASTER_MEDIA": json.dumps({"sms": ["aliyun"]}),
        f"{options}ALIYUN__ACCESS_KEY_ID": key_id,
        f"{options}ALIYUN__ACCESS_KEY_SECRET": secret,
        f"{options}SMS_ALIYUN__ENDPOINT": f"{sim_url}/sim/dysmsapi",
        f"{options}SMS_ALIYUN__RATE_PER_SECOND": str(rate_per_second),
        f"{options}SMS_ALIYUN__PER_MINUTE": "0",
        f"{options}SMS_ALIYUN__PER_HOUR": "0",
        f"{options}SMS_ALIYUN__BATCH": "true" if batch else "false",
        f"{options}SMS_ALIYUN__BATCH_SIZE": str(batch or 100),
        "BROADCASTER_DELIVERY__STATUS_LOOKUP_AFTER_SECONDS": NEVER_SECONDS,
    }


def baselines(
    o: FanoutOptions,
    processes: p.Processes,
    sim: Sim,
    redis_url: str,
    prefix: str,
    sample: Any,
    ours: dict[str, Any],
    say: Say,
) -> dict[str, Any]:
    """The raw limit (and for Twilio the naive baseline) against the same simulator, and the
    ratios; `sample` is our first message (Twilio: its body; Aliyun: its request fields)."""
    count = int(ours["handed_off"]) or int(ours["deliveries"])
    ours_rate = ours.get("handoff_rate") or 0.0
    sim.reset()
    if o.provider == "aliyun":
        if not isinstance(sample, dict):
            raise RuntimeError("the Aliyun simulator accepted no message to copy")
        raw = run_raw_aliyun(
            sim.url,
            key=p.ALIYUN_KEY,
            fields=sample,
            count=count,
            batch=o.aliyun_batch,
            concurrency=o.raw_concurrency,
        )
        action = f"SendBatchSms of {o.aliyun_batch}" if o.aliyun_batch else "SendSms"
        say(f"raw limit ({action}): {raw.ok:,}/{raw.requests:,} in {raw.seconds:.2f} s")
        return {
            "raw_rate": round(raw.rate, 1),
            "raw_s": raw.seconds,
            "raw_ok": raw.ok,
            "ours_over_raw": round(ours_rate / raw.rate, 3) if raw.rate else None,
        }
    raw = run_raw(
        sim.url,
        account=p.ACCOUNT,
        token=p.AUTH_TOKEN,
        sender=p.FROM_NUMBER,
        body=str(sample),
        count=count,
        concurrency=o.raw_concurrency,
    )
    say(f"raw limit: {raw.ok:,}/{raw.requests:,} in {raw.seconds:.2f} s = {raw.rate:,.0f}/s")
    sim.reset()
    naive = run_naive(
        processes,
        redis_url=redis_url,
        queue_name=f"{prefix}:naive",
        sim_url=sim.url,
        account=p.ACCOUNT,
        token=p.AUTH_TOKEN,
        sender=p.FROM_NUMBER,
        body=str(sample),
        count=o.naive_sample,
        workers=o.workers,
        sim_messages=sim.messages,
    )
    say(f"naive: {naive.done:,}/{naive.jobs:,} in {naive.seconds:.2f} s = {naive.rate:,.1f}/s")
    return {
        "raw_rate": round(raw.rate, 1),
        "raw_s": raw.seconds,
        "raw_ok": raw.ok,
        "naive_rate": round(naive.rate, 2),
        "naive_sample": naive.jobs,
        "naive_done": naive.done,
        "naive_extrapolated_s": round(count / naive.rate, 1) if naive.rate else None,
        "ours_over_raw": round(ours_rate / raw.rate, 3) if raw.rate else None,
        "ours_over_naive": round(ours_rate / naive.rate, 1) if naive.rate else None,
    }
