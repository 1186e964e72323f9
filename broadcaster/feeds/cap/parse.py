"""Safe reading of CAP bytes: size limit first, then defusedxml with DTDs and entities refused."""

from __future__ import annotations

import codecs
import io
import re
from typing import cast
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as defused_et  # type: ignore[import-untyped]
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from broadcaster.feeds.cap.errors import CapError
from broadcaster.feeds.cap.model import CAP_NS

DEFAULT_MAX_BYTES = 1024 * 1024
# CAP itself nests 5 deep (alert/info/area/geocode/value); signatures add a few levels.
MAX_DEPTH = 32
DOCUMENT = "document"
ROOT = "alert"
KNOWN_NAMESPACES = {
    "urn:oasis:names:tc:emergency:cap:1.1": "CAP 1.1",
    "urn:oasis:names:tc:emergency:cap:1.0": "CAP 1.0",
    "http://www.incident.com/cap/1.0": "CAP 1.0",
}
# Encodings expat reads by itself; any other declared encoding is transcoded to UTF-8 first.
_EXPAT_NATIVE = {"utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "iso8859-1", "ascii"}
_DECLARATION = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*<\?xml\s[^>]*?encoding\s*=\s*(['\"])([A-Za-z][A-Za-z0-9._-]{0,39})\1"
)


def read_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Element:
    """The <alert> root of a CAP 1.2 document, or CapError for anything unsafe or foreign.

    The size is checked on the bytes before any parsing; a document type declaration is
    refused where it starts, so entity expansion (billion laughs) and external entities
    (file:///etc/passwd) never happen.
    """
    if not isinstance(data, bytes):
        raise TypeError("read_xml takes the document's bytes")
    if len(data) > max_bytes:
        raise CapError(
            DOCUMENT,
            f"文档过大：{len(data)} 字节，上限 {max_bytes} 字节 / "
            f"document too large: {len(data)} bytes, limit {max_bytes}",
        )
    if not data.strip():
        raise CapError(DOCUMENT, "文档为空 / the document is empty")
    root = _parse(_as_expat_encoding(data))
    check_root(root)
    return root


def _as_expat_encoding(data: bytes) -> bytes:
    """The document in an encoding expat reads (GB2312/GBK/GB18030 are transcoded to UTF-8)."""
    match = _DECLARATION.match(data)
    if match is None:
        return data
    declared = match.group(2).decode("ascii")
    try:
        codec = codecs.lookup(declared).name
    except LookupError as exc:
        raise CapError(
            DOCUMENT, f"不支持的字符编码 {declared} / unsupported character encoding {declared}"
        ) from exc
    if codec in _EXPAT_NATIVE or not data[: match.end()].isascii():
        return data
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise CapError(
            DOCUMENT,
            f"内容不符合声明的编码 {declared}（第 {exc.start} 字节）/ "
            f"bytes are not valid {declared} (at byte {exc.start})",
        ) from exc
    start, end = match.span(2)  # the declaration is ASCII, so byte and character offsets agree
    return (text[:start] + "UTF-8" + text[end:]).encode("utf-8")


def _parse(data: bytes) -> Element:
    """Parse incrementally so that a needlessly deep document stops at MAX_DEPTH."""
    root: Element | None = None
    depth = 0
    try:
        events = defused_et.iterparse(
            io.BytesIO(data),
            events=("start", "end"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
        for event, element in events:
            if event == "end":
                depth -= 1
                continue
            depth += 1
            if depth > MAX_DEPTH:
                raise CapError(
                    DOCUMENT,
                    f"元素嵌套超过 {MAX_DEPTH} 层 / elements nested deeper than {MAX_DEPTH}",
                )
            root = cast(Element, element) if root is None else root
    except DTDForbidden as exc:
        raise CapError(
            DOCUMENT, "不允许文档类型声明（DTD）/ document type declarations (DTD) are not allowed"
        ) from exc
    except EntitiesForbidden as exc:
        raise CapError(DOCUMENT, "不允许实体声明 / entity declarations are not allowed") from exc
    except ExternalReferenceForbidden as exc:
        raise CapError(DOCUMENT, "不允许外部引用 / external references are not allowed") from exc
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise CapError(
            DOCUMENT,
            f"XML 格式错误（第 {line} 行第 {column} 列）/ malformed XML at line {line}, "
            f"column {column}: {exc}",
        ) from exc
    except ValueError as exc:  # expat: "multi-byte encodings are not supported" and kin
        raise CapError(DOCUMENT, f"无法读取字符编码 / cannot read the encoding: {exc}") from exc
    if root is None:
        raise CapError(DOCUMENT, "文档没有元素 / the document has no element")
    return root


def split_tag(tag: str) -> tuple[str | None, str]:
    """(namespace, local name) of an ElementTree tag."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return None, tag


def check_root(root: Element) -> None:
    """The root must be <alert> in the CAP 1.2 namespace; other CAP versions say so."""
    if not isinstance(root.tag, str):
        raise CapError(ROOT, "根元素无效 / invalid root element")
    namespace, local = split_tag(root.tag)
    if namespace == CAP_NS and local == "alert":
        return
    if local != "alert":
        raise CapError(
            ROOT, f"根元素必须是 alert，实际是 {local} / the root must be <alert>, got <{local}>"
        )
    if namespace is None:
        raise CapError(
            ROOT,
            f"缺少 CAP 1.2 命名空间 {CAP_NS} / missing the CAP 1.2 namespace {CAP_NS}",
        )
    version = KNOWN_NAMESPACES.get(namespace)
    if version is not None:
        raise CapError(
            ROOT,
            f"不接受 {version} 文档，需要 CAP 1.2 命名空间 {CAP_NS} / "
            f"{version} documents are not accepted; namespace {CAP_NS} is required",
        )
    raise CapError(
        ROOT,
        f"命名空间 {namespace} 不是 CAP 1.2（{CAP_NS}）/ "
        f"namespace {namespace} is not CAP 1.2 ({CAP_NS})",
    )
