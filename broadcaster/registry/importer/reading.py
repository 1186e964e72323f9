"""Reading an uploaded .xlsx or .csv file into numbered rows of cell values."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import BinaryIO

import openpyxl
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from broadcaster.errors import ValidationFailed
from broadcaster.settings import ImportSettings

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
TEXT_SUFFIXES = frozenset({".csv", ".txt", ""})
EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm"})
RATIO_FLOOR = 1024 * 1024  # parts smaller than this unpacked may compress as well as they like
MIB = 1024 * 1024

Row = tuple[int, Sequence[object]]


@dataclass
class Sheet:
    """The non-blank rows of a file, numbered as the spreadsheet numbers them (from 1)."""

    rows: list[Row]
    encoding: str
    warnings: list[str] = field(default_factory=list)


def _fail(message: str, **detail: object) -> ValidationFailed:
    return ValidationFailed(message, field="file", **detail)


def read_upload(stream: BinaryIO, limits: ImportSettings) -> bytes:
    """An uploaded file, read no further than one byte past the size limit."""
    data = stream.read(limits.max_upload_bytes + 1)
    _check_size(data, limits)
    return data


def _check_size(data: bytes, limits: ImportSettings) -> None:
    if len(data) > limits.max_upload_bytes:
        size = f"{limits.max_upload_bytes / MIB:g} MiB"
        raise _fail(
            f"文件过大（上限 {size}） / file too large (limit {size})",
            limit=limits.max_upload_bytes,
        )


def read_sheet(data: bytes, filename: str, limits: ImportSettings | None = None) -> Sheet:
    """Read the rows of an .xlsx (first/active sheet) or .csv file; refuse anything else,
    and anything over the limits (size, unpacked size, compression ratio, rows) unparsed."""
    limits = limits or ImportSettings()
    _check_size(data, limits)
    if not data.strip():
        raise _fail("文件是空的 / the file is empty")
    suffix = PurePath(filename).suffix.lower()
    if data.startswith(ZIP_MAGIC):
        check_zip(data, limits)
        return _read_xlsx(data, limits)
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
    return Sheet(rows=bounded(non_blank(csv_rows(text)), limits), encoding=encoding)


def check_zip(data: bytes, limits: ImportSettings) -> None:
    """Refuse a zip bomb from its directory, before anything is unpacked: the parts' total
    unpacked size and each big part's compression ratio. (Python's zipfile never unpacks a
    part beyond the size its directory declares, so the declared sizes bound the work.)"""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise _fail(
            f"无法读取 Excel 文件（{type(exc).__name__}） / cannot read the Excel file"
        ) from exc
    total = sum(part.file_size for part in parts)
    if total > limits.max_uncompressed_bytes:
        size, limit = f"{total / MIB:.0f} MiB", f"{limits.max_uncompressed_bytes / MIB:g} MiB"
        raise _fail(
            f"Excel 文件解压后过大：{size}，上限 {limit}（疑似压缩炸弹） / the workbook unpacks "
            f"to {size}, limit {limit} (a zip bomb?)",
            limit=limits.max_uncompressed_bytes,
        )
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > RATIO_FLOOR and ratio > limits.max_compression_ratio:
            raise _fail(
                f"Excel 文件的 {part.filename} 压缩比 {ratio:.0f}:1 过高，上限 "
                f"{limits.max_compression_ratio:g}:1（疑似压缩炸弹） / {part.filename} is "
                f"compressed {ratio:.0f}:1, limit {limits.max_compression_ratio:g}:1 (a zip bomb?)",
                limit=limits.max_compression_ratio,
            )


def bounded(rows: Iterable[Row], limits: ImportSettings) -> list[Row]:
    """The rows, refused as soon as there are more than the limit (never all read first)."""
    taken: list[Row] = []
    for row in rows:
        if len(taken) >= limits.max_rows:
            raise _fail(
                f"行数过多：超过 {limits.max_rows} 行，请分成几个文件导入 / too many rows: more "
                f"than {limits.max_rows}; split the file",
                limit=limits.max_rows,
            )
        taken.append(row)
    return taken


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


def _read_xlsx(data: bytes, limits: ImportSettings) -> Sheet:
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
            rows = bounded(non_blank(enumerate(sheet.values, start=1)), limits)
        except ValidationFailed:
            raise
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
