"""`bench fanout --providers aliyun`: the same fan-out through Aliyun SMS twice, one SendSms per
number and SendBatchSms of up to 100, each against the raw limit of the same simulated
endpoint sent the same way in the same run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from broadcaster.bench.fanout import FanoutOptions, run_fanout
from broadcaster.bench.scratch import Scratch

Say = Callable[[str], None]
BATCH = 100  # SendBatchSms takes up to 100 numbers
MODES = (("single", 0), ("batch", BATCH))
# Each mode's figures kept at the top level as <mode>_<figure>, for the table and medians.
MODE_KEYS = (
    "deliveries",
    "handed_off",
    "provider_requests",
    "first_handoff_s",
    "handoff_s",
    "handoff_rate",
    "steady_rate",
    "raw_rate",
    "raw_ok",
    "ours_over_raw",
    "duplicates",
    "cpu_s",
)
# Judged by the fan-out targets: single sends, what Aliyun recommends for alerts.
JUDGED = ("handoff_rate", "ours_over_raw", "first_handoff_s", "end_to_end_s")


def run_modes(o: FanoutOptions, scratch: Scratch, redis_url: str, say: Say) -> dict[str, Any]:
    """One run of each mode (each its own stack and simulator); their figures side by side."""
    found: dict[str, dict[str, Any]] = {}
    for mode, batch in MODES:
        say(f"aliyun, {mode} sends" + (f" (SendBatchSms of {batch})" if batch else " (SendSms)"))
        profiles = o.profile_dir / mode if o.profile_dir else None
        options = replace(
            o, provider="aliyun", aliyun_batch=batch, sim_callbacks=False, profile_dir=profiles
        )
        found[mode] = run_fanout(options, scratch, redis_url, say)
    single = found["single"]
    figures: dict[str, Any] = {
        "providers": "aliyun",
        "households": single["households"],
        "deliveries": single["deliveries"],
        "handed_off": single["handed_off"],
        **{key: single.get(key) for key in JUDGED},
    }
    for mode, _batch in MODES:
        figures.update({f"{mode}_{key}": found[mode].get(key) for key in MODE_KEYS})
    figures["prefix"] = single["prefix"]
    figures["prefixes"] = [found[mode]["prefix"] for mode, _ in MODES]
    figures.update(found)  # every figure of each mode, under "single" and "batch"
    return figures


def complete(figures: dict[str, Any]) -> bool:
    """Every mode's deliveries handed off (Twilio: the run's)."""
    parts = [figures[mode] for mode, _ in MODES if mode in figures] or [figures]
    return all(part.get("handed_off") == part.get("deliveries") for part in parts)
