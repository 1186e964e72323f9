"""Bringing a programme to a loudness target under a true-peak ceiling: gain plus a limiter."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from channels.loudspeaker.loudness import (
    Signal,
    integrated_loudness,
    oversampled_peaks,
    true_peak_dbfs,
)

LIMITER_REACH_S = 0.008
"""How far ahead (and behind) of a peak the limiter starts (and ends) pulling the gain down."""
_MARGIN_DB = 0.05  # kept below the ceiling so 16-bit rounding cannot cross it


class SilentProgramme(ValueError):
    """Nothing above the −70 LUFS gate: there is no loudness to bring to the target."""


@dataclass(frozen=True)
class Levelled:
    """The levelled signal with its measured integrated loudness and true peak."""

    samples: Signal
    lufs: float
    true_peak_dbfs: float
    gain_db: float
    limited_db: float


def running_min(values: Signal, radius: int) -> Signal:
    """Minimum over [n - radius, n + radius] for every n (van Herk / Gil-Werman, O(n))."""
    if radius <= 0 or len(values) == 0:
        return values.copy()
    width = 2 * radius + 1
    padded_len = -(-(len(values) + 2 * radius) // width) * width
    padded = np.full(padded_len, np.inf)
    padded[radius : radius + len(values)] = values
    blocks = padded.reshape(-1, width)
    prefix = np.minimum.accumulate(blocks, axis=1).reshape(-1)
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].reshape(-1)
    starts = np.arange(len(values))
    result: Signal = np.minimum(suffix[starts], prefix[starts + width - 1])
    return result


def moving_average(values: Signal, radius: int) -> Signal:
    """Mean over [n - radius, n + radius], the ends padded with their edge values."""
    if radius <= 0 or len(values) == 0:
        return values.copy()
    padded = np.pad(values, radius, mode="edge")
    cumulative = np.concatenate(([0.0], np.cumsum(padded)))
    width = 2 * radius + 1
    result: Signal = (cumulative[width:] - cumulative[:-width]) / width
    return result


def held_min(values: Signal, reach: int) -> Signal:
    """A value <= min(values[n - reach : n + reach + 1]) for every n, computed on blocks of
    reach/4 samples: the window it takes is a little wider, never narrower, and it costs
    a quarter of running_min at full resolution."""
    block = max(1, reach // 4)
    count = -(-len(values) // block)
    padded = np.full(count * block, np.inf)
    padded[: len(values)] = values
    coarse = padded.reshape(count, block).min(axis=1)
    widened = running_min(coarse, -(-reach // block) + 1)
    result: Signal = np.repeat(widened, block)[: len(values)]
    return result


def limiter_gain(peaks: Signal, ceiling: float, reach: int) -> Signal:
    """A smooth gain curve g with g[n]·peaks[n] <= ceiling everywhere.

    The gain each sample needs is held over (at least) ±reach samples, then smoothed twice
    over ±reach/2: every smoothed value at a peak averages only held values that are no
    larger than the gain that peak needs, so the guarantee survives the smoothing.
    """
    needed = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-12))
    held = held_min(needed, reach)
    half = max(1, reach // 2)
    smoothed = moving_average(moving_average(held, half), half)
    return np.minimum(smoothed, needed)  # only trims cumulative-sum rounding (~1e-12)


def fit_level(
    samples: Signal,
    sample_rate: int,
    *,
    target_lufs: float,
    peak_dbfs: float,
    tolerance_lu: float = 0.1,
    max_passes: int = 6,
) -> Levelled:
    """Gain to `target_lufs` integrated, limiting peaks (4× oversampled) to `peak_dbfs`.

    Limiting lowers the loudness a little, so gain and limiting are redone from the
    original signal until the loudness is within `tolerance_lu` of the target. When the
    target cannot be met under the ceiling the result is as loud as the passes allowed.
    """
    x = np.asarray(samples, dtype=np.float64)
    loudness = integrated_loudness(x, sample_rate)
    if math.isinf(loudness):
        raise SilentProgramme("the programme is silent")
    ceiling = 10.0 ** ((peak_dbfs - _MARGIN_DB) / 20.0)
    peaks = oversampled_peaks(x)
    reach = max(1, round(LIMITER_REACH_S * sample_rate))
    gain_db = target_lufs - loudness
    y = x
    envelope = np.ones(1)
    for _ in range(max_passes):
        gain = 10.0 ** (gain_db / 20.0)
        envelope = limiter_gain(gain * peaks, ceiling, reach)
        y = x * (gain * envelope)
        loudness = integrated_loudness(y, sample_rate)
        if abs(target_lufs - loudness) <= tolerance_lu:
            break
        gain_db += target_lufs - loudness
    peak = true_peak_dbfs(y)
    if peak > peak_dbfs - _MARGIN_DB / 2:  # inter-sample overshoot after the gain curve moved
        trim = 10.0 ** ((peak_dbfs - _MARGIN_DB - peak) / 20.0)
        y = y * trim
        loudness = integrated_loudness(y, sample_rate)
        peak = true_peak_dbfs(y)
    limited = float(envelope.min())
    return Levelled(
        samples=y,
        lufs=loudness,
        true_peak_dbfs=peak,
        gain_db=gain_db,
        limited_db=20.0 * math.log10(max(limited, 1e-12)),
    )
