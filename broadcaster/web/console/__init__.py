"""The duty officer's console: board, compose, alert pages, exports, reports and registry."""

from __future__ import annotations

from fastapi import APIRouter

from broadcaster.web.console import (
    alert_page,
    alerts_list,
    compose,
    dashboard,
    events,
    exports,
    household_edit,
    recipient_page,
    registry_pages,
    report,
)

router = APIRouter(include_in_schema=False)
_MODULES = (
    dashboard,
    events,
    compose,
    alerts_list,
    alert_page,
    recipient_page,
    exports,
    report,
    registry_pages,
    household_edit,
)
for _module in _MODULES:
    router.include_router(_module.router)

__all__ = ["router"]
