"""The simulator's TC3-HMAC-SHA256 check: what the SDK signs passes, anything changed fails."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from tencentcloud.common.sign import Sign

from broadcaster.sim.tencent_sign import SignatureRefused, tc3_signature, verify

SECRETS = {"AKIDtest": "secret-key"}
BODY = json.dumps({"PhoneNumberSet": ["+8613900000001"], "TemplateId": "1900101"}).encode()
NOW = 1_796_600_000


def signed(body: bytes = BODY, *, key: str = "secret-key", stamp: int = NOW) -> dict[str, str]:
    """Headers as the SDK makes them (its own signing function for the last step)."""
    date = dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%d")
    headers = {"content-type": "application/json", "host": "sms.tencentcloudapi.com"}
    canonical = "\n".join(
        (
            "POST",
            "/",
            "",
            f"content-type:{headers['content-type']}\nhost:{headers['host']}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        )
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"TC3-HMAC-SHA256\n{stamp}\n{date}/sms/tc3_request\n{digest}"
    signature = Sign.sign_tc3(key, date, "sms", to_sign)
    assert signature == tc3_signature(
        key, date=date, service="sms", timestamp=str(stamp), canonical_request=canonical
    )
    auth = (
        f"TC3-HMAC-SHA256 Credential=AKIDtest/{date}/sms/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )
    return {**headers, "authorization": auth, "x-tc-timestamp": str(stamp)}


def check(headers: dict[str, str], body: bytes = BODY, now: float = NOW) -> str:
    return verify(SECRETS, method="POST", uri="/", query="", headers=headers, body=body, now=now)


def test_a_request_signed_with_the_secret_passes() -> None:
    assert check(signed()) == "AKIDtest"


def changed() -> list[tuple[dict[str, str], bytes, str]]:
    """Requests with one thing changed after signing, and the code Tencent answers."""
    good = signed()
    other_id = good["authorization"].replace("AKIDtest", "AKIDnobody")
    failure = "AuthFailure.SignatureFailure"
    return [
        (good, BODY + b" ", failure),  # the body
        ({**good, "host": "evil.example"}, BODY, failure),  # a signed header
        (signed(key="wrong"), BODY, failure),  # another key
        ({**good, "authorization": "Basic eDp5"}, BODY, failure),  # not TC3 at all
        ({**good, "authorization": other_id}, BODY, "AuthFailure.SecretIdNotFound"),
        (signed(stamp=NOW - 3600), BODY, "AuthFailure.SignatureExpire"),
    ]


@pytest.mark.parametrize(("headers", "body", "code"), changed())
def test_anything_changed_is_refused_with_tencent_s_code(
    headers: dict[str, str], body: bytes, code: str
) -> None:
    with pytest.raises(SignatureRefused) as refused:
        check(headers, body)
    assert refused.value.code == code
