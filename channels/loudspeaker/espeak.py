"""espeak-ng through the library and data shipped in the espeakng-loader wheel (ctypes)."""

from __future__ import annotations

import ctypes
import importlib
import threading
from pathlib import Path
from typing import Any

import numpy as np

from channels.loudspeaker.tts import Speech, TtsUnavailable

# speak_lib.h constants (API revision 12).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_EE_OK = 0

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

DEFAULT_VOLUME = 60
"""espeak-ng's volume 100 clips on Mandarin; 60 leaves headroom (loudness is set later)."""


class _Library:
    """The process-wide espeak-ng instance: it keeps global state, so one lock guards it."""

    _instance: _Library | None = None
    _create_lock = threading.Lock()

    def __init__(self) -> None:
        try:
            espeakng_loader: Any = importlib.import_module("espeakng_loader")
        except ImportError as exc:
            raise TtsUnavailable(
                "espeak-ng is not installed (pip install espeakng-loader)"
            ) from exc
        library_path = str(espeakng_loader.get_library_path())
        data_path = str(espeakng_loader.get_data_path())
        try:
            self._lib = ctypes.CDLL(library_path)
        except OSError as exc:
            raise TtsUnavailable(f"cannot load libespeak-ng from {library_path}: {exc}") from exc
        lib = self._lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise TtsUnavailable(f"espeak-ng failed to initialise with data at {data_path}")
        self.sample_rate = int(rate)
        self.data_path = Path(data_path)
        self.lock = threading.Lock()
        self._chunks: list[bytes] = []
        self._callback = _SynthCallback(self._collect)  # kept referenced: C holds a pointer
        lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def get(cls) -> _Library:
        with cls._create_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int) -> int:
        if wav and count > 0:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    def speak(self, text: str, *, voice: str, rate_wpm: int, pitch: int, volume: int) -> bytes:
        """16-bit little-endian PCM at self.sample_rate for `text`."""
        encoded = text.encode("utf-8")
        with self.lock:
            lib = self._lib
            if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise TtsUnavailable(f"espeak-ng has no voice {voice!r}")
            lib.espeak_SetParameter(_PARAM_RATE, rate_wpm, 0)
            lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
            lib.espeak_SetParameter(_PARAM_VOLUME, volume, 0)
            self._chunks = []
            status = lib.espeak_Synth(
                encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            chunks, self._chunks = self._chunks, []
        if status != _EE_OK:
            raise TtsUnavailable(f"espeak-ng synthesis failed (status {status})")
        return b"".join(chunks)


class EspeakEngine:
    """Formant speech from espeak-ng: robotic but intelligible, tiny, fast, always there.

    `rate_wpm` is espeak's rate; for the cmn voice 150 gives about 3.3 characters a second,
    a little slower than broadcast speech, which suits outdoor horns and their echoes.
    """

    def __init__(
        self,
        *,
        voice: str = "cmn",
        rate_wpm: int = 150,
        pitch: int = 50,
        volume: int = DEFAULT_VOLUME,
    ) -> None:
        if not 80 <= rate_wpm <= 450:
            raise ValueError("espeak-ng rate must be within 80..450 words per minute")
        self._library = _Library.get()
        self.voice = voice
        self.rate_wpm = rate_wpm
        self.pitch = pitch
        self.volume = volume

    @property
    def name(self) -> str:
        return f"espeak-ng:{self.voice}"

    @property
    def sample_rate(self) -> int:
        return self._library.sample_rate

    def synthesize(self, text: str) -> Speech:
        pcm = self._library.speak(
            text, voice=self.voice, rate_wpm=self.rate_wpm, pitch=self.pitch, volume=self.volume
        )
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        return Speech(samples=samples, sample_rate=self._library.sample_rate)
