"""The duty officer's console: board, compose, alert pages, exports, reports and registry."""

from __future__ import annotations

from fastapi import APIRouter

from broadcaster.web.console import (
    alert_page,
    alerts_list,
    audit_page,
    compose,
    dashboard,
    duty,
    events,
    exports,
    household_edit,
    recipient_page,
    registry_pages,
    report,
    situation,
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
    situation,
    duty,
    audit_page,
    registry_pages,
    household_edit,
)
for _module in _MODULES:
    router.include_router(_module.router)

__all__ = ["router"]
