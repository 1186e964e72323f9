"""Personal tokens never reach the access log: /c/<token> and /relay/<token> are masked."""

from __future__ import annotations

import logging
import re

TOKEN_PATH = re.compile(r"(/(?:c|relay)/)[^/?#\s\"]+")
TOKEN_QUERY = re.compile(r"([?&](?:token|t)=)[^&#\s\"]+")
ACCESS_LOGGER = "uvicorn.access"


def mask(text: str) -> str:
    """A path (or any log text) with confirmation and relay tokens replaced by ***."""
    return TOKEN_QUERY.sub(r"\1***", TOKEN_PATH.sub(r"\1***", text))


class MaskTokens(logging.Filter):
    """Rewrites the path argument of uvicorn's access lines (and any string argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(mask(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str) and not record.args:
            record.msg = mask(record.msg)
        return True


def install() -> None:
    """Mask tokens in uvicorn's access log (once per process, whoever runs the app)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, MaskTokens) for f in logger.filters):
        logger.addFilter(MaskTokens())
