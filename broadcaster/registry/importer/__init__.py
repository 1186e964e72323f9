"""Household registry import from .xlsx or .csv files, and the matching template."""

from broadcaster.registry.importer.columns import COLUMNS, ColumnSpec
from broadcaster.registry.importer.schemas import ImportProblem, ImportReport
from broadcaster.registry.importer.service import import_households
from broadcaster.registry.importer.template import write_template

__all__ = [
    "COLUMNS",
    "ColumnSpec",
    "ImportProblem",
    "ImportReport",
    "import_households",
    "write_template",
]
