"""Channels are plugins: a third-party channel registered through an entry point is
loaded, planned and sent like a built-in one; a duplicate name stops start-up."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from broadcaster.db.database import Database
from broadcaster.delivery import channel_config
from broadcaster.delivery.models import Delivery
from broadcaster.settings import Settings
from channels.base import Outcome, SendItem
from channels.registry import ChannelRegistryError, build_registry, registered
from tests.factories import alerts as fa
from tests.factories import registry as f

MODULE = '''
"""A throwaway channel for the plugin test."""
from pydantic import BaseModel
from channels.base import Audience, Capabilities, Channel, Outcome, SendResult

class PigeonSettings(BaseModel):
    loft: str = "default loft"

class Pigeon(Channel[PigeonSettings]):
    name = "pigeon"
    settings_model = PigeonSettings
    capabilities = Capabilities(audience=Audience.person)

    async def send_batch(self, items):
        loft = self.settings.loft
        return [SendResult(i.key, Outcome.accepted, provider_id=f"{loft}:{i.address}")
                for i in items]

class FakeSms(Pigeon):
    name = "sms"
'''


def install(tmp_path: Path, name: str, entry_points: str) -> None:
    """A minimal installed distribution: a module and a dist-info with entry points."""
    (tmp_path / "pigeon_channel.py").write_text(textwrap.dedent(MODULE))
    info = tmp_path / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def plugin_path(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    registered.cache_clear()
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("pigeon_channel", None)
        registered.cache_clear()


async def test_a_third_party_channel_is_loaded_planned_and_sent(
    plugin_path: Path, db: Database, settings: Settings
) -> None:
    install(plugin_path, "pigeon", "[broadcaster.channels]\npigeon = pigeon_channel:Pigeon\n")
    registry = build_registry()
    assert {"sms", "voice", "email", "wecom_group", "loudspeaker", "pigeon"} <= set(registry)
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(3):
            f.household(session, grid=zones["G1"])
    issued = fa.issue(
        db, settings, zones=["V1"], channels=["sms", "pigeon"], available=set(registry)
    )
    assert issued.channel_counts == {"sms": 3, "pigeon": 3}
    configured = settings.model_copy(update={"channel_options": {"pigeon": {"loft": "东楼"}}})
    channel = channel_config.build_channel("pigeon", configured, drill=False)
    with db.read() as session:
        rows = session.scalars(select(Delivery).where(Delivery.channel == "pigeon")).all()
    items = [SendItem(key=d.id, address=d.address, body="hi") for d in rows]
    results = await channel.send_batch(items)
    assert {r.outcome for r in results} == {Outcome.accepted}
    assert all(r.provider_id and r.provider_id.startswith("东楼:+86") for r in results)


def test_two_channels_with_one_name_stop_start_up(plugin_path: Path) -> None:
    install(plugin_path, "fakesms", "[broadcaster.channels]\nsms = pigeon_channel:FakeSms\n")
    with pytest.raises(ChannelRegistryError, match="'sms'"):
        build_registry()
