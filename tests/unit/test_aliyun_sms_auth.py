"""The simulator (SMS and voice alike) checks Aliyun's ACS3-HMAC-SHA256 signatures as the SDK
makes them (the SDK's own signer signs here): tampering, replays, stale dates, strangers."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from alibabacloud_tea_openapi.utils import Utils
from darabonba.request import DaraRequest

from broadcaster.sim.aliyun_signing import Verifier

KEY, SECRET = "LTAI5tUnitTestKey", "unit-test-secret-0123456789"
SECRETS = {KEY: SECRET}
QUERY = {
    "PhoneNumbers": "13912345678",
    "SignName": "防汛抗旱指挥部",
    "TemplateCode": "SMS_480000110",
    "TemplateParam": '{"headline": "暴雨 橙色+预警/测试~*"}',
    "OutId": "42",
}


def signed(
    query: dict[str, str], *, body: bytes = b"", at: dt.datetime | None = None, key: str = KEY
) -> dict[str, Any]:
    """A request as the SDK signs it: method, path, query, headers, body."""
    request = DaraRequest()
    request.method, request.pathname, request.query = "POST", "/", dict(query)
    stamp = (at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = hashlib.sha256(body).hexdigest()
    request.headers = {
        "host": "dysmsapi.aliyuncs.com",
        "x-acs-version": "2017-05-25",
        "x-acs-action": "SendSms",
        "user-agent": "AlibabaCloud (Linux) Python/3.11 Core/1.0",
        "x-acs-date": stamp,
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "accept": "application/json",
        "x-acs-content-sha256": payload,
    }
    headers = dict(request.headers)
    headers["authorization"] = Utils.get_authorization(
        request, "ACS3-HMAC-SHA256", payload, key, SECRET
    )
    return {"method": "POST", "path": "/", "query": query, "headers": headers, "body": body}


def test_the_sdks_signature_passes_with_chinese_and_reserved_characters() -> None:
    assert Verifier().check(secrets=SECRETS, **signed(QUERY)) == (KEY, None)


def test_tampered_query_or_body_does_not_match() -> None:
    request = signed(QUERY)
    request["query"] = {**QUERY, "PhoneNumbers": "13900000000"}
    _, refusal = Verifier().check(secrets=SECRETS, **request)
    assert refusal is not None
    assert (refusal.status, refusal.code) == (400, "SignatureDoesNotMatch")
    request = signed(QUERY, body=b"a=1")
    request["body"] = b"a=2"
    _, refusal = Verifier().check(secrets=SECRETS, **request)
    assert refusal is not None
    assert refusal.code == "InvalidPayload"


def test_a_replayed_request_is_refused() -> None:
    verifier, request = Verifier(), signed(QUERY)
    assert verifier.check(secrets=SECRETS, **request)[1] is None
    _, refusal = verifier.check(secrets=SECRETS, **request)
    assert refusal is not None
    assert refusal.code == "SignatureNonceUsed"


def test_stale_requests_and_strangers_are_refused() -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    _, stale = Verifier().check(secrets=SECRETS, **signed(QUERY, at=old))
    assert stale is not None
    assert stale.code == "InvalidTimeStamp.Expired"
    key, stranger = Verifier().check(secrets=SECRETS, **signed(QUERY, key="LTAI5tNobody"))
    assert stranger is not None
    assert (key, stranger.status, stranger.code) == (
        "LTAI5tNobody",
        404,
        "InvalidAccessKeyId.NotFound",
    )
    unsigned = signed(QUERY)
    del unsigned["headers"]["authorization"]
    _, missing = Verifier().check(secrets=SECRETS, **unsigned)
    assert missing is not None
    assert missing.code == "IncompleteSignature"
