"""Aliyun's ACS3-HMAC-SHA256 request signature, checked as Aliyun's gateway checks it."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

ALGORITHM = "ACS3-HMAC-SHA256"
# Headers a request must sign; Aliyun refuses a request whose signature leaves one out.
REQUIRED = ("host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce")
MAX_SKEW_SECONDS = 15 * 60


@dataclass(frozen=True)
class Refusal:
    """Why the gateway refuses a request: HTTP status, Aliyun's Code and Message."""

    status: int
    code: str
    message: str


def _encode(text: str) -> str:
    return quote(text, safe="~", encoding="utf-8")


def canonical_query(query: Mapping[str, str]) -> str:
    return "&".join(f"{_encode(k)}={_encode(query[k])}" for k in sorted(query))


def string_to_sign(
    method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], signed: list[str]
) -> str:
    """The hashed canonical request, prefixed by the algorithm."""
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    canonical = "\n".join(
        (
            method.upper(),
            path or "/",
            canonical_query(query),
            canonical_headers,
            ";".join(signed),
            headers.get("x-acs-content-sha256", ""),
        )
    )
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def _authorization(header: str) -> dict[str, str] | None:
    algorithm, _, rest = header.partition(" ")
    if algorithm != ALGORITHM:
        return None
    parts = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    return parts if {"Credential", "SignedHeaders", "Signature"} <= parts.keys() else None


class Verifier:
    """Checks requests against the account keys (AccessKey ID → secret) and remembers nonces."""

    def __init__(self) -> None:
        self._nonces: set[str] = set()
        self._order: deque[tuple[float, str]] = deque()  # (when, nonce), oldest first

    def check(
        self,
        *,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        secrets: Mapping[str, str],
        now: dt.datetime | None = None,
    ) -> tuple[str, Refusal | None]:
        """(the AccessKey ID, None) when the request is signed by a known key, else why not.
        `secrets` maps AccessKey IDs to their secrets; `headers` must have lower-case names;
        `path` is the canonical URI (RPC APIs: "/")."""
        auth = _authorization(headers.get("authorization", ""))
        if auth is None:
            return "", Refusal(400, "IncompleteSignature", "The request signature is incomplete.")
        key_id, signed = auth["Credential"], auth["SignedHeaders"].split(";")
        secret = secrets.get(key_id)
        if secret is None:
            return key_id, Refusal(
                404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
            )
        if any(name not in signed for name in REQUIRED) or signed != sorted(signed):
            return key_id, Refusal(400, "IncompleteSignature", "Required headers are not signed.")
        if headers.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest():
            return key_id, Refusal(400, "InvalidPayload", "The payload hash does not match.")
        wanted = hmac.new(
            secret.encode(),
            string_to_sign(method, path, query, headers, signed).encode(),
            hashlib.sha256,
        ).hexdigest()
        if not hmac.compare_digest(wanted, auth["Signature"]):
            return key_id, Refusal(
                400,
                "SignatureDoesNotMatch",
                "Specified signature does not match our calculation.",
            )
        return key_id, self._fresh(headers, (now or dt.datetime.now(dt.UTC)).timestamp())

    def _fresh(self, headers: Mapping[str, str], now: float) -> Refusal | None:
        """The request's date near now and its nonce never seen (a replay is refused)."""
        try:
            stamp = dt.datetime.strptime(headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return Refusal(400, "InvalidTimeStamp.Format", "Specified time stamp is not valid.")
        if abs(stamp.replace(tzinfo=dt.UTC).timestamp() - now) > MAX_SKEW_SECONDS:
            return Refusal(400, "InvalidTimeStamp.Expired", "Specified time stamp has expired.")
        nonce = headers.get("x-acs-signature-nonce", "")
        if nonce in self._nonces:
            return Refusal(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        # a nonce older than twice the allowed skew cannot come back: its date is refused
        cutoff = now - 2 * MAX_SKEW_SECONDS
        while self._order and self._order[0][0] < cutoff:
            self._nonces.discard(self._order.popleft()[1])
        self._nonces.add(nonce)
        self._order.append((now, nonce))
        return None
