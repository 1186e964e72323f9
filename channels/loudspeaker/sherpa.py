"""Optional neural TTS: a sherpa-onnx VITS model (e.g. a Mandarin or Piper zh_CN voice) on disk."""

from __future__ import annotations

import importlib
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from channels.loudspeaker.tts import Speech, TtsUnavailable


def _files(model_dir: Path) -> dict[str, str]:
    """The sherpa-onnx VITS files in a model directory, as its release archives lay them out.

    Required: one *.onnx model and tokens.txt. Optional: lexicon.txt (lexicon models such as
    the aishell3 / fanchen voices), dict/ (jieba), espeak-ng-data/ (Piper voices; the copy in
    the espeakng-loader wheel is used when absent), *.fst number/date rules.
    """
    if not model_dir.is_dir():
        raise TtsUnavailable(f"TTS model directory {model_dir} does not exist")
    models = sorted(model_dir.glob("*.onnx"))
    if len(models) != 1:
        found = ", ".join(path.name for path in models) or "none"
        raise TtsUnavailable(f"{model_dir} must hold exactly one .onnx model (found {found})")
    tokens = model_dir / "tokens.txt"
    if not tokens.is_file():
        raise TtsUnavailable(f"{model_dir} has no tokens.txt")
    lexicon = model_dir / "lexicon.txt"
    data_dir = model_dir / "espeak-ng-data"
    files = {
        "model": str(models[0]),
        "tokens": str(tokens),
        "lexicon": str(lexicon) if lexicon.is_file() else "",
        "dict_dir": str(model_dir / "dict") if (model_dir / "dict").is_dir() else "",
        "data_dir": str(data_dir) if data_dir.is_dir() else "",
        "rule_fsts": ",".join(str(path) for path in sorted(model_dir.glob("*.fst"))),
    }
    if not files["lexicon"] and not files["data_dir"]:
        files["data_dir"] = _wheel_espeak_data()
    return files


def _wheel_espeak_data() -> str:
    try:
        loader = importlib.import_module("espeakng_loader")
    except ImportError as exc:
        raise TtsUnavailable("model has no lexicon.txt nor espeak-ng-data/") from exc
    return str(loader.get_data_path())


class SherpaOnnxEngine:
    """Speech from a VITS model run by sherpa-onnx (pip install sherpa-onnx; CPU, offline).

    Nothing is downloaded: the model directory must already be on disk, e.g. an unpacked
    sherpa-onnx release such as vits-piper-zh_CN-huayan-medium or vits-icefall-zh-aishell3.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        *,
        speaker_id: int = 0,
        speed: float = 1.0,
        num_threads: int = 1,
    ) -> None:
        self.model_dir = Path(model_dir)
        files = _files(self.model_dir)
        try:
            sherpa: Any = importlib.import_module("sherpa_onnx")
        except ImportError as exc:
            raise TtsUnavailable("sherpa-onnx is not installed (pip install sherpa-onnx)") from exc
        config = sherpa.OfflineTtsConfig(
            model=sherpa.OfflineTtsModelConfig(
                vits=sherpa.OfflineTtsVitsModelConfig(
                    model=files["model"],
                    lexicon=files["lexicon"],
                    tokens=files["tokens"],
                    data_dir=files["data_dir"],
                    dict_dir=files["dict_dir"],
                ),
                num_threads=num_threads,
                provider="cpu",
            ),
            rule_fsts=files["rule_fsts"],
            max_num_sentences=1,
        )
        if not config.validate():
            raise TtsUnavailable(f"sherpa-onnx rejected the model in {self.model_dir}")
        try:
            self._tts: Any = sherpa.OfflineTts(config)
        except Exception as exc:  # the C++ side raises RuntimeError of its own kinds
            raise TtsUnavailable(f"sherpa-onnx could not load {self.model_dir}: {exc}") from exc
        self.speaker_id = speaker_id
        self.speed = speed
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"sherpa-onnx:{self.model_dir.name}"

    def synthesize(self, text: str) -> Speech:
        with self._lock:
            audio = self._tts.generate(text, sid=self.speaker_id, speed=self.speed)
        samples = np.asarray(audio.samples, dtype=np.float32)
        if samples.size == 0:
            raise TtsUnavailable(f"sherpa-onnx produced no audio for {text[:20]!r}")
        return Speech(samples=np.clip(samples, -1.0, 1.0), sample_rate=int(audio.sample_rate))
