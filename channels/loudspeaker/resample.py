"""Band-limited sample-rate conversion of a finite signal, by FFT (numpy only)."""

from __future__ import annotations

import numpy as np

from channels.loudspeaker.loudness import Signal


def _fast_length(n: int) -> int:
    """The smallest 2·3·5-smooth length >= n, where numpy's FFT is quickest."""
    best = 1 << (n - 1).bit_length()
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            candidate = power35
            while candidate < n:
                candidate *= 2
            best = min(best, candidate)
            power35 *= 3
        power5 *= 5
    return best


def resample(x: Signal, from_rate: int, to_rate: int) -> Signal:
    """`x` at `to_rate`: spectrum truncated (or zero-extended) above the lower Nyquist.

    The signal is zero-padded before the transform so that its end does not wrap onto its
    start; the result has round(len(x) · to_rate / from_rate) samples.
    """
    if from_rate == to_rate or len(x) == 0:
        return np.asarray(x, dtype=np.float64).copy()
    wanted = round(len(x) * to_rate / from_rate)
    guard = from_rate // 10
    n = _fast_length(len(x) + guard)
    m = round(n * to_rate / from_rate)
    spectrum = np.fft.rfft(np.asarray(x, dtype=np.float64), n)
    bins = min(len(spectrum), m // 2 + 1)
    out_spectrum = np.zeros(m // 2 + 1, dtype=np.complex128)
    out_spectrum[:bins] = spectrum[:bins]
    y: Signal = np.fft.irfft(out_spectrum, m)[:wanted] * (m / n)
    return y
