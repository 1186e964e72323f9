"""Simulator pieces without servers: segments, signing, URL rewriting, seeding, isolation."""

from __future__ import annotations

import ast
import random
import string
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from pydantic import ValidationError
from twilio.request_validator import RequestValidator

from broadcaster.sim import SimConfig, create_sim_app, sim_state
from broadcaster.sim.forms import encode_form, parse_form
from broadcaster.sim.inbound import twiml_replies
from broadcaster.sim.segments import count_segments, encoding
from broadcaster.sim.signing import signature
from channels.twilio_http import rewrite_url

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, TOKEN = "AC" + "0f" * 16, "tok"


@pytest.mark.parametrize(
    ("text", "segments", "kind"),
    [
        ("", 1, "GSM-7"),
        ("a" * 160, 1, "GSM-7"),
        ("a" * 161, 2, "GSM-7"),
        ("a" * 306, 2, "GSM-7"),
        ("a" * 307, 3, "GSM-7"),
        ("€" * 80, 1, "GSM-7"),
        ("a" * 152 + "€" + "a" * 10, 2, "GSM-7"),  # 165 septets: escape not split
        ("a" * 152 + "€" + "a" * 152, 3, "GSM-7"),  # the pair moves to segment 2
        ("预" * 70, 1, "UCS-2"),
        ("预" * 71, 2, "UCS-2"),
        ("预" * 201, 3, "UCS-2"),
        ("预" * 202, 4, "UCS-2"),
        ("a" * 69 + "预", 1, "UCS-2"),
        ("🌊" * 35, 1, "UCS-2"),  # 70 UTF-16 code units
        ("🌊" * 36, 2, "UCS-2"),
        ("a" * 66 + "🌊" + "a" * 10, 2, "UCS-2"),  # surrogate pair not split
    ],
)
def test_count_segments(text: str, segments: int, kind: str) -> None:
    assert count_segments(text) == segments
    assert encoding(text) == kind


def test_signature_matches_the_official_validator() -> None:
    url = "https://example.org:8443/hooks/status?x=1&y=two"
    params = {"MessageSid": "SM1", "Body": "收到 & ok", "To": "+8613800000000", "Empty": ""}
    signed = signature(TOKEN, url, params)
    validator = RequestValidator(TOKEN)
    assert signed == validator.compute_signature(url, params)
    assert validator.validate(url, params, signed)
    assert not validator.validate(url, {**params, "Body": "收到"}, signed)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        (None, "https://api.twilio.com/2010-04-01/A/Messages.json?x=1"),
        ("http://127.0.0.1:8900/sim", "http://127.0.0.1:8900/sim/2010-04-01/A/Messages.json?x=1"),
        ("http://sim.local:81/", "http://sim.local:81/2010-04-01/A/Messages.json?x=1"),
    ],
)
def test_rewrite_url(base: str | None, expected: str) -> None:
    assert rewrite_url("https://api.twilio.com/2010-04-01/A/Messages.json?x=1", base) == expected


def test_twiml_replies() -> None:
    assert twiml_replies("<Response><Message>收到 &amp; 谢谢</Message></Response>") == [
        "收到 & 谢谢"
    ]
    assert twiml_replies("<Response><Message><Body>ok</Body></Message></Response>") == ["ok"]
    assert twiml_replies("<Response/>") == []


def test_config_patch_validates() -> None:
    config = SimConfig(accounts={ACCOUNT: TOKEN})
    assert config.patched({"latency_ms": 5}).latency_ms == 5
    with pytest.raises(ValidationError):
        config.patched({"failed_rate": 1.5})
    with pytest.raises(ValidationError):
        config.patched({"unknown": 1})


async def _create_three(seed: int) -> list[dict[str, Any]]:
    config = SimConfig(accounts={ACCOUNT: TOKEN}, seed=seed, callbacks=False, failed_rate=0.5)
    app = create_sim_app(config)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            sids = []
            for n in range(3):
                response = await client.post(
                    f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
                    data={"To": f"+861390000000{n}", "From": "+15005550006", "Body": "x"},
                    auth=(ACCOUNT, TOKEN),
                )
                assert response.status_code == 201, response.text
                sids.append(response.json()["sid"])
            return [(await client.get(f"/api/messages/{sid}")).json() for sid in sids]
    finally:
        await sim_state(app).aclose()


async def test_same_seed_same_sids_and_fates() -> None:
    first, second = await _create_three(11), await _create_three(11)
    other = await _create_three(12)
    assert [(m["sid"], m["fate"]) for m in first] == [(m["sid"], m["fate"]) for m in second]
    assert [m["sid"] for m in first] != [m["sid"] for m in other]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_simulator_is_a_stranger_to_the_service() -> None:
    for path in sorted((ROOT / "broadcaster" / "sim").glob("*.py")):
        foreign = {
            name
            for name in _imports(path)
            if name.startswith("broadcaster") and not name.startswith("broadcaster.sim")
        }
        assert foreign == set(), path
    assert not any(n.startswith("broadcaster") for n in _imports(ROOT / "channels/twilio_http.py"))


def test_form_codec_agrees_with_urllib() -> None:
    rng = random.Random(5)
    alphabet = string.printable + "暴雨预警🌊é€%+=&"
    for _ in range(3000):
        fields = {
            f"F{n}": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
            for n in range(4)
        }
        encoded = encode_form(fields)
        assert encoded.decode() == urlencode(fields)
        assert parse_form(encoded.decode())[0] == fields
        raw = "".join(rng.choice("ab%2Fe6=+& \t\r\nzZ9") for _ in range(rng.randint(0, 25)))
        assert parse_form(raw)[0] == dict(parse_qsl(raw, keep_blank_values=True))
    assert parse_form("MediaUrl=a&MediaUrl=b&To=1")[1]["MediaUrl"] == 2


async def _through_fastapi() -> tuple[int, int]:
    from fastapi import FastAPI

    sim = create_sim_app(SimConfig(accounts={ACCOUNT: TOKEN}, callbacks=False))
    api = FastAPI()
    api.mount("/sim", sim)
    transport = httpx.ASGITransport(app=api)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            created = await client.post(
                f"/sim/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
                data={"To": "+8613900000001", "From": "+15005550006", "Body": "x"},
                auth=(ACCOUNT, TOKEN),
            )
            stats = await client.get("/sim/api/stats")
            return created.status_code, stats.json()["messages"]
    finally:
        await sim_state(sim).aclose()


async def test_mounts_inside_a_fastapi_app() -> None:
    assert await _through_fastapi() == (201, 1)
