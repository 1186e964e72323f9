"""Tencent Cloud API 3.0 request signatures (TC3-HMAC-SHA256), checked as the provider does."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping

ALGORITHM = "TC3-HMAC-SHA256"
MAX_SKEW_SECONDS = 300
AUTHORIZATION = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/,\s]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z]+)"
    r"/tc3_request, SignedHeaders=(?P<headers>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})$"
)


class SignatureRefused(Exception):
    """The request is not signed by a known secret: its Tencent error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def tc3_signature(
    secret_key: str, *, date: str, service: str, timestamp: str, canonical_request: str
) -> str:
    """The hex signature of a canonical request with the secret key."""
    scope = f"{date}/{service}/tc3_request"
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def verify(
    secrets: Mapping[str, str],
    *,
    method: str,
    uri: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
) -> str:
    """The SecretId that signed the request; SignatureRefused (with Tencent's code) if none."""
    found = AUTHORIZATION.match(headers.get("authorization", ""))
    if found is None:
        raise SignatureRefused("AuthFailure.SignatureFailure", "The Authorization is malformed.")
    secret_key = secrets.get(found["id"])
    if secret_key is None:
        raise SignatureRefused("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
    timestamp = headers.get("x-tc-timestamp", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        raise SignatureRefused("AuthFailure.SignatureExpire", "The signature has expired.")
    day = dt.datetime.fromtimestamp(int(timestamp), dt.UTC).strftime("%Y-%m-%d")
    names = found["headers"].split(";")
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in names)
    get = method == "GET"
    body_hash = hashlib.sha256(b"" if get else body).hexdigest()
    signed = found["headers"]
    canonical = "\n".join((method, uri, query if get else "", canonical_headers, signed, body_hash))
    expected = tc3_signature(
        secret_key,
        date=found["date"],
        service=found["service"],
        timestamp=timestamp,
        canonical_request=canonical,
    )
    if found["date"] != day or not hmac.compare_digest(expected, found["sig"]):
        raise SignatureRefused("AuthFailure.SignatureFailure", "The signature is not correct.")
    return found["id"]
