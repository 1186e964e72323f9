"""Offline rendering of warnings for village loudspeakers: text → tone + speech → WAV/MP3."""

from __future__ import annotations

from channels.loudspeaker.normalize import normalize
from channels.loudspeaker.render import Rendered, default_engine, render_announcement
from channels.loudspeaker.tones import TONE_KINDS, ToneKind
from channels.loudspeaker.tts import Speech, TtsEngine, TtsUnavailable, select_engine

__all__ = [
    "TONE_KINDS",
    "Rendered",
    "Speech",
    "ToneKind",
    "TtsEngine",
    "TtsUnavailable",
    "default_engine",
    "normalize",
    "render_announcement",
    "select_engine",
]
