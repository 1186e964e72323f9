"""CAP reading is safe: size first, no DTD or entities, CAP 1.2 namespace only."""

from __future__ import annotations

from pathlib import Path

import pytest
from defusedxml import DTDForbidden  # type: ignore[import-untyped]

from broadcaster.feeds.cap import CapError, parse_alert, read_xml
from broadcaster.feeds.cap import parse as cap_parse

FIXTURES = Path(__file__).parent.parent / "fixtures" / "cap"
MINIMAL = (FIXTURES / "minimal.xml").read_bytes()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE alert [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&secret;</identifier></alert>
"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE alert SYSTEM "http://attacker.example/cap.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>
"""


def reject(data: bytes, **kwargs: int) -> CapError:
    with pytest.raises(CapError) as caught:
        parse_alert(data, **kwargs)
    return caught.value


def test_billion_laughs_is_refused_at_the_doctype_before_any_expansion() -> None:
    error = reject(BILLION_LAUGHS)
    assert error.path == "document"
    assert "DTD" in error.reason
    # The refusal comes from the DOCTYPE handler, before any entity is declared or expanded.
    assert isinstance(error.__cause__, DTDForbidden)


def test_external_entity_to_a_local_file_is_refused_and_nothing_is_read() -> None:
    error = reject(EXTERNAL_ENTITY)
    assert error.path == "document"
    assert isinstance(error.__cause__, DTDForbidden)
    assert "root:" not in error.message


def test_an_external_dtd_reference_is_refused() -> None:
    error = reject(EXTERNAL_DTD)
    assert isinstance(error.__cause__, DTDForbidden)


def test_a_20_mb_document_is_refused_on_its_size_before_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def must_not_parse(_data: bytes) -> None:
        raise AssertionError("the parser was called for an oversized document")

    monkeypatch.setattr(cap_parse, "_parse", must_not_parse)
    huge = MINIMAL.replace(b"<headline>", b"<headline>" + b"x" * (20 * 1024 * 1024))
    error = reject(huge)
    assert error.path == "document"
    assert "too large" in error.reason
    assert str(len(huge)) in error.reason


def test_the_size_limit_is_configurable_and_counts_bytes() -> None:
    assert parse_alert(MINIMAL, max_bytes=len(MINIMAL)).identifier == "TEST-0001"
    error = reject(MINIMAL, max_bytes=len(MINIMAL) - 1)
    assert "too large" in error.reason
    assert parse_alert(MINIMAL).identifier == "TEST-0001"  # default limit is 1 MiB
    assert cap_parse.DEFAULT_MAX_BYTES == 1024 * 1024


def test_needlessly_deep_nesting_is_refused_while_reading() -> None:
    deep = b"<x>" * 100_000 + b"</x>" * 100_000
    data = MINIMAL.replace(b"</alert>", deep + b"</alert>")
    error = reject(data)
    assert error.path == "document"
    assert f"deeper than {cap_parse.MAX_DEPTH}" in error.reason


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = cap_parse.MAX_DEPTH - 1  # plus the root makes MAX_DEPTH
    inner = b'<x:e xmlns:x="urn:example:ext">' * depth + b"</x:e>" * depth
    assert parse_alert(MINIMAL.replace(b"</alert>", inner + b"</alert>")).identifier == "TEST-0001"


@pytest.mark.parametrize(
    ("namespace", "words"),
    [
        ("urn:oasis:names:tc:emergency:cap:1.1", "CAP 1.1"),
        ("urn:oasis:names:tc:emergency:cap:1.0", "CAP 1.0"),
        ("urn:example:not-cap", "urn:example:not-cap"),
    ],
)
def test_other_namespaces_are_refused_with_a_clear_reason(namespace: str, words: str) -> None:
    data = MINIMAL.replace(b"urn:oasis:names:tc:emergency:cap:1.2", namespace.encode())
    error = reject(data)
    assert error.path == "alert"
    assert words in error.reason
    assert "urn:oasis:names:tc:emergency:cap:1.2" in error.reason


def test_a_document_without_namespace_is_refused() -> None:
    data = MINIMAL.replace(b' xmlns="urn:oasis:names:tc:emergency:cap:1.2"', b"")
    error = reject(data)
    assert error.path == "alert"
    assert "namespace" in error.reason


def test_a_root_other_than_alert_is_refused() -> None:
    data = b'<feed xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>'
    assert "<alert>" in reject(data).reason


@pytest.mark.parametrize("data", [b"", b"   \n", b"<alert", b"not xml at all"])
def test_empty_or_malformed_input_is_refused_at_document_level(data: bytes) -> None:
    assert reject(data).path == "document"


def test_gb18030_declared_documents_are_read() -> None:
    text = (FIXTURES / "yubei_rainstorm_red.xml").read_text(encoding="utf-8")
    data = text.replace('encoding="UTF-8"', 'encoding="GB18030"').encode("gb18030")
    alert = parse_alert(data)
    assert alert.sender == "渝北区气象台"
    assert alert.infos[1].event == "暴雨红色预警"


def test_bytes_that_do_not_match_the_declared_encoding_are_refused() -> None:
    data = MINIMAL.replace(b'encoding="UTF-8"', b'encoding="GB2312"') + "\U0001f600".encode()
    error = reject(data)
    assert error.path == "document"
    assert "GB2312" in error.reason


def test_an_unknown_declared_encoding_is_refused() -> None:
    data = MINIMAL.replace(b'encoding="UTF-8"', b'encoding="X-NO-SUCH"')
    assert "X-NO-SUCH" in reject(data).reason


def test_read_xml_takes_bytes_only() -> None:
    with pytest.raises(TypeError):
        read_xml(MINIMAL.decode())  # type: ignore[arg-type]
