"""render_announcement: alert text → attention tone + message ×N, levelled, as WAV and MP3."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from channels.loudspeaker.encode import MP3_RATES, from_pcm16, mp3_bytes, to_pcm16, wav_bytes
from channels.loudspeaker.levels import fit_level
from channels.loudspeaker.loudness import (
    Signal,
    integrated_loudness,
    sample_peak_dbfs,
    true_peak_dbfs,
)
from channels.loudspeaker.normalize import normalize
from channels.loudspeaker.resample import resample
from channels.loudspeaker.tones import ToneKind, attention_tone
from channels.loudspeaker.tts import TtsEngine, select_engine

LEAD_IN_S = 0.3
"""Silence before the tone, so amplifiers that switch on with the signal miss nothing."""
TONE_GAP_S = 1.0
"""Silence between the attention tone and the first reading."""
TAIL_S = 0.5
_SILENCE_THRESHOLD = 10 ** (-50 / 20)

_default_engine: TtsEngine | None = None
_default_lock = threading.Lock()


@dataclass(frozen=True)
class Rendered:
    """A rendered announcement: both files and what was measured on the 16-bit output."""

    wav: bytes
    mp3: bytes
    duration_s: float
    lufs: float
    peak_dbfs: float
    """True peak (4× oversampled) of the 16-bit output, in dBFS."""
    sample_peak_dbfs: float
    sample_rate: int
    spoken_text: str
    engine: str
    speech_s: float
    """Length of one reading of the message."""
    tone_s: float


def default_engine() -> TtsEngine:
    """The process-wide espeak-ng engine (voice cmn), created on first use."""
    global _default_engine
    with _default_lock:
        if _default_engine is None:
            _default_engine = select_engine()
        return _default_engine


def _trim_silence(samples: Signal) -> Signal:
    """Cut leading and trailing silence (below −50 dBFS) so the pauses are the ones asked."""
    loud = np.nonzero(np.abs(samples) > _SILENCE_THRESHOLD)[0]
    if loud.size == 0:
        return samples[:0]
    return samples[loud[0] : loud[-1] + 1]


def _silence(seconds: float, sample_rate: int) -> Signal:
    return np.zeros(round(seconds * sample_rate))


def render_announcement(
    text: str,
    *,
    tone: ToneKind = "beeps",
    repeat: int = 2,
    pause_s: float = 1.5,
    target_lufs: float = -16.0,
    peak_dbfs: float = -2.0,
    sample_rate: int = 22050,
    engine: TtsEngine | None = None,
) -> Rendered:
    """Render `text` for a village loudspeaker.

    Layout: LEAD_IN_S silence, the attention tone and TONE_GAP_S (unless tone="none"), the
    message `repeat` times with `pause_s` between readings, TAIL_S silence. The text is
    normalised for Mandarin TTS first (see normalize()). The tone is matched to the speech's
    loudness, then the whole programme is brought to `target_lufs` integrated (BS.1770)
    with a limiter holding the true peak at or under `peak_dbfs`.

    `sample_rate` defaults to 22050 Hz, espeak-ng's own rate, so its speech is not
    resampled and keeps the 8–11 kHz band where s/sh/x live (四 vs 十); other MP3 rates
    are accepted. CPU-bound and synchronous: call it from a worker or asyncio.to_thread.
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    if pause_s < 0:
        raise ValueError("pause_s must not be negative")
    if sample_rate not in MP3_RATES:
        raise ValueError(f"sample_rate must be one of {MP3_RATES}")
    spoken = normalize(text)
    if not spoken:
        raise ValueError("the text has nothing to say")
    engine = engine or default_engine()
    speech = engine.synthesize(spoken)
    voice = _trim_silence(
        resample(speech.samples.astype(np.float64), speech.sample_rate, sample_rate)
    )
    if voice.size == 0:
        raise ValueError(f"{engine.name} produced only silence")

    attention = attention_tone(tone, sample_rate)
    parts: list[Signal] = [_silence(LEAD_IN_S, sample_rate)]
    if attention.size:
        speech_lufs = integrated_loudness(voice, sample_rate)
        tone_lufs = integrated_loudness(attention, sample_rate)
        attention = attention * 10.0 ** ((speech_lufs - tone_lufs) / 20.0)
        parts += [attention, _silence(TONE_GAP_S, sample_rate)]
    for index in range(repeat):
        if index:
            parts.append(_silence(pause_s, sample_rate))
        parts.append(voice)
    parts.append(_silence(TAIL_S, sample_rate))
    programme = np.concatenate(parts)

    levelled = fit_level(programme, sample_rate, target_lufs=target_lufs, peak_dbfs=peak_dbfs)
    pcm = to_pcm16(levelled.samples)
    output = from_pcm16(pcm)
    return Rendered(
        wav=wav_bytes(pcm, sample_rate),
        mp3=mp3_bytes(pcm, sample_rate),
        duration_s=len(pcm) / sample_rate,
        lufs=integrated_loudness(output, sample_rate),
        peak_dbfs=true_peak_dbfs(output),
        sample_peak_dbfs=sample_peak_dbfs(output),
        sample_rate=sample_rate,
        spoken_text=spoken,
        engine=engine.name,
        speech_s=len(voice) / sample_rate,
        tone_s=len(attention) / sample_rate,
    )
