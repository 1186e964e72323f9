"""Our form encoding of Twilio requests equals `urlencode(doseq=True)`, cache or not."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from channels.twilio_http import form_body


def test_form_body_matches_urlencode_for_shared_texts_and_personal_links() -> None:
    shared = "【演练】暴雨红色预警 请立即转移。确认："
    for token in ("abc", "x y&z=1", "链接"):
        data: dict[str, object] = {
            "To": "+8613900000000",
            "Body": f"{shared}http://127.0.0.1:8000/c/{token}",
            "StatusCallback": f"http://127.0.0.1:8000/hooks/twilio/sms/status?d={token}",
            "MediaUrl": ["http://a/1 2", "http://b/3"],
            "Skipped": None,
        }
        expected = urlencode({k: v for k, v in data.items() if v is not None}, doseq=True)
        assert form_body(data) == expected.encode("ascii")
        assert parse_qs(form_body(data).decode())["Body"] == [data["Body"]]


def test_form_body_without_links_and_empty() -> None:
    assert form_body({"Body": "平安 1", "n": 3}) == b"Body=%E5%B9%B3%E5%AE%89+1&n=3"
    assert form_body({}) == b""
