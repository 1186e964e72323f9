"""Server-rendered pages: templates, static assets, translations."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
