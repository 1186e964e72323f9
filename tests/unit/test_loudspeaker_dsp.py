"""The loudspeaker's audio arithmetic: BS.1770 meter, true peak, limiter, tones, resampling."""

from __future__ import annotations

import math

import numpy as np
import pytest

from channels.loudspeaker.levels import (
    SilentProgramme,
    fit_level,
    held_min,
    limiter_gain,
    running_min,
)
from channels.loudspeaker.loudness import (
    biquad,
    integrated_loudness,
    k_weight,
    k_weighting_coefficients,
    oversampled_peaks,
    sample_peak_dbfs,
    true_peak_dbfs,
)
from channels.loudspeaker.resample import resample
from channels.loudspeaker.tones import attention_tone, beeps, two_tone


def sine(freq: float, seconds: float, rate: int, dbfs: float = 0.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)


def test_k_weighting_matches_the_published_48k_coefficients() -> None:
    shelf_b, shelf_a, high_b, high_a = k_weighting_coefficients(48000)
    # ITU-R BS.1770-4, table 1 and table 2
    assert shelf_b == pytest.approx([1.53512485958697, -2.69169618940638, 1.19839281085285])
    assert shelf_a == pytest.approx([1.0, -1.69065929318241, 0.73248077421585])
    assert high_b == pytest.approx([1.0, -2.0, 1.0])
    assert high_a == pytest.approx([1.0, -1.99004745483398, 0.99007225036621])


@pytest.mark.parametrize("rate", [16000, 22050, 48000])
def test_fast_k_weighting_equals_the_recursive_filters(rate: int) -> None:
    x = np.random.default_rng(7).standard_normal(rate + 123) * 0.1
    shelf_b, shelf_a, high_b, high_a = k_weighting_coefficients(rate)
    reference = biquad(biquad(x, shelf_b, shelf_a), high_b, high_a)
    assert np.max(np.abs(k_weight(x, rate) - reference)) < 1e-9


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000])
def test_full_scale_997hz_sine_reads_minus_3_lufs(rate: int) -> None:
    # A mono 0 dBFS sine has mean square 1/2; K-weighting is ~0 dB at 1 kHz.
    assert integrated_loudness(sine(997, 5, rate), rate) == pytest.approx(-3.01, abs=0.05)


def test_level_steps_move_loudness_one_to_one() -> None:
    rate = 22050
    quiet = integrated_loudness(sine(997, 5, rate, -23.0), rate)
    assert quiet == pytest.approx(-26.01, abs=0.05)


def test_silence_is_gated_out() -> None:
    rate = 22050
    tone = sine(997, 40, rate, -20.0)
    padded = np.concatenate([np.zeros(rate * 10), tone, np.zeros(rate * 10)])
    # only the six 400 ms blocks straddling the two edges count, a little quieter
    assert integrated_loudness(padded, rate) == pytest.approx(
        integrated_loudness(tone, rate), abs=0.05
    )
    assert integrated_loudness(np.zeros(rate * 2), rate) == -math.inf


def test_relative_gate_drops_the_quiet_parts() -> None:
    # after EBU Tech 3341 case 3: quiet tone either side of a loud one, 13 dB down
    rate = 22050
    loud = sine(997, 60, rate, -20.0)
    quiet = sine(997, 10, rate, -33.0)
    assert integrated_loudness(np.concatenate([quiet, loud, quiet]), rate) == pytest.approx(
        -23.01, abs=0.1
    )


def test_true_peak_sees_between_the_samples() -> None:
    n = np.arange(4000)
    x = np.sin(2 * np.pi * n / 4 + np.pi / 4)  # samples at ±0.707, the wave reaches ±1
    assert sample_peak_dbfs(x) == pytest.approx(-3.01, abs=0.01)
    assert true_peak_dbfs(x) == pytest.approx(0.0, abs=0.15)
    assert np.all(oversampled_peaks(x) >= np.abs(x))


