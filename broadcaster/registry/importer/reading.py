"""Reading an uploaded .xlsx or .csv file into numbered rows of cell values."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

import openpyxl
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from broadcaster.errors import ValidationFailed

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
TEXT_SUFFIXES = frozenset({".csv", ".txt", ""})
EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm"})

Row = tuple[int, Sequence[object]]


@dataclass
class Sheet:
    """The non-blank rows of a file, numbered as the spreadsheet numbers them (from 1)."""

    rows: list[Row]
    encoding: str
    warnings: list[str] = field(default_factory=list)


def _fail(message: str, **detail: object) -> ValidationFailed:
    return ValidationFailed(message, field="file", **detail)


def read_sheet(data: bytes, filename: str) -> Sheet:
    """Read the rows of an .xlsx (first/active sheet) or .csv file; refuse anything else."""
    if not data.strip():
        raise _fail("文件是空的 / the file is empty")
    suffix = PurePath(filename).suffix.lower()
    if data.startswith(ZIP_MAGIC):
        return _read_xlsx(data)
    if data.startswith(OLE2_MAGIC) or suffix == ".xls":
        raise _fail(
            "不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 .csv / "
            "old .xls files are not supported; save as .xlsx or .csv"
        )
    if suffix in EXCEL_SUFFIXES:
        raise _fail(f"“{filename}”不是有效的 .xlsx 文件 / not a valid .xlsx file")
    if suffix not in TEXT_SUFFIXES:
        raise _fail(
            f"不支持的文件类型“{suffix}”，请上传 .xlsx 或 .csv / "
            f"unsupported file type {suffix}; upload .xlsx or .csv"
        )
    if b"\x00" in data and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _fail("文件不是文本格式的 CSV / the file is not a text CSV file")
    text, encoding = decode_text(data)
    return Sheet(rows=list(non_blank(csv_rows(text))), encoding=encoding)


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode CSV bytes: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030."""
    if data.startswith(codecs.BOM_UTF8):
        candidates: tuple[str, ...] = ("utf-8-sig",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ("utf-16",)
    else:
        # GB18030 decodes most byte strings, so strict UTF-8 must be tried first.
        candidates = ("utf-8", "gb18030")
    for encoding in candidates:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise _fail(
        "无法识别文件编码，请保存为 UTF-8 或 GB18030（GBK）编码的 CSV / "
        "unknown text encoding; save the CSV as UTF-8 or GB18030 (GBK)"
    )


def sniff_delimiter(text: str) -> str:
    """The delimiter of the first non-empty line: comma unless tabs or semicolons dominate."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {delimiter: first.count(delimiter) for delimiter in (",", "\t", ";")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] > counts[","] else ","


def csv_rows(text: str) -> Iterable[Row]:
    """Records of CSV text, numbered from 1 (a quoted line break stays inside its row)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        yield from enumerate(reader, start=1)
    except csv.Error as exc:
        raise _fail(f"CSV 格式错误：{exc} / malformed CSV: {exc}") from exc


def _read_xlsx(data: bytes) -> Sheet:
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise _fail(
            f"无法读取 Excel 文件（{type(exc).__name__}） / cannot read the Excel file"
        ) from exc
    try:
        sheet = _data_sheet([workbook.active, *workbook.worksheets])
        if sheet is None:
            raise _fail("Excel 文件中没有工作表 / the workbook has no worksheet")
        # Some writers store a wrong sheet dimension; forget it so no row is cut off.
        sheet.reset_dimensions()
        try:
            rows = list(non_blank(enumerate(sheet.values, start=1)))
        except Exception as exc:
            raise _fail(
                f"无法读取 Excel 工作表（{type(exc).__name__}） / cannot read the worksheet"
            ) from exc
        warnings = []
        others = [ws.title for ws in workbook.worksheets if ws is not sheet and _has_data(ws)]
        if others:
            warnings.append(
                f"只导入了工作表“{sheet.title}”，忽略了：{'、'.join(others)} / "
                f"only sheet {sheet.title!r} was imported; ignored: {', '.join(others)}"
            )
        return Sheet(rows=rows, encoding="xlsx", warnings=warnings)
    finally:
        workbook.close()


def _data_sheet(candidates: Sequence[object]) -> ReadOnlyWorksheet | None:
    """The active sheet when it is a worksheet, else the first worksheet."""
    for candidate in candidates:
        if isinstance(candidate, ReadOnlyWorksheet):
            return candidate
    return None


def _has_data(sheet: object) -> bool:
    if not isinstance(sheet, ReadOnlyWorksheet):
        return False
    return any(not is_blank(cells) for cells in sheet.values)


def is_blank(cells: Sequence[object]) -> bool:
    """True when no cell holds anything but whitespace."""
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def non_blank(rows: Iterable[Row]) -> Iterable[Row]:
    """Drop blank rows, keeping the numbers of the others."""
    return ((number, cells) for number, cells in rows if not is_blank(cells))
