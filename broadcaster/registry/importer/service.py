"""import_households: read, check and apply a registry file in batches, then audit it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import phonenumbers
from sqlalchemy.orm import Session

from broadcaster.auth.audit import Actor, record
from broadcaster.errors import ValidationFailed
from broadcaster.registry.importer.apply import Writer
from broadcaster.registry.importer.columns import find_header
from broadcaster.registry.importer.reading import Row, read_sheet
from broadcaster.registry.importer.schemas import ImportProblem, ImportReport
from broadcaster.registry.importer.validate import HouseholdRow, Lookups, RowChecker
from broadcaster.registry.logins import import_logins
from broadcaster.settings import ImportSettings

BATCH_ROWS = 1000
MAX_WARNINGS = 100

Progress = Callable[[int, int], None]


def import_households(
    session: Session,
    *,
    data: bytes,
    filename: str,
    actor: Actor,
    region: str = "CN",
    progress: Progress | None = None,
    limits: ImportSettings | None = None,
) -> ImportReport:
    """Import a household registry file (.xlsx or .csv) into the session; do not commit.

    Good rows are created or updated (idempotent on household_code); every bad row is
    reported with its row number, column, value and reason, and changes nothing.
    Raise ValidationFailed(field="file") when the file as a whole cannot be read or is over
    the `limits`; the report lists the first `limits.max_problems` problems and counts all.
    """
    limits = limits or ImportSettings()
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationFailed(f"未知地区代码 {region} / unknown region code", field="region")
    sheet = read_sheet(data, filename, limits)
    header = find_header(sheet.rows)
    # A row with nothing in any known column (only a pre-filled 序号, say) counts as blank.
    rows = [
        (number, cells)
        for number, cells in sheet.rows
        if number > header.row and not header.is_blank(cells)
    ]
    if not rows:
        raise ValidationFailed("文件中没有数据行 / the file has no data rows", field="file")
    report = ImportReport(total_rows=len(rows), warnings=list(sheet.warnings))
    if header.unknown:
        names = "、".join(header.unknown)
        report.warnings.append(
            f"忽略了无法识别的列：{names} / ignored unknown columns: {', '.join(header.unknown)}"
        )
    session.flush()
    lookups = Lookups.load(session, region)
    checker = RowChecker(header, lookups)
    writer = Writer(session, lookups, header.present)
    first_row: dict[str, int] = {}
    if progress:
        progress(0, len(rows))
    for start in range(0, len(rows), BATCH_ROWS):
        batch = rows[start : start + BATCH_ROWS]
        good = _check_batch(batch, checker, first_row, report, limits.max_problems)
        created, updated, unchanged = writer.apply(good)
        report.created += created
        report.updated += updated
        report.unchanged += unchanged
        if progress:
            progress(start + len(batch), len(rows))
    if writer.no_phone:
        report.warnings.append(
            f"{writer.no_phone} 户没有任何电话，已标记为“无电话”，预警时需代联系人或上门通知 / "
            f"{writer.no_phone} households have no phone (flagged 无电话): proxies or a visit "
            "reach them"
        )
    report.warnings.extend(writer.warnings)
    report.warnings.extend(import_logins(session, writer.logins, actor=actor))
    _cap_warnings(report)
    record(
        session,
        actor=actor,
        action="registry.import",
        object_type="household",
        filename=filename,
        encoding=sheet.encoding,
        region=region,
        total_rows=report.total_rows,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        rejected=report.rejected,
        problems=report.problems_total,
    )
    session.flush()
    # The bulk statements bypassed the identity map; make loaded objects re-read.
    session.expire_all()
    return report


def _check_batch(
    batch: Sequence[Row],
    checker: RowChecker,
    first_row: dict[str, int],
    report: ImportReport,
    max_problems: int,
) -> list[HouseholdRow]:
    good: list[HouseholdRow] = []
    for number, cells in batch:
        household, problems = checker.check(number, cells)
        code = household.code
        if code:
            earlier = first_row.setdefault(code, number)
            if earlier != number:
                problems.append(
                    ImportProblem(
                        row=number,
                        column="household_code",
                        heading=checker.header.heading("household_code"),
                        value=code,
                        reason=f"与第 {earlier} 行户编号重复 / duplicate of row {earlier}",
                    )
                )
        if problems:
            report.rejected += 1
            report.add_problems(problems, max_problems)
        else:
            good.append(household)
    return good


def _cap_warnings(report: ImportReport) -> None:
    extra = len(report.warnings) - MAX_WARNINGS
    if extra > 0:
        del report.warnings[MAX_WARNINGS:]
        report.warnings.append(f"……另有 {extra} 条提示未列出 / … {extra} more not shown")