def test_running_min_is_a_centred_window_minimum() -> None:
    values = np.random.default_rng(3).random(1000)
    radius = 7
    expected = [values[max(0, i - radius) : i + radius + 1].min() for i in range(len(values))]
    assert np.array_equal(running_min(values, radius), expected)


def test_limiter_gain_keeps_every_peak_under_the_ceiling() -> None:
    peaks = np.abs(np.random.default_rng(5).standard_normal(20000)) * 0.5
    gain = limiter_gain(peaks, 0.8, 80)
    assert np.all(gain * peaks <= 0.8 + 1e-12)
    assert np.all((gain > 0) & (gain <= 1))


def burst_noise(rate: int) -> np.ndarray:
    rng = np.random.default_rng(11)
    x = rng.standard_normal(rate * 8) * 0.05
    x[rate : rate + 50] += 0.9  # spikes a limiter has to deal with
    x[rate * 4 : rate * 4 + 30] -= 0.95
    x[rate * 6 : rate * 7] = 0.0
    return x


def test_fit_level_hits_the_target_under_the_ceiling() -> None:
    rate = 22050
    levelled = fit_level(burst_noise(rate), rate, target_lufs=-16.0, peak_dbfs=-2.0)
    assert levelled.lufs == pytest.approx(-16.0, abs=0.1)
    assert integrated_loudness(levelled.samples, rate) == pytest.approx(levelled.lufs)
    assert true_peak_dbfs(levelled.samples) <= -2.0
    assert levelled.limited_db < 0  # the spikes were limited, not the whole programme


def test_fit_level_refuses_silence() -> None:
    with pytest.raises(SilentProgramme):
        fit_level(np.zeros(22050), 22050, target_lufs=-16.0, peak_dbfs=-2.0)


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.argmax(spectrum) * rate / len(x))


def test_beeps_are_three_1khz_bursts() -> None:
    rate = 16000
    tone = beeps(rate)
    assert dominant_hz(tone, rate) == pytest.approx(1000, abs=5)
    frames = tone[: len(tone) // 160 * 160].reshape(-1, 160)  # 10 ms frames
    on = np.sqrt((frames**2).mean(axis=1)) > 0.1
    assert on[0]
    assert np.count_nonzero(on[1:] & ~on[:-1]) == 2  # restarts twice: three bursts
    assert len(tone) / rate == pytest.approx(3 * 0.30 + 2 * 0.20, abs=0.001)


def test_two_tone_alternates_between_its_frequencies() -> None:
    rate = 16000
    siren = two_tone(rate)
    assert len(siren) / rate == pytest.approx(3.0)
    half = rate // 2
    assert dominant_hz(siren[half // 4 : half], rate) == pytest.approx(1000, abs=20)
    assert dominant_hz(siren[half + half // 4 : 2 * half], rate) == pytest.approx(700, abs=20)
    assert np.max(np.abs(np.diff(siren))) < 0.5  # phase-continuous: no clicks


def test_no_tone_and_unknown_tone() -> None:
    assert attention_tone("none", 16000).size == 0
    with pytest.raises(ValueError, match="unknown tone"):
        attention_tone("klaxon", 16000)  # type: ignore[arg-type]


def test_resample_keeps_duration_pitch_and_level() -> None:
    x = sine(440, 2.0, 22050, -6.0)
    y = resample(x, 22050, 16000)
    assert len(y) == 32000
    assert dominant_hz(y, 16000) == pytest.approx(440, abs=1)
    middle = slice(4000, 28000)
    assert np.max(np.abs(y[middle])) == pytest.approx(10 ** (-6 / 20), abs=0.01)
    assert np.array_equal(resample(x, 22050, 22050), x)


@pytest.mark.parametrize("reach", [1, 5, 80, 176])
def test_held_min_never_exceeds_the_window_minimum(reach: int) -> None:
    values = np.random.default_rng(reach).random(5003)
    held = held_min(values, reach)
    assert np.all(held <= running_min(values, reach))
    assert np.all(held >= running_min(values, 2 * reach + 2))  # and is not much wider
