"""Rejections of CAP documents: one CapError per problem, CapInvalid for all of a document."""

from __future__ import annotations

from collections.abc import Sequence

from broadcaster.errors import ValidationFailed


class CapError(ValidationFailed):
    """One problem at one element path, e.g. `alert/info[1]/area[0]/polygon[0]`.

    `reason` is Chinese first, then English ("多边形未闭合 / polygon is not closed").
    """

    code = "cap_invalid"

    def __init__(self, path: str, reason: str, *, message: str | None = None) -> None:
        super().__init__(message or f"{path}: {reason}", field=path)
        self.path = path
        self.reason = reason

    @property
    def problems(self) -> list[CapError]:
        """Every problem this rejection carries (just itself for a single error)."""
        return [self]

    def as_dict(self) -> dict[str, str]:
        return {"field": self.path, "reason": self.reason}

    def __repr__(self) -> str:
        return f"CapError({self.path!r}, {self.reason!r})"


class CapInvalid(CapError):
    """Every problem found in one document, raised once after the whole document was read."""

    def __init__(self, problems: Sequence[CapError]) -> None:
        if not problems:
            raise ValueError("CapInvalid needs at least one problem")
        first = problems[0]
        count = len(problems)
        message = (
            f"CAP 文档无效，共 {count} 处问题 / invalid CAP document, {count} problem(s); "
            f"{first.path}: {first.reason}"
        )
        super().__init__(first.path, first.reason, message=message)
        self._problems = list(problems)
        self.detail["problems"] = [p.as_dict() for p in self._problems]

    @property
    def problems(self) -> list[CapError]:
        return list(self._problems)

    def __repr__(self) -> str:
        return f"CapInvalid({self._problems!r})"
