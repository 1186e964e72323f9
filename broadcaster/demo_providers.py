"""The providers the demo's simulator plays: mainland (Aliyun and Tencent SMS, Aliyun voice) or
Twilio; their settings, the simulator's accounts for them and the banner's lines."""

from __future__ import annotations

import json
import secrets
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command line imports this module for its choices: keep it light
    from broadcaster.settings import Settings


class Providers(StrEnum):
    mainland = "mainland"
    twilio = "twilio"


MEDIA: dict[Providers, dict[str, list[str]]] = {
    Providers.mainland: {
        "sms": ["aliyun", "tencent"],
        "voice": ["aliyun"],
        "relay": ["aliyun", "tencent"],  # the group owners' texts: the SMS books' relay kind
    },
    Providers.twilio: {"sms": ["twilio"], "voice": ["twilio"], "relay": ["twilio"]},
}
SHOW_NUMBER = "02388880000"  # the demo's purchased Aliyun voice number (Chongqing)
TENCENT_APP = "1400000001"
# Where the simulator plays each mainland provider's API, under its /sim.
ENDPOINTS = {"sms_aliyun": "dysmsapi", "voice_aliyun": "dyvmsapi", "sms_tencent": "tencent"}


def provider_environment(providers: Providers, base: str) -> dict[str, str]:
    """BROADCASTER_* settings for the chosen providers: each medium's order and, for the
    mainland ones, fresh credentials and push tokens and every endpoint at the simulator
    (set in each provider's own table, which wins over the shared one)."""
    env = {"BROADCASTER_MEDIA": json.dumps(MEDIA[providers])}
    if providers is Providers.twilio:
        return env
    options = "BROADCASTER_CHANNEL_OPTIONS__"
    env.update(
        {
            f"{options}ALIYUN__ACCESS_KEY_ID": "LTAI5tDemo" + secrets.token_hex(7),
            f"{options}ALIYUN__ACCESS_KEY_SECRET": secrets.token_urlsafe(22),
            f"{options}ALIYUN__PUSH_TOKEN": secrets.token_urlsafe(18),
            f"{options}VOICE_ALIYUN__CALLED_SHOW_NUMBER": SHOW_NUMBER,
            f"{options}TENCENT__SECRET_ID": "AKIDdemo" + secrets.token_hex(12),
            f"{options}TENCENT__SECRET_KEY": secrets.token_urlsafe(24),
            f"{options}TENCENT__SDK_APP_ID": TENCENT_APP,
            f"{options}TENCENT__HOOK_TOKEN": secrets.token_urlsafe(18),
        }
    )
    for name, path in ENDPOINTS.items():
        env[f"{options}{name.upper()}__ENDPOINT"] = f"{base.rstrip('/')}/sim/{path}"
    return env


def _options(name: str, settings: Settings) -> dict[str, Any]:
    from broadcaster.delivery.channel_config import provider_options
    from channels.registry import registered

    return provider_options(registered()[name], settings)


def _secret(value: Any) -> str:
    return str(getattr(value, "get_secret_value", lambda: value)() or "")


def mainland_accounts(settings: Settings) -> dict[str, Any]:
    """SimConfig fields for the mainland providers the settings use: the same keys, the
    approved templates, and pushes to our hooks with the push token."""
    from broadcaster.sim.aliyun_sms_config import AliyunSmsSimConfig
    from broadcaster.sim.aliyun_voice_config import AliyunVoiceSimConfig
    from broadcaster.sim.tencent_push import TencentSimConfig

    used = {(medium, p) for medium, order in settings.media.items() for p in order}
    used |= {("sms", p) for medium, p in set(used) if medium == "relay"}  # the SMS account
    base = settings.public_base_url.rstrip("/")
    found: dict[str, Any] = {}
    if ("sms", "aliyun") in used:
        o = _options("sms_aliyun", settings)
        hooks = f"{base}/hooks/aliyun"
        token = _secret(o.get("push_token"))
        found["aliyun_sms"] = AliyunSmsSimConfig(
            access_keys={str(o.get("access_key_id")): _secret(o.get("access_key_secret"))},
            public_base=base,
            report_url=f"{hooks}/sms_report?token={token}",
            up_url=f"{hooks}/sms_up?token={token}",
        )
    if ("voice", "aliyun") in used:
        o = _options("voice_aliyun", settings)
        hooks = f"{base}/hooks/aliyun"
        token = _secret(o.get("push_token"))
        show = str(o.get("called_show_number") or "")
        found["aliyun_voice"] = AliyunVoiceSimConfig(
            access_keys={str(o.get("access_key_id")): _secret(o.get("access_key_secret"))},
            show_numbers=[show] if show else [],
            report_url=f"{hooks}/voice_report?token={token}",
            ivr_report_url=f"{hooks}/ivr_report?token={token}",
            auto_answer=True,  # at once, as the Twilio calls of the demo after half a second
            silence_after_ms=20_000,  # no key: the message again, then the call ends
        )
    if ("sms", "tencent") in used:
        o = _options("sms_tencent", settings)
        hooks = f"{base}/hooks/tencent/sms"
        token = _secret(o.get("hook_token"))
        found["tencent"] = TencentSimConfig(
            secrets={str(o.get("secret_id")): _secret(o.get("secret_key"))},
            apps=[str(o.get("sdk_app_id"))],
            public_base=base,
            status_url=f"{hooks}/status?token={token}",
            reply_url=f"{hooks}/reply?token={token}",
        )
    return found


# What the simulator lists for each provider, and how a resident answers through it.
LISTS = {
    ("sms", "twilio"): "/sim/api/messages",
    ("voice", "twilio"): "/sim/api/calls",
    ("sms", "aliyun"): "/sim/api/aliyun/sms",
    ("voice", "aliyun"): "/sim/api/aliyun/voice",
    ("sms", "tencent"): "/sim/api/tencent/sms",
    ("relay", "twilio"): "/sim/api/messages",
    ("relay", "aliyun"): "/sim/api/aliyun/sms",
    ("relay", "tencent"): "/sim/api/tencent/sms",
}
ANSWERS = {
    ("sms", "twilio"): 'POST /sim/api/messages/<sid>/reply {"body": "1"}',
    ("voice", "twilio"): 'POST /sim/api/calls/<sid>/press {"digits": "1"}',
    ("sms", "aliyun"): 'POST /sim/api/aliyun/sms/up {"phone_number": "+86…", "content": "1"}',
    ("sms", "tencent"): 'POST /sim/api/tencent/reply {"phone": "+86…", "text": "1"}',
    ("voice", "aliyun"): 'POST /sim/api/aliyun/voice/calls/<CallId>/press {"digits": "1"}',
}


def banner_lines(settings: Settings, base: str) -> list[str]:
    """Which provider carries each medium, in order, where the simulator lists what it got
    and how a resident replies or presses a key."""
    from channels.registry import providers_of

    carried, seen, answers = [], [], []
    for medium, order in sorted(settings.media.items()):
        installed = providers_of(medium)
        names = [f"{installed[p].label} ({p})" if p in installed else p for p in order]
        carried.append(f"{medium} {' → '.join(names)}")
        seen += [f"{base}{LISTS[medium, p]}" for p in order if (medium, p) in LISTS]
        seen = list(dict.fromkeys(seen))  # relay texts are listed with the SMS
        answers += [ANSWERS[medium, p] for p in order if (medium, p) in ANSWERS]
    return [
        f"  providers (the simulator plays them all): {' · '.join(carried)}",
        f"  simulator lists: {' · '.join(seen)}",
        *(f"  a resident answers: {answer}" for answer in answers),
    ]
