"""`broadcaster demo` prints a field worker's and a loudspeaker operator's login that work at
once: each signs in and sees their own page as the worker it is tied to."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select

from broadcaster.registry.models import Worker
from tests.stack import free_port, wait_until

LOGIN = re.compile(r"(field worker|loudspeaker operator) login: (\S+) / (\S+)")


def read_logins(proc: subprocess.Popen[str], timeout: float = 240) -> dict[str, tuple[str, str]]:
    """The two worker logins from the demo's banner."""
    found: dict[str, tuple[str, str]] = {}
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while len(found) < 2 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        match = LOGIN.search(line)
        if match:
            found[match.group(1)] = (match.group(2), match.group(3))
    return found


def test_the_demo_prints_worker_logins_that_work(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env.update({"BROADCASTER_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"})
    command = [sys.executable, "-m", "broadcaster.cli", "demo", "--households", "60"]
    proc = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        logins = read_logins(proc)
        assert set(logins) == {"field worker", "loudspeaker operator"}, logins
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=120)
        database = create_engine(f"sqlite:///{tmp_path / 'var' / 'broadcaster.db'}")
        with database.connect() as connection:
            names = dict(connection.execute(select(Worker.id, Worker.name)).all())
        database.dispose()
        for kind, page in (("field worker", "/field/"), ("loudspeaker operator", "/operator")):
            username, password = logins[kind]
            worker_id = int(username.rsplit("-", 1)[1])
            with httpx.Client(base_url=base, timeout=30) as web:
                signed = web.post("/login", data={"username": username, "password": password})
                assert signed.status_code == 303, signed.text
                assert signed.headers["location"] == page
                shown = web.get(page)
                assert shown.status_code == 200
                assert names[worker_id] in shown.text
                assert "未关联工作人员" not in shown.text
                if kind == "field worker":
                    assert web.get("/api/v1/visits").status_code == 200
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
