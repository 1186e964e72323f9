"""X-Twilio-Signature: HMAC-SHA1 of the URL plus sorted form fields, base64."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Twilio-Signature"


def signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Sign a webhook the way the provider does: the full URL, then name+value per
    POST field in name order, keyed with the account's auth token."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
