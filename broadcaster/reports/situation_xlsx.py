"""The situation report as the district's XLSX forms: 灾情报送 and 转移人员统计, signed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from broadcaster.feeds.cap.publish import LEVEL_NAMES
from broadcaster.registry.importer.values import VULNERABILITY_LABELS
from broadcaster.registry.models import ZoneKind
from broadcaster.reports.export import local_time, safe_cell
from broadcaster.reports.situation import Figures, SituationReport, ZoneRow

PLACE = ("乡镇（街道）", "村（社区）", "网格")
PLACE_INDEX = {ZoneKind.township: 0, ZoneKind.village: 1, ZoneKind.grid: 2}
# (group heading, [(figure, column heading)]) of the 灾情报送 form
SITUATION: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("住户（户）", (
        ("households_targeted", "应通知户数"), ("households_confirmed", "已确认"),
        ("households_needs_help", "求助"), ("households_visited", "已上门核实"),
        ("households_reached", "已送达未回复"), ("households_pending", "待送达"),
        ("households_unreachable", "无法送达"), ("households_final", "已完成"),
        ("households_not_final", "未完成"),
    )),
    ("上门核实（户）", (("visits_total", "上门任务"), ("visits_done", "已上门"),
                   ("visits_open", "待上门"))),
    ("重点人群（户）", (("vulnerable_targeted", "重点人群户数"), ("vulnerable_final", "已完成"),
                   ("vulnerable_not_final", "未完成"))),
    ("求助（户）", (("help_total", "求助合计"), ("help_open", "待处理"))),
    ("农村大喇叭（个）", (("loudspeakers_targeted", "应播放"), ("loudspeakers_played", "已播放"))),
    ("转移", (("households_evacuated", "转移户数"), ("people_evacuated", "转移人数"))),
)  # fmt: skip
EVACUATION: tuple[tuple[str, str], ...] = (
    ("households_evacuated", "转移户数"),
    ("people_evacuated", "转移人数"),
    ("people_to_shelters", "其中：集中安置"),
    ("people_to_relatives", "投亲靠友"),
    ("people_elsewhere", "其他去向"),
    ("evacuated_uncounted", "人数未报户数"),
)
SHELTERS = ("序号", "安置点", "所在区域", "可容纳人数", "本次安置户数", "本次安置人数",
            "当前安置人数", "剩余容量")  # fmt: skip
VULNERABLE = ("户编号", "户主", "地址", "网格", "重点人群", "状态", "预警编号")
STATES = {"pending": "待送达", "reached": "已送达未回复", "unreachable": "无法送达"}
SIGNATURE = (
    "填报人：__________    审核人：__________    "
    "单位负责人（签字）：__________    联系电话：__________"
)
NOTE = (
    "说明：户数按预警计（同一户在多条预警中各计一次）；"
    "转移人数每户只计一次，以最近一次上门核实为准；农村大喇叭计入其覆盖的区域。"
)
BOLD, TITLE = Font(bold=True), Font(bold=True, size=16)
THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def subtitle(report: SituationReport) -> str:
    """What the report covers: one alert, or the alerts of a time window."""
    if report.since is not None and report.until is not None:
        span = f"{local_time(report.since)[:16]} 至 {local_time(report.until)[:16]}"
        return f"统计时段：{span}（北京时间），预警 {len(report.alerts)} 条"
    if len(report.alerts) == 1:
        a = report.alerts[0]
        issued = local_time(a.issued_at)[:16]
        return f"预警：#{a.id} {a.headline}（{LEVEL_NAMES[a.level]}，{issued} 发布）"
    return f"预警 {len(report.alerts)} 条"


def place(row: ZoneRow, names: dict[int, ZoneRow]) -> list[str]:
    """The township, village and grid cells of a row; a subtotal row says 小计."""
    cells = ["", "", ""]
    current: ZoneRow | None = row
    while current is not None:
        if current.kind in (ZoneKind.township, ZoneKind.village, ZoneKind.grid):
            cells[PLACE_INDEX[current.kind]] = current.name
        current = names.get(current.parent_id) if current.parent_id is not None else None
    if row.kind in (ZoneKind.township, ZoneKind.village):
        cells[PLACE_INDEX[row.kind] + 1] = "小计"
    return cells


def _values(figures: Figures, keys: Sequence[str]) -> list[int]:
    found = figures.as_dict()
    return [int(found[key]) for key in keys]


def _head(sheet: Worksheet, report: SituationReport, title: str, width: int, unit: str) -> None:
    drill = "【演练】" if report.drill else ""
    sheet.append([drill + title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet.cell(1, 1).font, sheet.cell(1, 1).alignment = TITLE, CENTER
    sheet.append([subtitle(report)])
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    stamp = f"统计时间：截至 {local_time(report.generated_at)[:16]}（北京时间）"
    sheet.append([f"填报单位（盖章）：{safe_cell(unit)}"] + [""] * (width - 4) + [stamp])
    sheet.merge_cells(start_row=3, start_column=1, end_row=3, end_column=width - 3)
    sheet.merge_cells(start_row=3, start_column=width - 2, end_row=3, end_column=width)


def _boxed(sheet: Worksheet, first: int, last: int, width: int) -> None:
    for r in range(first, last + 1):
        for c in range(1, width + 1):
            sheet.cell(r, c).border = BOX


def _foot(sheet: Worksheet, report: SituationReport) -> None:
    sheet.append([])
    sheet.append([NOTE])
    sheet.append([])
    sheet.append([SIGNATURE])
    sheet.append([f"填报时间：{local_time(report.generated_at)[:16]}"])


def _zone_lines(report: SituationReport, keys: Sequence[str]) -> Iterable[list[object]]:
    names = {r.zone_id: r for r in report.rows}
    for row in report.rows:
        if row.kind is ZoneKind.district:
            continue
        cells = [safe_cell(c) for c in place(row, names)]
        yield [*cells, *_values(row.figures, keys)]
    yield ["合计", "", "", *_values(report.total, keys)]


def _situation_sheet(book: Workbook, report: SituationReport, unit: str) -> None:
    sheet = book.create_sheet("灾情报送")
    keys = [key for _group, columns in SITUATION for key, _label in columns]
    width = len(PLACE) + len(keys)
    _head(sheet, report, "防汛预警到户及灾情核查报送表", width, unit)
    groups: list[object] = ["区域", "", ""]
    for group, columns in SITUATION:
        groups += [group] + [""] * (len(columns) - 1)
    sheet.append(groups)
    sheet.append([*PLACE, *(label for _g, columns in SITUATION for _k, label in columns)])
    sheet.merge_cells(start_row=4, start_column=1, end_row=4, end_column=3)
    column = len(PLACE) + 1
    for _group, columns in SITUATION:
        sheet.merge_cells(start_row=4, start_column=column, end_row=4,
                          end_column=column + len(columns) - 1)  # fmt: skip
        column += len(columns)
    for line in _zone_lines(report, keys):
        sheet.append(line)
    _style(sheet, 4, width)
    _foot(sheet, report)


def _style(sheet: Worksheet, header: int, width: int) -> None:
    last = sheet.max_row
    _boxed(sheet, header, last, width)
    for r in (header, header + 1):
        for c in range(1, width + 1):
            sheet.cell(r, c).font, sheet.cell(r, c).alignment = BOLD, CENTER
    for c in range(1, width + 1):
        sheet.cell(last, c).font = BOLD
        sheet.column_dimensions[get_column_letter(c)].width = 14 if c <= len(PLACE) else 9


def _evacuation_sheet(book: Workbook, report: SituationReport, unit: str) -> None:
    sheet = book.create_sheet("转移人员统计")
    keys = [key for key, _label in EVACUATION]
    width = len(PLACE) + len(keys)
    _head(sheet, report, "转移人员统计表", width, unit)
    sheet.append(["区域", "", "", "转移安置情况"] + [""] * (len(keys) - 1))
    sheet.merge_cells(start_row=4, start_column=1, end_row=4, end_column=3)
    sheet.merge_cells(start_row=4, start_column=4, end_row=4, end_column=width)
    sheet.append([*PLACE, *(label for _key, label in EVACUATION)])
    for line in _zone_lines(report, keys):
        sheet.append(line)
    _style(sheet, 4, width)
    sheet.append([])
    sheet.append(["安置点安置情况"])
    sheet.cell(sheet.max_row, 1).font = BOLD
    sheet.append(list(SHELTERS))
    first = sheet.max_row
    for n, s in enumerate(report.shelters, 1):
        zone = safe_cell(s.zone_name)
        sheet.append([n, safe_cell(s.name), zone, s.capacity, s.households, s.people,
                      s.occupancy, s.free])  # fmt: skip
    _boxed(sheet, first, sheet.max_row, len(SHELTERS))
    _foot(sheet, report)


def _vulnerable_sheet(book: Workbook, report: SituationReport) -> None:
    sheet = book.create_sheet("重点人群未完成")
    sheet.append(list(VULNERABLE))
    for v in report.vulnerable:
        flags = "、".join(VULNERABILITY_LABELS.get(flag, flag) for flag in v.vulnerability)
        cells = [v.household_code, v.head_name, v.address, v.grid, flags]
        sheet.append([*(safe_cell(c) for c in cells), STATES.get(v.state, v.state), v.alert_id])
    if report.total.vulnerable_not_final > len(report.vulnerable):
        listed, total = len(report.vulnerable), report.total.vulnerable_not_final
        sheet.append([f"仅列出前 {listed} 户，共 {total} 户"])


def write_situation(path: Path | IO[bytes], report: SituationReport, *, unit: str) -> None:
    """Three sheets: 灾情报送, 转移人员统计 (with the shelters), 重点人群未完成."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    _situation_sheet(book, report, unit)
    _evacuation_sheet(book, report, unit)
    _vulnerable_sheet(book, report)
    book.save(path)
