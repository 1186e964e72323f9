"""TTS engines: espeak-ng from the wheel speaks Mandarin; the neural engine is optional."""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from channels.loudspeaker.espeak import EspeakEngine
from channels.loudspeaker.sherpa import SherpaOnnxEngine
from channels.loudspeaker.tts import Speech, TtsEngine, TtsUnavailable, select_engine


@pytest.fixture(scope="module")
def espeak() -> EspeakEngine:
    return EspeakEngine()


def test_espeak_speaks_mandarin_from_the_wheel(espeak: EspeakEngine) -> None:
    speech = espeak.synthesize("乡亲们请注意，河道水位正在上涨。")
    assert isinstance(espeak, TtsEngine)
    assert espeak.name == "espeak-ng:cmn"
    assert speech.sample_rate == 22050
    assert speech.samples.dtype == np.float32
    # fourteen syllables at ~3 a second: seconds of speech, not a spelled-out "Chinese letter"
    assert 2.5 < speech.duration_s < 8.0
    assert 0.05 < float(np.max(np.abs(speech.samples))) < 1.0


def test_longer_text_makes_longer_speech(espeak: EspeakEngine) -> None:
    short = espeak.synthesize("请注意。")
    long = espeak.synthesize("请注意。请沿河低洼地带群众立即转移到安全地点。")
    assert long.duration_s > short.duration_s + 2.0


def test_rate_changes_the_pace() -> None:
    text = "请沿河低洼地带群众立即转移到安全地点。"
    slow = EspeakEngine(rate_wpm=120).synthesize(text)
    fast = EspeakEngine(rate_wpm=220).synthesize(text)
    assert slow.duration_s > fast.duration_s * 1.3


def test_unknown_voice_is_a_clear_error() -> None:
    with pytest.raises(TtsUnavailable, match="no voice"):
        EspeakEngine(voice="xx-nope").synthesize("你好")


def test_not_configured_selects_espeak() -> None:
    assert select_engine().name == "espeak-ng:cmn"
    assert select_engine("  ").name == "espeak-ng:cmn"


def test_missing_model_falls_back_to_espeak_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        engine = select_engine(tmp_path / "no-such-model")
    assert engine.name == "espeak-ng:cmn"
    assert "does not exist" in caplog.text


def test_missing_model_without_fallback_raises(tmp_path: Path) -> None:
    with pytest.raises(TtsUnavailable, match="does not exist"):
        select_engine(tmp_path / "no-such-model", fallback=False)


def model_dir(tmp_path: Path) -> Path:
    (tmp_path / "zh-voice.onnx").write_bytes(b"not really a model")
    (tmp_path / "tokens.txt").write_text("_ 0\n", encoding="utf-8")
    (tmp_path / "lexicon.txt").write_text("你 n i3\n", encoding="utf-8")
    return tmp_path


def test_incomplete_model_dir_is_explained(tmp_path: Path) -> None:
    (tmp_path / "a.onnx").write_bytes(b"")
    with pytest.raises(TtsUnavailable, match=r"tokens\.txt"):
        SherpaOnnxEngine(tmp_path)
    (tmp_path / "b.onnx").write_bytes(b"")
    with pytest.raises(TtsUnavailable, match=r"exactly one \.onnx"):
        SherpaOnnxEngine(tmp_path)


def test_sherpa_not_installed_is_explained_and_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sherpa_onnx", None)  # import fails as if absent
    with pytest.raises(TtsUnavailable, match="sherpa-onnx is not installed"):
        select_engine(model_dir(tmp_path), fallback=False)
    assert select_engine(model_dir(tmp_path)).name == "espeak-ng:cmn"


class FakeSherpa(types.ModuleType):
    """Stands in for sherpa_onnx: records the configuration, returns a short tone."""

    def __init__(self, valid: bool = True) -> None:
        super().__init__("sherpa_onnx")
        self.valid = valid
        self.generated: list[tuple[str, int, float]] = []

    def OfflineTtsVitsModelConfig(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    def OfflineTtsModelConfig(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    def OfflineTtsConfig(self, **kwargs: Any) -> Any:
        fake = self
        return types.SimpleNamespace(validate=lambda: fake.valid, **kwargs)

    def OfflineTts(self, config: Any) -> Any:
        self.config = config
        fake = self

        def generate(text: str, sid: int, speed: float) -> Any:
            fake.generated.append((text, sid, speed))
            samples = (0.3 * np.sin(np.arange(16000) / 3.0)).tolist()
            return types.SimpleNamespace(samples=samples, sample_rate=16000)

        return types.SimpleNamespace(generate=generate)


def test_sherpa_adapter_wires_the_model_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeSherpa()
    monkeypatch.setitem(sys.modules, "sherpa_onnx", fake)
    engine = select_engine(model_dir(tmp_path), speaker_id=3, fallback=False)
    assert engine.name == f"sherpa-onnx:{tmp_path.name}"
    speech = engine.synthesize("你好")
    assert isinstance(speech, Speech)
    assert speech.sample_rate == 16000
    assert speech.duration_s == pytest.approx(1.0)
    assert fake.generated == [("你好", 3, 1.0)]
    vits = fake.config.model["vits"]
    assert vits["model"].endswith("zh-voice.onnx")
    assert vits["lexicon"].endswith("lexicon.txt")
    assert vits["data_dir"] == ""  # a lexicon model needs no espeak-ng data


def test_sherpa_rejecting_the_model_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sherpa_onnx", FakeSherpa(valid=False))
    with pytest.raises(TtsUnavailable, match="rejected"):
        SherpaOnnxEngine(model_dir(tmp_path))
