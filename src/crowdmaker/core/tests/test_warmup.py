"""Warm-ups run when a server process loads the WSGI module; a failing one is logged, not fatal."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.db import connection

from crowdmaker.commons import systems
from crowdmaker.core import warmup


@pytest.mark.django_db
def test_the_catalog_index_is_built_by_the_warm_up() -> None:
    systems._catalog_cache.clear()
    took = warmup.run_warmups()
    assert "commons: the catalog index" in took
    assert systems._catalog_cache  # a request now finds it built


def test_a_failing_warm_up_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("no database")

    warmup.register_warmup("test: broken", broken)
    try:
        with caplog.at_level("ERROR"):
            assert _run_only("test: broken") == {}
        assert "warm-up test: broken failed" in caplog.text
    finally:
        warmup._warmups.pop("test: broken", None)


def _run_only(name: str) -> dict[str, float]:
    kept = dict(warmup._warmups)
    warmup._warmups.clear()
    warmup._warmups[name] = kept[name]
    try:
        return warmup.run_warmups()
    finally:
        warmup._warmups.clear()
        warmup._warmups.update(kept)


@pytest.mark.django_db
def test_a_server_process_warms_up_when_it_loads_the_wsgi_module() -> None:
    code = "import logging; logging.basicConfig(level=logging.INFO); import crowdmaker.config.wsgi"
    test_database = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "crowdmaker.config.settings.test",
                   "DATABASE_URL": test_database}  # fmt: skip
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "warm-up commons: the catalog index took" in result.stderr
    skipped = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env={**environment, "WARM_UP": "0"}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert skipped.returncode == 0, skipped.stderr
    assert "warm-up" not in skipped.stderr
