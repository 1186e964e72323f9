"""CAP 1.2 validation: the spec's examples pass; every problem is reported with its path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from broadcaster.feeds.cap import CapInvalid, parse_alert
from broadcaster.feeds.cap.model import (
    CapMsgType,
    CapStatus,
    Category,
    Certainty,
    Circle,
    Point,
    Reference,
    ResponseType,
    Scope,
    Severity,
    Urgency,
    ValuePair,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "cap"
MINIMAL = (FIXTURES / "minimal.xml").read_text(encoding="utf-8")
PDT = dt.timezone(dt.timedelta(hours=-7))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def variant(old: str, new: str) -> bytes:
    assert old in MINIMAL, old
    return MINIMAL.replace(old, new, 1).encode()


def problems_of(data: bytes) -> dict[str, str]:
    with pytest.raises(CapInvalid) as caught:
        parse_alert(data)
    return {p.path: p.reason for p in caught.value.problems}


def test_homeland_security_example_is_actual_alert_public() -> None:
    alert = parse_alert(fixture("spec_homeland_security.xml"))
    assert (alert.identifier, alert.sender) == ("43b080713727", "hsas@dhs.gov")
    assert alert.sent == dt.datetime(
        2003, 4, 2, 14, 39, 1, tzinfo=dt.timezone(-dt.timedelta(hours=5))
    )
    assert (alert.status, alert.msg_type, alert.scope) == (
        CapStatus.actual,
        CapMsgType.alert,
        Scope.public,
    )
    (info,) = alert.infos
    assert info.language == "en-US"  # absent: the CAP default
    assert info.categories == (Category.security,)
    assert (info.urgency, info.severity, info.certainty) == (
        Urgency.immediate,
        Severity.severe,
        Certainty.likely,
    )
    assert info.parameters == (ValuePair("HSAS", "ORANGE"),)
    assert info.resources[0].mime_type == "image/gif"
    assert info.instruction is not None
    assert info.instruction.startswith("A High Condition")  # surrounding whitespace stripped
    assert info.areas[0].area_desc == "U.S. nationwide and interests worldwide"


def test_thunderstorm_example_has_its_polygon_and_geocodes() -> None:
    alert = parse_alert(fixture("spec_severe_thunderstorm.xml"))
    (info,) = alert.infos
    assert info.response_types == (ResponseType.shelter,)
    assert info.event_codes == (ValuePair("SAME", "SVR"),)
    assert info.expires == dt.datetime(2003, 6, 17, 16, 0, tzinfo=PDT)
    (area,) = info.areas
    assert area.polygons == (
        (
            Point(38.47, -120.14),
            Point(38.34, -119.95),
            Point(38.52, -119.74),
            Point(38.62, -119.89),
            Point(38.47, -120.14),
        ),
    )
    assert [g.value for g in area.geocodes] == ["006109", "006009", "006003"]


def test_earthquake_example_is_an_update_with_references_and_a_zero_radius_circle() -> None:
    alert = parse_alert(fixture("spec_earthquake_update.xml"))
    assert alert.msg_type is CapMsgType.update
    assert alert.references == (
        Reference(
            "trinet@caltech.edu", "TRI13970876.1", dt.datetime(2003, 6, 11, 20, 30, tzinfo=PDT)
        ),
    )
    (info,) = alert.infos
    assert info.categories == (Category.geo,)
    assert len(info.parameters) == 5
    assert info.areas[0].circles == (Circle(Point(32.9525, -115.5527), 0.0),)


def test_amber_example_keeps_both_languages_in_order() -> None:
    alert = parse_alert(fixture("spec_amber_multilingual.xml"))
    assert alert.source == "SW"
    assert [i.language for i in alert.infos] == ["en-US", "es-US"]
    assert alert.infos[1].event == "Abducción de Niño"


def test_chinese_rainstorm_document_is_valid() -> None:
    alert = parse_alert(fixture("yubei_rainstorm_red.xml"))
    assert alert.sent.utcoffset() == dt.timedelta(hours=8)
    assert [i.language for i in alert.infos] == ["en-US", "zh-CN"]
    assert len(alert.infos[1].areas) == 2


@pytest.mark.parametrize(
    ("element", "path"),
    [
        ("  <identifier>TEST-0001</identifier>\n", "alert/identifier"),
        ("  <sender>test@example.cn</sender>\n", "alert/sender"),
        ("  <sent>2024-07-01T08:00:00+08:00</sent>\n", "alert/sent"),
        ("  <status>Actual</status>\n", "alert/status"),
        ("  <msgType>Alert</msgType>\n", "alert/msgType"),
        ("  <scope>Public</scope>\n", "alert/scope"),
        ("    <category>Met</category>\n", "alert/info[0]/category[0]"),
        ("    <event>暴雨黄色预警</event>\n", "alert/info[0]/event"),
        ("    <urgency>Expected</urgency>\n", "alert/info[0]/urgency"),
        ("    <severity>Moderate</severity>\n", "alert/info[0]/severity"),
        ("    <certainty>Likely</certainty>\n", "alert/info[0]/certainty"),
        ("      <areaDesc>测试区域</areaDesc>\n", "alert/info[0]/area[0]/areaDesc"),
        (
            "        <valueName>GB/T 2260</valueName>\n",
            "alert/info[0]/area[0]/geocode[0]/valueName",
        ),
    ],
)
def test_a_missing_required_element_is_named_by_its_path(element: str, path: str) -> None:
    problems = problems_of(variant(element, ""))
    assert list(problems) == [path]


def test_an_empty_required_element_is_a_problem() -> None:
    problems = problems_of(variant("<event>暴雨黄色预警</event>", "<event>  </event>"))
    assert "empty" in problems["alert/info[0]/event"]


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("<status>Actual</status>", "<status>actual</status>", "alert/status"),
        ("<msgType>Alert</msgType>", "<msgType>Notice</msgType>", "alert/msgType"),
        ("<scope>Public</scope>", "<scope>Everyone</scope>", "alert/scope"),
        ("<category>Met</category>", "<category>Weather</category>", "alert/info[0]/category[0]"),
        ("<urgency>Expected</urgency>", "<urgency>Soon</urgency>", "alert/info[0]/urgency"),
        ("<severity>Moderate</severity>", "<severity>High</severity>", "alert/info[0]/severity"),
        (
            "<certainty>Likely</certainty>",
            "<certainty>Very Likely</certainty>",
            "alert/info[0]/certainty",
        ),
        (
            "<event>暴雨黄色预警</event>",
            "<event>暴雨黄色预警</event><responseType>Run</responseType>",
            "alert/info[0]/responseType[0]",
        ),
    ],
)
def test_values_outside_the_enumerations_are_rejected(old: str, new: str, path: str) -> None:
    problems = problems_of(variant(old, new))
    assert list(problems) == [path]
    assert "allowed" in problems[path]


@pytest.mark.parametrize(
    ("sent", "words"),
    [
        ("2024-07-01T08:00:00", "no time-zone"),
        ("2024-07-01T00:00:00Z", '"Z" is not allowed'),
        ("2024-07-01T08:00:00.5+08:00", "fractional seconds"),
        ("2024-07-01 08:00:00+08:00", "invalid date-time"),
        ("2024-13-01T08:00:00+08:00", "out of range"),
    ],
)
def test_date_times_must_have_the_cap_form(sent: str, words: str) -> None:
    problems = problems_of(variant("2024-07-01T08:00:00+08:00", sent))
    assert words in problems["alert/sent"]


def test_utc_may_be_written_minus_or_plus_zero() -> None:
    for offset in ("-00:00", "+00:00"):
        alert = parse_alert(variant("2024-07-01T08:00:00+08:00", f"2024-07-01T00:00:00{offset}"))
        assert alert.sent == dt.datetime(2024, 7, 1, tzinfo=dt.UTC)


def test_expires_in_info_is_checked_too() -> None:
    data = variant("<headline>", "<expires>2024-07-02T08:00:00</expires><headline>")
    assert "no time-zone" in problems_of(data)["alert/info[0]/expires"]


@pytest.mark.parametrize(
    ("polygon", "words"),
    [
        ("29.70,106.75 29.70,106.90 29.80,106.90 29.80,106.75", "not closed"),
        ("29.70,106.75 29.70,106.90 29.70,106.75", "at least 4"),
        ("91.0,106.75 29.70,106.90 29.80,106.90 91.0,106.75", "latitude out of range"),
        ("29.70,186.75 29.70,106.90 29.80,106.90 29.70,186.75", "longitude out of range"),
        ("29.70;106.75 29.70,106.90 29.80,106.90 29.70;106.75", "lat,lon"),
        ("29.70,abc 29.70,106.90 29.80,106.90 29.70,abc", "not numeric"),
    ],
)
def test_bad_polygons_are_rejected_at_their_path(polygon: str, words: str) -> None:
    old = "29.70,106.75 29.70,106.90 29.80,106.90 29.70,106.75"
    problems = problems_of(variant(old, polygon))
    assert words in problems["alert/info[0]/area[0]/polygon[0]"]


def test_an_open_polygon_reports_its_index_and_chinese_reason_first() -> None:
    closed = "<polygon>29.70,106.75 29.70,106.90 29.80,106.90 29.70,106.75</polygon>"
    data = variant(closed, closed + "<polygon>1,1 1,2 2,2 2,1</polygon>")
    reason = problems_of(data)["alert/info[0]/area[0]/polygon[1]"]
    assert reason.startswith("多边形未闭合")
    assert "polygon is not closed" in reason


@pytest.mark.parametrize(
    ("circle", "words"),
    [
        ("29.75,106.82 -1", "must not be negative"),
        ("29.75,106.82", "lat,lon radius"),
        ("29.75,106.82 2 km", "lat,lon radius"),
        ("29.75,106.82 far", "radius is not numeric"),
        ("95,106.82 1", "latitude out of range"),
    ],
)
def test_bad_circles_are_rejected_at_their_path(circle: str, words: str) -> None:
    problems = problems_of(variant("29.75,106.82 2.5", circle))
    assert words in problems["alert/info[0]/area[0]/circle[0]"]


def test_restricted_scope_needs_restriction_and_private_needs_addresses() -> None:
    restricted = problems_of(variant("<scope>Public</scope>", "<scope>Restricted</scope>"))
    assert list(restricted) == ["alert/restriction"]
    private = problems_of(variant("<scope>Public</scope>", "<scope>Private</scope>"))
    assert list(private) == ["alert/addresses"]
    ok = parse_alert(
        variant(
            "<scope>Public</scope>",
            '<scope>Private</scope><addresses>a@example.cn "Duty Office" b</addresses>',
        )
    )
    assert ok.addresses == ("a@example.cn", "Duty Office", "b")


@pytest.mark.parametrize(
    "references",
    [
        "sender,id",
        "sender,id,2024-07-01T08:00:00Z",
        ",id,2024-07-01T08:00:00+08:00",
        "a,b,2024-07-01T08:00:00+08:00 c,d",
    ],
)
def test_references_must_be_sender_identifier_sent_triples(references: str) -> None:
    data = variant(
        "<scope>Public</scope>", f"<scope>Public</scope><references>{references}</references>"
    )
    assert "alert/references" in problems_of(data)


def test_several_references_are_read() -> None:
    refs = "a@x,ID-1,2024-07-01T08:00:00+08:00\n  b@x,ID-2,2024-07-01T09:00:00-00:00"
    alert = parse_alert(
        variant("<scope>Public</scope>", f"<scope>Public</scope><references>{refs}</references>")
    )
    assert [(r.sender, r.identifier) for r in alert.references] == [
        ("a@x", "ID-1"),
        ("b@x", "ID-2"),
    ]


@pytest.mark.parametrize("identifier", ["TEST 0001", "TEST,0001", "TEST&amp;1", "TEST&lt;1"])
def test_identifier_must_not_contain_spaces_commas_or_restricted_characters(
    identifier: str,
) -> None:
    problems = problems_of(variant("TEST-0001", identifier))
    assert list(problems) == ["alert/identifier"]


def test_all_problems_of_a_document_are_collected_in_one_exception() -> None:
    data = (
        MINIMAL.replace("<status>Actual</status>", "<status>Real</status>")
        .replace("2024-07-01T08:00:00+08:00", "2024-07-01T08:00:00")
        .replace("    <urgency>Expected</urgency>\n", "")
        .replace("29.70,106.75 29.70,106.90 29.80,106.90 29.70,106.75", "1,1 1,2 2,2 2,1")
        .replace("29.75,106.82 2.5", "29.75,106.82 -3")
        .encode()
    )
    with pytest.raises(CapInvalid) as caught:
        parse_alert(data)
    paths = [p.path for p in caught.value.problems]
    assert paths == [
        "alert/sent",
        "alert/status",
        "alert/info[0]/urgency",
        "alert/info[0]/area[0]/polygon[0]",
        "alert/info[0]/area[0]/circle[0]",
    ]
    assert caught.value.detail["problems"][0] == {
        "field": "alert/sent",
        "reason": caught.value.problems[0].reason,
    }
    assert "5" in caught.value.message


def test_unknown_duplicate_and_unqualified_elements_are_problems() -> None:
    data = variant(
        "<scope>Public</scope>",
        '<scope>Public</scope><scope>Public</scope><colour>red</colour><note xmlns="">x</note>',
    )
    problems = problems_of(data)
    assert "only once" in problems["alert/scope"]
    assert "not an element of CAP 1.2" in problems["alert/colour"]
    assert "namespace" in problems["alert/note"]


def test_extension_elements_of_other_namespaces_are_skipped() -> None:
    signature = '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">sig</ds:Signature>'
    alert = parse_alert(variant("</alert>", signature + "</alert>"))
    assert alert.identifier == "TEST-0001"


def test_text_elements_must_not_contain_elements() -> None:
    data = variant("<event>暴雨黄色预警</event>", "<event>暴雨<event>x</event></event>")
    assert "child elements" in problems_of(data)["alert/info[0]/event"]


def test_ceiling_needs_altitude_and_numbers_are_checked() -> None:
    ceiling = problems_of(variant("</area>", "<ceiling>100</ceiling></area>"))
    assert "altitude" in ceiling["alert/info[0]/area[0]/ceiling"]
    altitude = problems_of(variant("</area>", "<altitude>high</altitude></area>"))
    assert "alert/info[0]/area[0]/altitude" in altitude
    ok = parse_alert(variant("</area>", "<altitude>10</altitude><ceiling>300.5</ceiling></area>"))
    assert (ok.infos[0].areas[0].altitude, ok.infos[0].areas[0].ceiling) == (10.0, 300.5)


def test_resource_needs_description_and_mime_type() -> None:
    data = variant("<area>", "<resource><uri>http://x.example/a.png</uri></resource><area>")
    problems = problems_of(data)
    assert set(problems) == {
        "alert/info[0]/resource[0]/resourceDesc",
        "alert/info[0]/resource[0]/mimeType",
    }


def test_language_web_and_geocode_values_are_checked() -> None:
    data = (
        MINIMAL.replace("<language>zh-CN</language>", "<language>zh_CN</language>")
        .replace("<headline>", "<web>www.example.cn/x</web><headline>")
        .replace("<value>500112</value>", "<value></value>")
        .encode()
    )
    problems = problems_of(data)
    assert set(problems) == {
        "alert/info[0]/language",
        "alert/info[0]/web",
        "alert/info[0]/area[0]/geocode[0]/value",
    }


def test_an_alert_without_info_is_valid_cap() -> None:
    start = MINIMAL.index("  <info>")
    end = MINIMAL.index("</info>") + len("</info>\n")
    alert = parse_alert((MINIMAL[:start] + MINIMAL[end:]).encode())
    assert alert.infos == ()
