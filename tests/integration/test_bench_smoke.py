"""Smoke runs of the benchmarks: they complete and report what they measured.

No timing is asserted: benchmarks are not tests, the figures depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_URL, REQUIRE_PG, pg_unavailable_reason

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _first_run(command: list[str]) -> dict[str, Any]:
    """Run a benchmark (--json-only); the figures of its first run."""
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=280, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1])["runs"][0])


def test_bench_fanout_completes_and_reports_every_household(redis_url: str, tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "broadcaster.bench", "fanout",
        "--households", "1000", "--workers", "1", "--naive-sample", "50", "--json-only",
        "--redis-url", redis_url, "--database-url", f"sqlite:///{tmp_path / 'bench.db'}",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=280, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    document = json.loads(done.stdout.strip().splitlines()[-1])
    run = document["runs"][0]
    assert run["households"] == 1000
    # one SMS per active mobile of every household, every one handed off and delivered
    assert run["deliveries"] >= run["households"]
    assert run["handed_off"] == run["deliveries"]
    assert run["delivery_states"] == {"delivered": run["deliveries"]}
    assert run["raw_ok"] == run["deliveries"]
    assert run["naive_done"] == 50
    assert set(document["targets"]) >= {"handoff_rate", "ours_over_raw", "first_handoff_s"}


def test_bench_fanout_through_aliyun_reports_single_and_batched_sends(
    redis_url: str, tmp_path: Path
) -> None:
    command = [
        sys.executable, "-m", "broadcaster.bench", "fanout", "--providers", "aliyun",
        "--households", "200", "--workers", "1", "--json-only",
        "--redis-url", redis_url, "--database-url", f"sqlite:///{tmp_path / 'bench.db'}",
    ]  # fmt: skip
    run = _first_run(command)
    assert (run["providers"], run["households"]) == ("aliyun", 200)
    deliveries = run["deliveries"]
    assert deliveries >= 200
    for mode in ("single", "batch"):
        figures = run[mode]
        # every SMS handed to the simulated Aliyun once (receipts are not pushed: still sent)
        assert figures["deliveries"] == figures["handed_off"] == deliveries, mode
        assert figures["delivery_states"] == {"sent": deliveries}, mode
        assert figures["duplicates"] == 0, mode
        assert figures["raw_ok"] == deliveries, mode  # the raw limit sent as many the same way
        assert run[f"{mode}_ours_over_raw"] == figures["ours_over_raw"] > 0, mode
    assert run["single_provider_requests"] == deliveries  # one SendSms per number
    assert -(-deliveries // 100) <= run["batch_provider_requests"] < deliveries / 10


def test_bench_sweep_escalates_every_household(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "broadcaster.bench", "sweep", "--households", "300", "--json-only",
        "--database-url", f"sqlite:///{tmp_path / 'sweep.db'}",
    ]  # fmt: skip
    run = _first_run(command)
    assert run["households"] == 300
    assert run["due_voice"] == run["due_visit"] == 300  # nobody answered: every one is due
    assert run["voice_deliveries"] >= 300
    assert run["visit_tasks"] == 300


def test_bench_inputs_answers_every_case_as_the_tests_expect() -> None:
    command = [
        sys.executable, "-m", "broadcaster.bench", "inputs", "--runs", "1", "--households", "5",
        "--json-only",
    ]  # fmt: skip
    run = _first_run(command)
    statuses = {case: run[f"{case}_status"] for case in run["cases"]}
    assert statuses == {
        "import_valid": 200,
        "zip_bomb": 422,
        "cap_valid": 201,
        "cap_polygon": 422,
        "cap_circles": 422,
    }
    assert run["baselines"] == {
        "zip_bomb": "import_valid",
        "cap_polygon": "cap_valid",
        "cap_circles": "cap_valid",
    }
    assert all(run[f"{case}_over_baseline_cpu_ms"] > 0 for case in run["baselines"])


def test_bench_plan_explain_times_each_bulk_write_and_its_triggers() -> None:
    """`bench plan --explain` performs the planning under EXPLAIN ANALYZE (the deliveries
    are still written and counted) and reports each bulk write's triggers."""
    reason = pg_unavailable_reason()
    if reason:
        if REQUIRE_PG:
            pytest.fail(reason)
        pytest.skip(reason)
    command = [
        sys.executable, "-m", "broadcaster.bench", "plan", "--households", "300", "--json-only",
        "--explain", "--database-url", PG_URL,
    ]  # fmt: skip
    run = _first_run(command)
    assert run["households"] == 300
    assert run["deliveries"] >= 300
    writes = {entry["statement"].split(" (")[0]: entry for entry in run["explained"]}
    assert set(writes) >= {"INSERT INTO deliveries", "INSERT INTO recipients"}
    triggers = writes["INSERT INTO deliveries"]["triggers_ms"]
    assert {"deliveries_tally_insert", "deliveries_references_exist"} <= set(triggers)
