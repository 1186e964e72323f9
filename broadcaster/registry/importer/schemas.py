"""The import report: counts and every problem of every rejected row."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field


class ImportProblem(BaseModel):
    """One problem of one rejected row; `reason` is Chinese first, then English."""

    row: int
    column: str = Field(description="The column's key (grid_code …).")
    heading: str = Field(
        default="", description="The column as the file named it (所属网格 …), for people."
    )
    value: str
    reason: str


class ImportReport(BaseModel):
    """What an import did: created + updated + unchanged + rejected == total_rows."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    total_rows: int = 0
    problems: list[ImportProblem] = Field(
        default_factory=list, description="The first problems found (up to the configured limit)."
    )
    problems_total: int = Field(default=0, description="Every problem found, listed or not.")
    warnings: list[str] = Field(
        default_factory=list,
        description="Things that rejected nothing: ignored columns, worker name mismatches.",
    )

    def add_problems(self, problems: Iterable[ImportProblem], limit: int) -> None:
        """Count every problem; keep only the first `limit` (a report never grows unbounded)."""
        for problem in problems:
            self.problems_total += 1
            if len(self.problems) < limit:
                self.problems.append(problem)
