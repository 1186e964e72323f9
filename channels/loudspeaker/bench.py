"""Benchmark: render a 100-character warning; `python -m channels.loudspeaker.bench [runs]`."""

from __future__ import annotations

import statistics
import sys
import time

from channels.loudspeaker.render import default_engine, render_announcement

MESSAGE = (
    "【某某县防汛指挥部】预计8月24日14:30至20:00，我镇将出现大暴雨，累计雨量80-120mm，"
    "河道水位将超警戒0.5m。请沿河低洼地带群众立即转移到安全地点。求助请拨打13800138000。"
)
"""A typical warning of 100 characters, with the numbers a normaliser has to read."""


def main(argv: list[str]) -> int:
    runs = int(argv[1]) if len(argv) > 1 else 5
    started = time.perf_counter()
    default_engine()
    print(f"message: {len(MESSAGE)} characters")
    print(f"engine start: {time.perf_counter() - started:.3f} s")
    timings: list[float] = []
    for index in range(runs + 1):
        started = time.perf_counter()
        rendered = render_announcement(MESSAGE, tone="beeps", repeat=2)
        elapsed = time.perf_counter() - started
        label = "first render (cold caches)" if index == 0 else f"render {index}"
        print(
            f"{label}: {elapsed:.3f} s -> {rendered.duration_s:.1f} s of audio, "
            f"{rendered.lufs:.2f} LUFS, true peak {rendered.peak_dbfs:.2f} dBFS, "
            f"sample peak {rendered.sample_peak_dbfs:.2f} dBFS, "
            f"WAV {len(rendered.wav) // 1024} KiB, MP3 {len(rendered.mp3) // 1024} KiB"
        )
        if index:
            timings.append(elapsed)
    if timings:
        print(f"median of {runs}: {statistics.median(timings):.3f} s, max {max(timings):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
