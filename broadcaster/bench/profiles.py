"""py-spy around a measured phase (collapsed stacks, one file per process) and a summary of
where the samples went: top functions by self and by inclusive share."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def py_spy() -> str | None:
    """The py-spy binary next to this interpreter, else on PATH."""
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.is_file() else shutil.which("py-spy")


@dataclass
class Profiler:
    """`py-spy record --format raw` of several processes while a phase runs."""

    out_dir: Path | None
    rate: int = 100
    running: list[tuple[str, subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def start(self, name: str, pid: int) -> None:
        binary = py_spy()
        if self.out_dir is None or binary is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"{name}.txt"
        command = [
            binary,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(self.rate),
            "--format",
            "raw",
            "--threads",
            "--nonblocking",
            "--output",
            str(path),
        ]
        popen = subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.running.append((name, popen, path))

    def stop(self) -> dict[str, str]:
        """Stop every recorder (they write on SIGINT); returns name -> profile path."""
        written: dict[str, str] = {}
        for name, popen, path in self.running:
            if popen.poll() is None:
                popen.send_signal(signal.SIGINT)
            try:
                popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                popen.kill()
            if path.is_file():
                written[name] = str(path)
        self.running.clear()
        return written


def _function(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    where = match["file"]
    for marker in ("site-packages/", "/lib/python3", "/work/main/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{match['func']} ({where})"


def summarise(path: Path, top: int = 15, thread: str | None = None) -> dict[str, object]:
    """Self and inclusive shares of the functions in a raw (collapsed) py-spy profile."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        count = int(match["count"])
        frames = match["stack"].split(";")
        head = [f for f in frames if f.startswith(("process ", "thread "))]
        name = head[-1] if head else "?"
        if thread is not None and thread not in name:
            continue
        code = [_function(f) for f in frames if not f.startswith(("process ", "thread "))]
        if not code:
            continue
        total += count
        threads[name] += count
        self_counts[code[-1]] += count
        for function in set(code):
            inclusive[function] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(f, round(100 * c / total, 1)) for f, c in counter.most_common(top)]

    return {
        "samples": total,
        "threads": {t: round(100 * c / max(total, 1), 1) for t, c in threads.most_common(6)},
        "self_pct": share(self_counts),
        "inclusive_pct": share(inclusive),
    }
