"""Households final over time as a server-side SVG: points, guides and time ticks."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

BUCKETS = 60
WIDTH, HEIGHT, LEFT, BOTTOM, TOP, RIGHT = 640, 200, 48, 22, 10, 12


@dataclass(frozen=True)
class Chart:
    """The cumulative curve in SVG coordinates, with axis labels and the 50/90/100 % guides."""

    points: str
    area: str
    guides: list[tuple[float, str]]  # (y, label)
    ticks: list[tuple[float, str]]  # (x, label) along the time axis
    targeted: int
    final: int
    span_seconds: float

    @property
    def empty(self) -> bool:
        return self.final == 0


def draw(histogram: list[tuple[float, int]], targeted: int, span: float) -> Chart:
    """`histogram`: (seconds since issue, households final by then), in order; `span`: the
    length of the time axis in seconds."""
    seconds = [second for second, _n in histogram]
    running, totals = 0, []
    for _second, n in histogram:
        running += n
        totals.append(running)
    final = running

    def upto(moment: float) -> int:
        index = bisect.bisect_right(seconds, moment)
        return totals[index - 1] if index else 0

    cumulative = [upto(span * index / BUCKETS) for index in range(BUCKETS + 1)]
    cumulative[-1] = final
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max(targeted, final, 1)

    def x(index: int) -> float:
        return round(LEFT + plot_w * index / BUCKETS, 1)

    def y(value: float) -> float:
        return round(TOP + plot_h * (1 - value / top), 1)

    line = [(x(0), y(0))] + [(x(i), y(v)) for i, v in enumerate(cumulative)]
    points = " ".join(f"{px},{py}" for px, py in line)
    area = points + f" {x(BUCKETS)},{y(0)} {x(0)},{y(0)}"
    guides = (
        [(y(targeted * share / 100), f"{share}%") for share in (50, 90, 100)] if targeted else []
    )
    step, ticks, moment = _nice_step(span / 6), [], 0.0
    while moment <= span + 1e-6:
        ticks.append((round(LEFT + plot_w * moment / span, 1), _clock(moment)))
        moment += step
    return Chart(points, area, guides, ticks, targeted, final, span)


def _nice_step(raw: float) -> float:
    for step in (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400):
        if step >= raw:
            return float(step)
    return float(math.ceil(raw / 86400) * 86400)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    if whole >= 3600:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}"
    if whole >= 60:
        return f"{whole // 60}m" + (f"{whole % 60:02d}" if whole % 60 else "")
    return f"{whole}s"
