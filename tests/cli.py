"""Run the `broadcaster` command line as a separate process, the way an administrator does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(database_url: str, data_dir: Path, *args: str) -> str:
    """`broadcaster ARGS…` against this database; its output (a failure raises)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env.update(
        {
            "BROADCASTER_ENV": "test",
            "BROADCASTER_DATABASE_URL": database_url,
            "BROADCASTER_DATA_DIR": str(data_dir),
            "COLUMNS": "200",
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "broadcaster.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
