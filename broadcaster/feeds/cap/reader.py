"""Walking CAP elements while collecting every problem, each with its element path."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TypeVar
from xml.etree.ElementTree import Element

from broadcaster.feeds.cap.errors import CapError, CapInvalid
from broadcaster.feeds.cap.model import CAP_NS
from broadcaster.feeds.cap.parse import split_tag
from broadcaster.feeds.cap.values import BadValue

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

MISSING = "缺少必填元素 / required element is missing"
EMPTY = "必填元素为空 / required element is empty"


class Problems:
    """The problems of one document, in the order they were found."""

    def __init__(self) -> None:
        self.items: list[CapError] = []

    def add(self, path: str, reason: str) -> None:
        self.items.append(CapError(path, reason))

    def raise_if_any(self) -> None:
        if self.items:
            raise CapInvalid(self.items)


class Children:
    """The CAP children of one element, grouped by name, with their names and counts checked.

    `spec` maps each allowed child name to whether it may repeat. Elements of other
    namespaces are extensions and are skipped; unqualified or unknown names are problems.
    Element order is not enforced (see the package docstring).
    """

    def __init__(
        self, element: Element, base: str, spec: Mapping[str, bool], problems: Problems
    ) -> None:
        self.base = base
        self.spec = spec
        self.problems = problems
        self.groups: dict[str, list[Element]] = {}
        for child in element:
            if not isinstance(child.tag, str):
                continue
            namespace, local = split_tag(child.tag)
            if namespace is not None and namespace != CAP_NS:
                continue
            if namespace is None:
                problems.add(
                    f"{base}/{local}",
                    "元素不在 CAP 1.2 命名空间中 / element is not in the CAP 1.2 namespace",
                )
            elif local not in spec:
                problems.add(f"{base}/{local}", "CAP 1.2 中没有此元素 / not an element of CAP 1.2")
            else:
                self.groups.setdefault(local, []).append(child)
        for name, found in self.groups.items():
            if not spec[name] and len(found) > 1:
                problems.add(
                    f"{base}/{name}",
                    f"只能出现一次，实际 {len(found)} 次 / "
                    f"may appear only once, found {len(found)}",
                )

    def path(self, name: str, index: int | None = None) -> str:
        return f"{self.base}/{name}" if index is None else f"{self.base}/{name}[{index}]"

    def elements(self, name: str) -> list[tuple[str, Element]]:
        """(path, element) of every child with this name; repeatable names get an index."""
        found = self.groups.get(name, [])
        if not self.spec[name]:
            return [(self.path(name), found[0])] if found else []
        return [(self.path(name, i), element) for i, element in enumerate(found)]

    def text(self, name: str, *, required: bool = False) -> str | None:
        """The stripped text of a single child; None when absent or (if optional) empty."""
        found = self.elements(name)
        if not found:
            if required:
                self.problems.add(self.path(name), MISSING)
            return None
        path, element = found[0]
        value = self.element_text(path, element)
        if not value:
            if required:
                self.problems.add(path, EMPTY)
            return None
        return value

    def texts(self, name: str) -> list[tuple[str, str]]:
        """(path, stripped text) of every child with this name."""
        return [(path, self.element_text(path, el)) for path, el in self.elements(name)]

    def element_text(self, path: str, element: Element) -> str:
        if len(element):
            self.problems.add(path, "不应包含子元素 / must not contain child elements")
        return (element.text or "").strip()

    def value(self, name: str, parse: Callable[[str], T], *, required: bool = False) -> T | None:
        """A single child's text converted by `parse`; a BadValue becomes a problem."""
        text = self.text(name, required=required)
        return None if text is None else self.convert(self.path(name), text, parse)

    def convert(self, path: str, text: str, parse: Callable[[str], T]) -> T | None:
        try:
            return parse(text)
        except BadValue as exc:
            self.problems.add(path, exc.reason)
            return None

    def enum(self, name: str, kind: type[E], *, required: bool = False) -> E | None:
        return self.value(name, lambda text: enum_value(kind, text), required=required)

    def enums(self, name: str, kind: type[E]) -> tuple[E, ...]:
        values = (
            self.convert(path, text, lambda t: enum_value(kind, t))
            for path, text in self.texts(name)
        )
        return tuple(v for v in values if v is not None)


def enum_value(kind: type[E], text: str) -> E:
    """The member whose CAP spelling is `text` (case-sensitive, as the schema is)."""
    try:
        return kind(text)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise BadValue(
            f"取值无效“{text[:40]}”，允许：{allowed} / "
            f"invalid value '{text[:40]}', allowed: {allowed}"
        ) from None
