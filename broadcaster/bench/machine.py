"""The machine, the code and the processes a figure was measured on: cores, load, commit, RSS."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def git_commit() -> str:
    """HEAD's short hash, "+dirty" when the work tree has changes (outside git: the
    BROADCASTER_BENCH_COMMIT environment variable)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):  # e.g. a `git archive` snapshot
        return os.environ.get("BROADCASTER_BENCH_COMMIT", "")
    return head + ("+dirty" if dirty else "")


def machine() -> dict[str, Any]:
    """What the figures depend on besides the code."""
    return {
        "cores": os.cpu_count(),
        "load_average": load_average(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(terse=True),
        "commit": git_commit(),
    }


def _status_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def peak_rss_mib(pid: int) -> float | None:
    """Peak resident set size (VmHWM) of a live process, in MiB (Linux /proc)."""
    kib = _status_kib(pid, "VmHWM")
    return round(kib / 1024, 1) if kib is not None else None


def rss_mib(pid: int) -> float | None:
    """Current resident set size (VmRSS), in MiB."""
    kib = _status_kib(pid, "VmRSS")
    return round(kib / 1024, 1) if kib is not None else None


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux; False when not possible)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a live process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return round((int(fields[11]) + int(fields[12])) / ticks, 2)


def process_tree(pid: int) -> list[int]:
    """A live process and its descendants (uvicorn's supervisor and its workers)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live descendants."""
    return round(sum(cpu_seconds(each) or 0.0 for each in process_tree(pid)), 2)


@dataclass
class CpuMeter:
    """CPU seconds of a set of processes between `start()` and `stop()`."""

    pids: dict[str, int]

    def start(self) -> None:
        self._start = {name: cpu_seconds(pid) or 0.0 for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        return {
            name: round((cpu_seconds(pid) or 0.0) - self._start.get(name, 0.0), 2)
            for name, pid in self.pids.items()
        }


def median(values: list[Any]) -> Any:
    """The median of the numbers among `values` (None when there are none)."""
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if not numbers:
        return values[0] if values else None
    return round(statistics.median(numbers), 4)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (share in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]
