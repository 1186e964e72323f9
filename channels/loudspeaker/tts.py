"""The TTS engine seam: a small protocol, its speech result, and engine selection."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)


class TtsUnavailable(RuntimeError):
    """An engine cannot run here (library or model missing, bad model); the text says why."""


@dataclass(frozen=True)
class Speech:
    """Mono speech: float32 samples in [-1, 1] at `sample_rate` Hz."""

    samples: NDArray[np.float32]
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


@runtime_checkable
class TtsEngine(Protocol):
    """Turns already normalised Mandarin text into speech. Implementations are thread-safe."""

    @property
    def name(self) -> str:
        """A short label for logs and reports, e.g. "espeak-ng:cmn"."""
        ...

    def synthesize(self, text: str) -> Speech:
        """Speak `text`; raise TtsUnavailable when the engine cannot."""
        ...


def select_engine(
    model_dir: str | os.PathLike[str] | None = None,
    *,
    voice: str = "cmn",
    rate_wpm: int = 150,
    speaker_id: int = 0,
    fallback: bool = True,
) -> TtsEngine:
    """The engine to use: espeak-ng unless a neural model directory is configured.

    With `model_dir` set, a sherpa-onnx engine is built from it; if that fails (sherpa-onnx
    not installed, files missing, model rejected) the warning is logged and espeak-ng is
    used instead, since a robotic warning beats none. `fallback=False` raises
    TtsUnavailable instead, for an operator checking a configuration.
    """
    from channels.loudspeaker.espeak import EspeakEngine

    if model_dir is None or not os.fspath(model_dir).strip():
        return EspeakEngine(voice=voice, rate_wpm=rate_wpm)
    from channels.loudspeaker.sherpa import SherpaOnnxEngine

    try:
        return SherpaOnnxEngine(model_dir, speaker_id=speaker_id)
    except TtsUnavailable as exc:
        if not fallback:
            raise
        log.warning("neural TTS unavailable, using espeak-ng: %s", exc.args[0])
        return EspeakEngine(voice=voice, rate_wpm=rate_wpm)
