"""Imports every table module so that Base.metadata is complete (Alembic, tests)."""

from broadcaster.auth import models as auth_models
from broadcaster.db.base import Base
from broadcaster.registry import models as registry_models

__all__ = ["Base", "auth_models", "registry_models"]
