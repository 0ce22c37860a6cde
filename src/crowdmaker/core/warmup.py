"""Work a web process does once when it starts, before it answers anyone: filling per-process caches that would
otherwise make some visitor's first request slow (the compatibility engine's catalog index takes seconds on a
large catalog).

Apps register a warm-up in their `AppConfig.ready()`; the WSGI module runs them all when a server process loads
it. A warm-up that fails is logged and skipped: the cache is then filled by the first request, as without one.
Set WARM_UP=0 to skip them (a process that must start instantly, a broken database during an incident).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

_warmups: dict[str, Callable[[], object]] = {}


def register_warmup(name: str, warm: Callable[[], object]) -> None:
    _warmups[name] = warm


def run_warmups() -> dict[str, float]:
    """Run every registered warm-up; returns how long each took (seconds), failures left out."""
    if os.environ.get("WARM_UP", "1") in ("0", "false", "no", "off"):
        return {}
    from django.db import connections

    took: dict[str, float] = {}
    for name, warm in _warmups.items():
        started = time.perf_counter()
        try:
            warm()
        except Exception:
            logger.exception("warm-up %s failed; the first request will do it", name)
            continue
        took[name] = time.perf_counter() - started
        logger.info("warm-up %s took %.2f s", name, took[name])
    connections.close_all()  # the server process forks no further, but a request opens its own connection anyway
    return took
