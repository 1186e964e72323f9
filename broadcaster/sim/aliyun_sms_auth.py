"""Aliyun's ACS3-HMAC-SHA256 request signature, checked as Aliyun's API gateway checks it."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

ALGORITHM = "ACS3-HMAC-SHA256"
AUTHORIZATION = re.compile(
    r"^(?P<algorithm>\S+) Credential=(?P<key>[^,]*),SignedHeaders=(?P<headers>[^,]*),"
    r"Signature=(?P<signature>[0-9a-fA-F]*)$"
)
MAX_SKEW = dt.timedelta(minutes=15)
NONCES_KEPT = 100_000


@dataclass(frozen=True)
class Refusal:
    """The gateway's error: HTTP status, Aliyun's code and message."""

    status: int
    code: str
    message: str


def _encode(value: str) -> str:
    return quote(value, safe="~", encoding="utf-8")


def canonical_query(query: Mapping[str, str]) -> str:
    return "&".join(f"{key}={_encode(query[key])}" for key in sorted(query))


def string_to_sign(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    signed: list[str],
    payload_hash: str,
) -> str:
    """What the client must have signed: the hashed canonical request."""
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    canonical = "\n".join(
        [method, path or "/", canonical_query(query), canonical_headers, ";".join(signed)]
    )
    canonical += "\n" + payload_hash
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


class Verifier:
    """Checks the Authorization header against the secret of its access key, the payload hash,
    the request time and that each nonce is used once."""

    def __init__(self) -> None:
        self.nonces: OrderedDict[str, None] = OrderedDict()

    def check(
        self,
        *,
        secrets: Mapping[str, str],
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        now: dt.datetime | None = None,
    ) -> tuple[str, Refusal | None]:
        """(access key id, None) when the request is signed right, else the refusal."""
        found = AUTHORIZATION.match(headers.get("authorization", ""))
        if found is None:
            return "", Refusal(
                400,
                "IncompleteSignature",
                "The request signature does not conform to Aliyun standards.",
            )
        if found["algorithm"] != ALGORITHM:
            return "", Refusal(
                400,
                "InvalidSignatureMethod",
                f"Specified signature method {found['algorithm']} is not supported.",
            )
        key = found["key"]
        secret = secrets.get(key)
        if secret is None:
            return key, Refusal(
                404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
            )
        payload_hash = hashlib.sha256(body).hexdigest()
        if headers.get("x-acs-content-sha256", "") != payload_hash:
            return key, Refusal(
                400,
                "SignatureDoesNotMatch",
                "The request body does not match its x-acs-content-sha256 header.",
            )
        signed = found["headers"].split(";") if found["headers"] else []
        if "host" not in signed or signed != sorted(signed):
            return key, Refusal(400, "IncompleteSignature", "The Host header must be signed.")
        to_sign = string_to_sign(method, path, query, headers, signed, payload_hash)
        expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, found["signature"].lower()):
            return key, Refusal(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our "
                f"calculation. server string to sign is:{to_sign}",
            )
        return key, self._fresh(headers, now or dt.datetime.now(dt.UTC))

    def _fresh(self, headers: Mapping[str, str], now: dt.datetime) -> Refusal | None:
        try:
            stamp = dt.datetime.strptime(headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return Refusal(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            )
        if abs(now - stamp.replace(tzinfo=dt.UTC)) > MAX_SKEW:
            return Refusal(
                400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
            )
        nonce = headers.get("x-acs-signature-nonce", "")
        if not nonce:
            return Refusal(
                400, "MissingSignatureNonce", "SignatureNonce is mandatory for this action."
            )
        if nonce in self.nonces:
            return Refusal(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        self.nonces[nonce] = None
        while len(self.nonces) > NONCES_KEPT:
            self.nonces.popitem(last=False)
        return None
