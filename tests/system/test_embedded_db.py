"""The embedded PostgreSQL is shared by every crowdmaker process that uses it and stopped by the last one.

Each step is a real process with DATABASE_URL unset, as `crowdmaker shell` beside `crowdmaker run` would be.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# A process that joins (or starts) the embedded server, says so, and leaves when told to.
USER = (
    "import sys\n"
    "from crowdmaker.core import embedded_db\n"
    "embedded_db.database_url()\n"
    "print('ready', flush=True)\n"
    "sys.stdin.readline()\n"
)


@pytest.fixture
def var_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path, whose 0700 root would lock out the unprivileged PostgreSQL account (root CI).
    folder = Path(tempfile.mkdtemp(prefix="crowdmaker-embedded-test-"))
    yield folder / "var"
    shutil.rmtree(folder, ignore_errors=True)


def _join(var_dir: Path) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "CROWDMAKER_EMBEDDED_DB"}}
    env["CROWDMAKER_VAR_DIR"] = str(var_dir)
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", USER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def _leave(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("\n")
    process.stdin.flush()
    assert process.wait(timeout=60) == 0


def _running(var_dir: Path) -> bool:
    return (var_dir / "postgres" / "postmaster.pid").exists()


def test_the_first_user_leaving_does_not_stop_the_server_under_the_second(var_dir: Path) -> None:
    first = _join(var_dir)  # starts the server
    second = _join(var_dir)  # joins it
    assert _running(var_dir)

    _leave(first)
    assert _running(var_dir), "the server stopped while another process still used it"

    _leave(second)
    assert not _running(var_dir), "the last user must stop the server"


def test_a_killed_user_does_not_keep_the_server_alive_for_ever(var_dir: Path) -> None:
    crashed = _join(var_dir)
    survivor = _join(var_dir)
    crashed.kill()  # no atexit: the kernel drops its lock
    crashed.wait(timeout=30)

    _leave(survivor)

    assert not _running(var_dir)
