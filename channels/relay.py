"""Relay channel: personal WeChat and QQ groups have no API, so a person forwards the alert.

The channel texts the group's owner (later the zone lead) a personal link to a relay page
with the ready-to-paste text; it sends through the Twilio Messages API exactly like the
`sms` channel (same settings, same provider, the simulator for drills). Forwarding itself is
recorded by the core when the owner taps "已转发 / forwarded".
"""

from __future__ import annotations

from channels.base import Audience, Capabilities, Reach, TextForm
from channels.sms_twilio import SmsTwilio


class Relay(SmsTwilio):
    """One SMS per relay task holder; the item's address is the holder's mobile number."""

    name = "relay"
    label = "群转发"
    capabilities = Capabilities(
        audience=Audience.group,
        confirmations=frozenset({"relay"}),
        max_body_chars=670,
        reach=Reach.group_owner,
        form=TextForm.forward,
    )
