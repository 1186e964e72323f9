"""Attention tones played before a message: three beeps, or a two-tone (hi-lo) siren."""

from __future__ import annotations

from typing import Literal

import numpy as np

from channels.loudspeaker.loudness import Signal

ToneKind = Literal["beeps", "two_tone", "none"]
TONE_KINDS: tuple[ToneKind, ...] = ("beeps", "two_tone", "none")
_RAMP_S = 0.010


def _ramped(tone: Signal, sample_rate: int) -> Signal:
    """Raised-cosine fade in and out, so a tone starts and stops without a click."""
    ramp = min(round(_RAMP_S * sample_rate), len(tone) // 2)
    if ramp > 0:
        window = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        tone[:ramp] *= window
        tone[-ramp:] *= window[::-1]
    return tone


def beeps(
    sample_rate: int,
    *,
    count: int = 3,
    frequency_hz: float = 1000.0,
    on_s: float = 0.30,
    off_s: float = 0.20,
) -> Signal:
    """`count` sine beeps of `on_s` seconds, `off_s` apart, at full scale."""
    on = round(on_s * sample_rate)
    beep = _ramped(np.sin(2.0 * np.pi * frequency_hz * np.arange(on) / sample_rate), sample_rate)
    gap = np.zeros(round(off_s * sample_rate))
    parts: list[Signal] = []
    for index in range(count):
        parts.append(beep)
        if index < count - 1:
            parts.append(gap)
    return np.concatenate(parts) if parts else np.zeros(0)


def two_tone(
    sample_rate: int,
    *,
    low_hz: float = 700.0,
    high_hz: float = 1000.0,
    step_s: float = 0.5,
    total_s: float = 3.0,
) -> Signal:
    """A hi-lo siren alternating `high_hz` and `low_hz` every `step_s`, phase-continuous."""
    length = round(total_s * sample_rate)
    step = max(1, round(step_s * sample_rate))
    frequency = np.where((np.arange(length) // step) % 2 == 0, high_hz, low_hz)
    phase = 2.0 * np.pi * np.cumsum(frequency) / sample_rate
    return _ramped(np.sin(phase), sample_rate)


def attention_tone(kind: ToneKind, sample_rate: int) -> Signal:
    """The tone for `kind` ("none" gives an empty signal)."""
    if kind == "beeps":
        return beeps(sample_rate)
    if kind == "two_tone":
        return two_tone(sample_rate)
    if kind == "none":
        return np.zeros(0)
    raise ValueError(f"unknown tone {kind!r}; choose one of {', '.join(TONE_KINDS)}")
