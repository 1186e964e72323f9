"""Registry lists other than households (groups, shelters) imported row by row from a sheet."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import ValidationError
from sqlalchemy.orm import Session

from broadcaster.errors import ValidationFailed
from broadcaster.registry.importer.reading import read_sheet
from broadcaster.registry.importer.schemas import ImportProblem, ImportReport
from broadcaster.settings import ImportSettings

Done = Literal["created", "updated", "unchanged"]
Cells = Sequence[object]


def fold(value: object) -> str:
    """A cell as text: full-width digits and letters folded, trimmed."""
    return unicodedata.normalize("NFKC", "" if value is None else str(value)).strip()


class Columns:
    """A sheet's columns: key → the header names it may have (Chinese first), and which of
    them a row must have; `field_column` maps a validation field to the column it came from."""

    def __init__(
        self,
        names: dict[str, tuple[str, ...]],
        required: tuple[str, ...],
        field_column: dict[str, str] | None = None,
    ) -> None:
        self.names, self.required = names, required
        self.field_column = field_column or {}
        self.aliases = {
            fold(name).replace(" ", "").lower(): key for key, all_ in names.items() for name in all_
        }
        self.index: dict[str, int] = {}

    def find_header(self, rows: Sequence[tuple[int, Cells]]) -> int:
        """The first of the first ten rows naming the required columns (and where each is)."""
        for row, cells in rows[:10]:
            index: dict[str, int] = {}
            for position, cell in enumerate(cells):
                key = self.aliases.get(fold(cell).replace(" ", "").lower())
                if key is not None and key not in index:
                    index[key] = position
            if all(key in index for key in self.required):
                self.index = index
                return row
        expected = "、".join(self.names[key][0] for key in self.required)
        raise ValidationFailed(
            f"找不到表头行（应包含：{expected}） / no header row with {', '.join(self.required)}",
            field="file",
        )

    def cell(self, cells: Cells, key: str, *, folded: bool = True) -> str:
        """The cell of a column; codes and numbers folded, names kept as typed."""
        position = self.index.get(key)
        if position is None or position >= len(cells) or cells[position] is None:
            return ""
        return fold(cells[position]) if folded else str(cells[position]).strip()

    def number(self, cells: Cells, key: str, default: str = "0") -> int:
        """A whole number cell ("12", "12.0"); else a problem naming the column."""
        text = self.cell(cells, key) or default
        if text.endswith(".0"):  # a spreadsheet's number cell
            text = text[:-2]
        if not text.isdigit() or len(text) > 9:
            heading = self.names[key][0]
            raise ValidationFailed(f"{heading}须为整数 / {key} must be a whole number", field=key)
        return int(text)

    def problem(self, row: int, cells: Cells, field: str, reason: str) -> ImportProblem:
        column = self.field_column.get(field, field)
        column = column if column in self.names else "file"
        value = self.cell(cells, column) if column in self.index else ""
        label = f"{self.names[column][0]} {column}" if column in self.names else column
        return ImportProblem(row=row, column=label, value=value, reason=reason)


def import_rows(
    session: Session,
    *,
    data: bytes,
    filename: str,
    columns: Columns,
    apply: Callable[[Cells], Done],
    limits: ImportSettings | None = None,
) -> ImportReport:
    """Apply each data row in its own savepoint: good rows are applied, every bad row is
    reported with its row number, column and reason and changes nothing. Do not commit."""
    limits = limits or ImportSettings()
    sheet = read_sheet(data, filename, limits)
    header_row = columns.find_header(sheet.rows)
    rows = [(n, c) for n, c in sheet.rows if n > header_row and any(fold(x) for x in c)]
    if not rows:
        raise ValidationFailed("文件中没有数据行 / the file has no data rows", field="file")
    report = ImportReport(total_rows=len(rows), warnings=list(sheet.warnings))
    for number, cells in rows:
        try:
            with session.begin_nested():
                done = apply(cells)
            setattr(report, done, getattr(report, done) + 1)
        except ValidationFailed as exc:
            report.rejected += 1
            field = str(exc.detail.get("field") or "file")
            problem = columns.problem(number, cells, field, exc.message)
            report.add_problems([problem], limits.max_problems)
        except ValidationError as exc:
            report.rejected += 1
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else "file"
                problem = columns.problem(number, cells, field, error["msg"])
                report.add_problems([problem], limits.max_problems)
    return report
