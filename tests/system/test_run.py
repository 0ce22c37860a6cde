"""`crowdmaker run` on a fresh data folder: embedded PostgreSQL, migrations, demo data, web server and worker
come up; Ctrl-C stops all of it, PostgreSQL included; a second run reuses the data.

This drives the real console script in a subprocess, with DATABASE_URL unset, as a newcomer's `make run` does.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own local server
        return response.status, response.read().decode()


def _start(var_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "CROWDMAKER_EMBEDDED_DB"}}
    env.update(CROWDMAKER_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="crowdmaker.config.settings.dev")
    return subprocess.Popen(  # noqa: S603
        [str(BIN / "crowdmaker"), "run", "--port", str(port), "--web-workers", "1"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"crowdmaker run exited with {process.returncode}:\n{log.read_text()}")
        try:
            if _get(url)[0] == 200:
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"crowdmaker run did not serve {url} within {timeout} s:\n{log.read_text()}")


def _ctrl_c(process: subprocess.Popen[bytes]) -> int:
    os.killpg(process.pid, signal.SIGINT)
    return process.wait(timeout=60)


def _query(var_dir: Path, sql: str) -> list[tuple[object, ...]]:
    url = f"postgresql://postgres@{quote(str(var_dir / 'postgres'), safe='')}/crowdmaker"
    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()


@pytest.fixture
def var_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path: another pytest run starting meanwhile resets /tmp/pytest-of-<user> to
    # mode 0700, which locks out the unprivileged account the embedded PostgreSQL runs as when we are root.
    folder = Path(tempfile.mkdtemp(prefix="crowdmaker-run-test-"))
    yield folder / "var"
    shutil.rmtree(folder, ignore_errors=True)


def test_run_serves_the_platform_and_ctrl_c_stops_everything(tmp_path: Path, var_dir: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"

    first = _start(var_dir, port, tmp_path / "first.log")
    try:
        _wait_until_serving(first, f"{base}/api/v1/health", tmp_path / "first.log")
        status, health = _get(f"{base}/api/v1/health")
        assert json.loads(health) == {"status": "ok", "database": "ok"}
        status, home = _get(f"{base}/")
        assert status == 200
        assert "Ada Okafor" in home  # demo data is loaded on the first run
        # The worker's scheduler enqueues the periodic jobs and the worker runs them.
        # Wait for these two by name: other periodic jobs (the funding ones) may well finish first.
        expected = {"crowdmaker.core.tasks.throttle_prune", "crowdmaker.people.tasks.team_invitations_expire"}
        deadline = time.monotonic() + 30
        done: set[object] = set()
        while time.monotonic() < deadline and not done >= expected:
            rows = _query(
                var_dir, "SELECT task_path FROM django_tasks_database_dbtaskresult WHERE status = 'SUCCESSFUL'"
            )
            done = {row[0] for row in rows}
            time.sleep(0.5)
        assert done >= expected
        makers_after_first_run = _query(var_dir, "SELECT count(*) FROM people_user")[0][0]
    finally:
        code = _ctrl_c(first)

    assert code == 0, (tmp_path / "first.log").read_text()
    assert not (var_dir / "postgres" / "postmaster.pid").exists(), "PostgreSQL must stop with Ctrl-C"
    with pytest.raises(urllib.error.URLError):
        _get(f"{base}/api/v1/health")

    second = _start(var_dir, port, tmp_path / "second.log")
    try:
        _wait_until_serving(second, f"{base}/api/v1/health", tmp_path / "second.log")
        assert _query(var_dir, "SELECT count(*) FROM people_user")[0][0] == makers_after_first_run
        assert "Demo data loaded" not in (tmp_path / "second.log").read_text()
    finally:
        assert _ctrl_c(second) == 0
    assert not (var_dir / "postgres" / "postmaster.pid").exists()
