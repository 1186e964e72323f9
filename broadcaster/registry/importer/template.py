"""The blank registry template: bilingual header row and one example row."""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from broadcaster.registry.importer.columns import COLUMNS

# Columns Excel must keep as text, or it turns phone numbers into 1.38001E+10.
TEXT_COLUMNS = frozenset({"household_code", "phones", "worker_phone", "grid_code"})
FORMATTED_ROWS = 2000


def write_template(path: Path) -> None:
    """Write an empty template: .csv (UTF-8 with BOM, for Excel) by suffix, else .xlsx."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        _write_csv(path)
    else:
        _write_xlsx(path)


def _write_csv(path: Path) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([spec.title for spec in COLUMNS])
        writer.writerow([spec.example for spec in COLUMNS])


def _write_xlsx(path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "住户 households"
    required = PatternFill("solid", fgColor="FFF2CC")
    for column, spec in enumerate(COLUMNS, start=1):
        letter = get_column_letter(column)
        head = sheet.cell(row=1, column=column, value=spec.title)
        head.font = Font(bold=True)
        head.comment = Comment(spec.hint, "broadcaster")
        if spec.required:
            head.fill = required
        sheet.cell(row=2, column=column, value=spec.example)
        sheet.column_dimensions[letter].width = max(14, len(spec.title) + 6)
        if spec.key in TEXT_COLUMNS:
            for row in range(2, FORMATTED_ROWS + 2):
                sheet.cell(row=row, column=column).number_format = "@"
    sheet.freeze_panes = "A2"
    workbook.save(path)
