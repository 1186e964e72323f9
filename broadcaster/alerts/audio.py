"""An alert's loudspeaker audio, rendered once and cached under the data directory."""

from __future__ import annotations

import fcntl
import hashlib
from pathlib import Path

from broadcaster.alerts.models import Alert
from broadcaster.alerts.texts import render
from broadcaster.settings import Settings
from channels.base import TextForm
from channels.loudspeaker import render_announcement

FORMATS = ("mp3", "wav")


def script(alert: Alert, settings: Settings) -> str:
    """What a loudspeaker says, the broadcast form of the text (before the TTS normalisation
    of numbers and units)."""
    return render(
        alert,
        channel=TextForm.broadcast,
        language=settings.language,
        templates_dir=settings.config_dir / "templates",
        sender=settings.sender_name,
    ).template


def audio_file(alert: Alert, settings: Settings, fmt: str) -> Path:
    """The rendered file (mp3 or wav); rendered on first use, then reused.

    The name carries a digest of the script, so an updated alert gets fresh audio.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown audio format {fmt!r}")
    text = script(alert, settings)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    folder = settings.data_dir / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"alert-{alert.id}-{digest}.{fmt}"
    if target.exists():
        return target
    with (folder / f"alert-{alert.id}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one render per alert, even across processes
        if not target.exists():
            rendered = render_announcement(text)
            for kind, data in (("mp3", rendered.mp3), ("wav", rendered.wav)):
                final = folder / f"alert-{alert.id}-{digest}.{kind}"
                partial = final.with_suffix(f".{kind}.part")
                partial.write_bytes(data)
                partial.replace(final)
    return target
