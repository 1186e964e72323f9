"""Registry API: zones, households and the household import."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/registry", tags=["registry"])
