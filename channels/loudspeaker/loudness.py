"""Loudness and peak meters after ITU-R BS.1770-4 / EBU R128, for mono float signals."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

Signal = NDArray[np.float64]

# Analogue prototypes of the two K-weighting stages (as derived by libebur128), so the
# filters are exact at any sample rate rather than only at the 48 kHz of the standard.
_SHELF_F0 = 1681.974450955533
_SHELF_GAIN_DB = 3.999843853973347
_SHELF_Q = 0.7071752369554196
_HIGHPASS_F0 = 38.13547087602444
_HIGHPASS_Q = 0.5003270373238773

BLOCK_S = 0.400
STEP_S = 0.100
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
OVERSAMPLE = 4
_TAPS_PER_PHASE = 16


def k_weighting_coefficients(sample_rate: int) -> tuple[Signal, Signal, Signal, Signal]:
    """(b, a) of the shelving stage then (b, a) of the high-pass stage, with a[0] == 1."""
    k = math.tan(math.pi * _SHELF_F0 / sample_rate)
    vh = 10.0 ** (_SHELF_GAIN_DB / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / _SHELF_Q + k * k
    shelf_b = np.array(
        [vh + vb * k / _SHELF_Q + k * k, 2.0 * (k * k - vh), vh - vb * k / _SHELF_Q + k * k]
    )
    shelf_a = np.array([a0, 2.0 * (k * k - 1.0), 1.0 - k / _SHELF_Q + k * k])
    k = math.tan(math.pi * _HIGHPASS_F0 / sample_rate)
    high_b = np.array([1.0, -2.0, 1.0])
    high_a = np.array(
        [1.0 + k / _HIGHPASS_Q + k * k, 2.0 * (k * k - 1.0), 1.0 - k / _HIGHPASS_Q + k * k]
    )
    return shelf_b / a0, shelf_a / a0, high_b, high_a / high_a[0]


def biquad(x: Signal, b: Signal, a: Signal) -> Signal:
    """Direct-form I biquad, sample by sample: the slow reference the fast path is tested on."""
    y = np.zeros(len(x))
    x1 = x2 = y1 = y2 = 0.0
    b0, b1, b2, a1, a2 = float(b[0]), float(b[1]), float(b[2]), float(a[1]), float(a[2])
    for n, xn in enumerate(np.asarray(x, dtype=np.float64).tolist()):
        yn = b0 * xn + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        x2, x1, y2, y1 = x1, xn, y1, yn
        y[n] = yn
    return y


@lru_cache(maxsize=8)
def _k_impulse_response(sample_rate: int) -> Signal:
    """The cascade's impulse response, cut where it has decayed below 1e-12 of its peak."""
    shelf_b, shelf_a, high_b, high_a = k_weighting_coefficients(sample_rate)
    impulse = np.zeros(sample_rate)  # one second: the 38 Hz poles are long gone by then
    impulse[0] = 1.0
    response = biquad(biquad(impulse, shelf_b, shelf_a), high_b, high_a)
    significant = np.nonzero(np.abs(response) > 1e-12 * np.abs(response).max())[0]
    return response[: significant[-1] + 1]


def _fft_convolve(x: Signal, h: Signal) -> Signal:
    """x * h truncated to len(x) (a causal filter's output), by FFT overlap-add in blocks
    small enough to stay in cache."""
    nfft = max(8192, 1 << (4 * len(h) - 1).bit_length())
    step = nfft - len(h) + 1
    count = max(1, -(-len(x) // step))
    padded = np.zeros(count * step)
    padded[: len(x)] = x
    spectra = np.fft.rfft(padded.reshape(count, step), nfft) * np.fft.rfft(h, nfft)
    blocks = np.fft.irfft(spectra, nfft)
    out = np.zeros((count + 1) * step)
    out[: count * step] = blocks[:, :step].reshape(-1)
    out[step:].reshape(count, step)[:, : nfft - step] += blocks[:, step:]
    return out[: len(x)]


def k_weight(x: Signal, sample_rate: int) -> Signal:
    """The K-weighted signal (shelf + RLB high-pass), by FFT convolution with the filter's
    impulse response: the recursive filters' output to ~1e-12, at numpy speed."""
    return _fft_convolve(np.asarray(x, dtype=np.float64), _k_impulse_response(sample_rate))


def block_energies(x: Signal, sample_rate: int) -> Signal:
    """Mean square of the K-weighted signal in 400 ms blocks overlapping by 75 %."""
    weighted = k_weight(x, sample_rate)
    block = round(BLOCK_S * sample_rate)
    step = round(STEP_S * sample_rate)
    if len(weighted) < block:
        return np.zeros(0)
    cumulative = np.concatenate(([0.0], np.cumsum(weighted * weighted)))
    starts = np.arange(0, len(weighted) - block + 1, step)
    energies: Signal = (cumulative[starts + block] - cumulative[starts]) / block
    return energies


def _lufs(energy: float) -> float:
    return -0.691 + 10.0 * math.log10(energy) if energy > 0 else -math.inf


def integrated_loudness(x: Signal, sample_rate: int) -> float:
    """Gated integrated loudness in LUFS (mono, channel weight 1); -inf for silence."""
    energies = block_energies(x, sample_rate)
    with np.errstate(divide="ignore"):
        loudness = -0.691 + 10.0 * np.log10(energies)
    above_absolute = energies[loudness > ABSOLUTE_GATE_LUFS]
    if above_absolute.size == 0:
        return -math.inf
    relative_gate = _lufs(float(above_absolute.mean())) + RELATIVE_GATE_LU
    gated = energies[(loudness > ABSOLUTE_GATE_LUFS) & (loudness > relative_gate)]
    return _lufs(float(gated.mean()))


@lru_cache(maxsize=1)
def _interpolator() -> Signal:
    """Polyphase windowed-sinc kernels, shape (OVERSAMPLE, taps), each phase summing to 1."""
    taps = OVERSAMPLE * _TAPS_PER_PHASE
    t = (np.arange(taps) - (taps - 1) / 2.0) / OVERSAMPLE
    kernel = np.sinc(t) * np.kaiser(taps, 8.0)
    phases = kernel.reshape(_TAPS_PER_PHASE, OVERSAMPLE).T
    normalised: Signal = phases / phases.sum(axis=1, keepdims=True)
    return normalised


def oversampled_peaks(x: Signal) -> Signal:
    """Per input sample n, the largest magnitude of the 4× oversampled signal on [n, n+1)
    (the sample itself included): an inter-sample ("true") peak envelope."""
    x = np.asarray(x, dtype=np.float64)
    peaks = np.abs(x)
    delay = _TAPS_PER_PHASE // 2
    for phase in _interpolator():
        interpolated = np.convolve(x, phase)[delay : delay + len(x)]
        np.maximum(peaks, np.abs(interpolated), out=peaks)
    return peaks


def true_peak_dbfs(x: Signal) -> float:
    """Peak of the 4× oversampled signal in dBFS (dBTP); -inf for silence."""
    peak = float(oversampled_peaks(x).max(initial=0.0))
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def sample_peak_dbfs(x: Signal) -> float:
    """Largest sample magnitude in dBFS; -inf for silence."""
    peak = float(np.abs(x).max(initial=0.0))
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf
