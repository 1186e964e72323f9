"""render_announcement end to end: WAV and MP3 that parse, with the layout and levels asked."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from channels.loudspeaker import Rendered, Speech, render_announcement
from channels.loudspeaker.encode import from_pcm16, read_mp3_frames
from channels.loudspeaker.loudness import integrated_loudness, true_peak_dbfs
from channels.loudspeaker.render import LEAD_IN_S, TAIL_S, TONE_GAP_S

TEXT = "【某某镇防汛办】预计今晚20:00起有大暴雨，雨量80-120mm，请沿河群众立即转移。"


def wav_samples(rendered: Rendered) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(rendered.wav), "rb") as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        frames = wav.readframes(wav.getnframes())
        rate = wav.getframerate()
    return from_pcm16(np.frombuffer(frames, dtype="<i2")), rate


@pytest.fixture(scope="module")
def beeps_x2() -> Rendered:
    return render_announcement(TEXT, tone="beeps", repeat=2)


def test_wav_is_mono_16bit_with_the_reported_duration(beeps_x2: Rendered) -> None:
    samples, rate = wav_samples(beeps_x2)
    assert rate == beeps_x2.sample_rate == 22050
    assert len(samples) / rate == pytest.approx(beeps_x2.duration_s)
    assert beeps_x2.engine == "espeak-ng:cmn"
    assert "八十到一百二十毫米" in beeps_x2.spoken_text


def test_loudness_and_peak_measured_on_the_file(beeps_x2: Rendered) -> None:
    samples, rate = wav_samples(beeps_x2)
    lufs = integrated_loudness(samples, rate)
    assert lufs == pytest.approx(-16.0, abs=1.0)
    assert lufs == pytest.approx(beeps_x2.lufs, abs=0.01)
    assert true_peak_dbfs(samples) <= -2.0
    assert float(np.max(np.abs(samples))) <= 10 ** (-2.0 / 20)
    assert beeps_x2.peak_dbfs <= -2.0


def layout_s(rendered: Rendered, repeat: int, pause_s: float) -> float:
    """The length the layout promises: lead-in, tone and gap, N readings, N-1 pauses, tail."""
    tone = rendered.tone_s + TONE_GAP_S if rendered.tone_s else 0.0
    return LEAD_IN_S + tone + repeat * rendered.speech_s + (repeat - 1) * pause_s + TAIL_S


def test_layout_is_tone_then_message_repeated(beeps_x2: Rendered) -> None:
    assert beeps_x2.duration_s == pytest.approx(layout_s(beeps_x2, 2, 1.5), abs=2 / 22050)
    samples, rate = wav_samples(beeps_x2)
    lead = samples[: int(LEAD_IN_S * rate) - 1]
    assert np.all(lead == 0)
    tone = samples[int(LEAD_IN_S * rate) : int((LEAD_IN_S + beeps_x2.tone_s) * rate)]
    spectrum = np.abs(np.fft.rfft(tone))
    assert np.argmax(spectrum) * rate / len(tone) == pytest.approx(1000, abs=5)
    gap = samples[int((LEAD_IN_S + beeps_x2.tone_s) * rate) + 1 :][: int(TONE_GAP_S * rate) - 2]
    assert np.all(gap == 0)


def test_each_repeat_adds_one_reading_and_one_pause() -> None:
    # espeak-ng keeps a little state between calls (pitch flutter), so two renderings of
    # one text may differ by a few samples: compare each with its own layout.
    once = render_announcement("请注意，水位上涨。", tone="none", repeat=1, pause_s=2.0)
    thrice = render_announcement("请注意，水位上涨。", tone="none", repeat=3, pause_s=2.0)
    assert once.tone_s == 0.0
    assert once.duration_s == pytest.approx(layout_s(once, 1, 2.0), abs=2 / 22050)
    assert thrice.duration_s == pytest.approx(layout_s(thrice, 3, 2.0), abs=2 / 22050)
    assert thrice.speech_s == pytest.approx(once.speech_s, abs=0.05)
    assert thrice.duration_s - once.duration_s == pytest.approx(2 * (once.speech_s + 2.0), abs=0.1)


def test_the_text_drives_the_speech() -> None:
    short = render_announcement("请注意。", tone="none", repeat=1)
    long = render_announcement(TEXT, tone="none", repeat=1)
    assert long.speech_s > short.speech_s + 5.0
    assert long.duration_s > short.duration_s + 5.0


def test_two_tone_siren_leads_the_message() -> None:
    siren = render_announcement(TEXT, tone="two_tone", repeat=2)
    assert siren.tone_s == pytest.approx(3.0)
    assert siren.duration_s == pytest.approx(layout_s(siren, 2, 1.5), abs=2 / 22050)
    assert siren.lufs == pytest.approx(-16.0, abs=1.0)
    assert siren.peak_dbfs <= -2.0


def test_mp3_is_64kbps_mono_of_the_same_length(beeps_x2: Rendered) -> None:
    mp3 = beeps_x2.mp3
    assert mp3[:3] == b"ID3" or (mp3[0] == 0xFF and mp3[1] & 0xE0 == 0xE0)
    info = read_mp3_frames(mp3)
    assert info.bitrates_kbps == {64}
    assert info.channels == 1
    assert info.sample_rate == 22050
    # LAME adds its encoder delay and pads the last frame: a few frames of 26 ms at most
    assert 0 <= info.duration_s - beeps_x2.duration_s < 0.2
    assert len(mp3) == pytest.approx(64000 / 8 * info.duration_s, rel=0.02)


def test_mp3_decodes_to_the_same_programme(beeps_x2: Rendered) -> None:
    miniaudio = pytest.importorskip("miniaudio", reason="MP3 decoding needs miniaudio (dev)")
    decoded = miniaudio.decode(
        beeps_x2.mp3,
        output_format=miniaudio.SampleFormat.SIGNED16,
        nchannels=1,
        sample_rate=beeps_x2.sample_rate,
    )
    samples = np.asarray(decoded.samples, dtype=np.float64) / 32768.0
    assert len(samples) / decoded.sample_rate == pytest.approx(beeps_x2.duration_s, abs=0.2)
    # a 64 kbps encode of the same programme: loudness within 1 LU
    assert integrated_loudness(samples, decoded.sample_rate) == pytest.approx(-16.0, abs=1.0)


def test_other_sample_rates_resample_the_voice() -> None:
    narrow = render_announcement("请注意，水位上涨。", tone="beeps", repeat=1, sample_rate=16000)
    samples, rate = wav_samples(narrow)
    assert rate == 16000
    assert narrow.lufs == pytest.approx(-16.0, abs=1.0)
    assert true_peak_dbfs(samples) <= -2.0
    info = read_mp3_frames(narrow.mp3)
    assert (info.sample_rate, info.channels, info.bitrates_kbps) == (16000, 1, frozenset({64}))


class SilentEngine:
    name = "silent"

    def synthesize(self, text: str) -> Speech:
        return Speech(samples=np.zeros(16000, dtype=np.float32), sample_rate=16000)


class HummingEngine:
    """A stand-in voice: one 200 ms hum per character, so the text sets the length."""

    name = "hum"

    def synthesize(self, text: str) -> Speech:
        rate = 16000
        t = np.arange(rate // 5) / rate
        hum = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        return Speech(samples=np.tile(hum, len(text)), sample_rate=rate)


def test_a_given_engine_is_used() -> None:
    rendered = render_announcement("请注意", tone="none", repeat=1, engine=HummingEngine())
    assert rendered.engine == "hum"
    assert rendered.speech_s == pytest.approx(0.6, abs=0.01)
    assert rendered.lufs == pytest.approx(-16.0, abs=1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"repeat": 0}, "repeat"),
        ({"pause_s": -1.0}, "pause_s"),
        ({"sample_rate": 12345}, "sample_rate"),
        ({"tone": "klaxon"}, "unknown tone"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_announcement("请注意", engine=HummingEngine(), **kwargs)  # type: ignore[arg-type]


def test_nothing_to_say_is_refused() -> None:
    with pytest.raises(ValueError, match="nothing to say"):
        render_announcement("【】 ★", engine=HummingEngine())
    with pytest.raises(ValueError, match="only silence"):
        render_announcement("请注意", engine=SilentEngine())
