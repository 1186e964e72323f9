"""The import report: counts and every problem of every rejected row."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ImportProblem(BaseModel):
    """One problem of one rejected row; `reason` is Chinese first, then English."""

    row: int
    column: str
    value: str
    reason: str


class ImportReport(BaseModel):
    """What an import did: created + updated + unchanged + rejected == total_rows."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    total_rows: int = 0
    problems: list[ImportProblem] = Field(default_factory=list)
    warnings: list[str] = Field(
        default_factory=list,
        description="Things that rejected nothing: ignored columns, worker name mismatches.",
    )
