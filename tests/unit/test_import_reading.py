"""Reading registry files: CSV encodings and delimiters, xlsx, refused files, the template."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from broadcaster.errors import ValidationFailed
from broadcaster.registry.importer import COLUMNS, write_template
from broadcaster.registry.importer.columns import find_header
from broadcaster.registry.importer.reading import decode_text, read_sheet
from tests.factories.import_files import HEADER, csv_bytes, household_row, xlsx_bytes

CHINESE = "户编号,户主姓名,地址\r\nA1,王大爷,重庆市渝北区龙溪街道一村3组\r\n"


def test_utf8_without_bom() -> None:
    assert decode_text(CHINESE.encode("utf-8")) == (CHINESE, "utf-8")


def test_utf8_with_bom_loses_the_bom() -> None:
    text, encoding = decode_text(codecs.BOM_UTF8 + CHINESE.encode("utf-8"))
    assert text == CHINESE
    assert encoding == "utf-8-sig"


def test_gb18030_is_detected() -> None:
    data = CHINESE.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert decode_text(data) == (CHINESE, "gb18030")


def test_gbk_file_reads_as_gb18030() -> None:
    sheet = read_sheet(CHINESE.encode("gbk"), "registry.csv")
    assert sheet.encoding == "gb18030"
    assert sheet.rows[1] == (2, ["A1", "王大爷", "重庆市渝北区龙溪街道一村3组"])


def test_utf16_with_bom_tab_separated() -> None:
    data = "户编号\t户主姓名\nA1\t王大爷\n".encode("utf-16")
    sheet = read_sheet(data, "export.txt")
    assert sheet.rows == [(1, ["户编号", "户主姓名"]), (2, ["A1", "王大爷"])]


def test_csv_rows_keep_spreadsheet_numbers_and_skip_blank_rows() -> None:
    data = '户编号,户主姓名\nA1,甲\n,\n\n  ,  \n"A2","乙\n丙"\nA3,丁\n'.encode()
    rows = read_sheet(data, "x.csv").rows
    assert [number for number, _ in rows] == [1, 2, 6, 7]
    assert rows[2] == (6, ["A2", "乙\n丙"])


def test_xlsx_rows_and_numeric_cells() -> None:
    data = xlsx_bytes(
        [
            household_row("A1", phones=13800138000),
            [None] * len(HEADER),
            household_row("A2", lon=106.5, lat=29.5),
        ]
    )
    rows = read_sheet(data, "whatever.xlsx").rows
    assert [number for number, _ in rows] == [1, 2, 4]
    assert rows[1][1][5] == 13800138000
    assert rows[2][1][9] == 106.5


def test_xlsx_is_recognised_by_content_even_with_a_csv_name() -> None:
    rows = read_sheet(xlsx_bytes([household_row("A1")]), "registry.csv").rows
    assert rows[1][1][0] == "A1"


def test_xlsx_reading_ignores_a_wrong_sheet_dimension() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for n in range(1, 30):
        sheet.append([f"R{n}"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    # Rewrite the stored dimension to claim only A1:A3.
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(
                    b'<dimension ref="A1:A29" />', b'<dimension ref="A1:A3" />'
                )
                assert b'ref="A1:A3"' in content
            target.writestr(item, content)
    rows = read_sheet(out.getvalue(), "x.xlsx").rows
    assert len(rows) == 29


def test_xlsx_other_sheets_with_data_are_warned_about() -> None:
    workbook = Workbook()
    first = workbook.active
    assert first is not None
    first.append(["户编号"])
    workbook.create_sheet("空表")
    workbook.create_sheet("二村").append(["户编号"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    sheet = read_sheet(buffer.getvalue(), "x.xlsx")
    assert len(sheet.warnings) == 1
    assert "二村" in sheet.warnings[0]
    assert "空表" not in sheet.warnings[0]


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "x.csv", "文件是空的"),
        (b" \r\n\r\n", "x.csv", "文件是空的"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", ".xls"),
        (b"not a zip", "x.xlsx", "不是有效的 .xlsx"),
        (b"PK\x03\x04garbage", "x.xlsx", "无法读取 Excel"),
        (b"%PDF-1.4", "x.pdf", "不支持的文件类型"),
        (b"ab\x00cd", "x.csv", "不是文本"),
        (b"\x81\x30\xff\xff", "x.csv", "无法识别文件编码"),
    ],
)
def test_unreadable_files_are_refused(data: bytes, filename: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message) as info:
        read_sheet(data, filename)
    assert info.value.field == "file"


@pytest.mark.parametrize("name", ["template.xlsx", "template.csv"])
def test_template_reads_back_with_every_column(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    write_template(path)
    sheet = read_sheet(path.read_bytes(), name)
    header = find_header(sheet.rows)
    assert header.row == 1
    assert set(header.index) == {spec.key for spec in COLUMNS}
    assert header.unknown == ()
    assert len(sheet.rows) == 2
    assert [str(cell) for cell in sheet.rows[1][1]] == [spec.example for spec in COLUMNS]


def test_xlsx_template_keeps_phone_columns_as_text(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    write_template(path)
    sheet = load_workbook(path).active
    assert sheet is not None
    assert sheet["A1"].value == "户编号 household_code"
    assert sheet["F50"].number_format == "@"


def test_csv_template_has_a_bom_for_excel(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_template(path)
    assert path.read_bytes().startswith(codecs.BOM_UTF8)


def test_semicolon_inside_quoted_cells_does_not_change_the_delimiter() -> None:
    data = csv_bytes([household_row("A1", phones="13800138000;13900139000")])
    rows = read_sheet(data, "x.csv").rows
    assert rows[1][1][5] == "13800138000;13900139000"
