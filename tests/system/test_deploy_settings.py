"""The production settings pass Django's deployment checklist and refuse to start without a real secret."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _crowdmaker(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "crowdmaker.config.settings.production", **env}
    return subprocess.run(  # noqa: S603
        [str(BIN / "crowdmaker"), *args], env=environment, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = _crowdmaker(
        "check", "--deploy", "--fail-level", "WARNING",
        SECRET_KEY=secrets.token_urlsafe(60), ALLOWED_HOSTS="crowdmaker.example.org",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    environment = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    result = subprocess.run(  # noqa: S603
        [str(BIN / "crowdmaker"), "check"],
        env={**environment, "DJANGO_SETTINGS_MODULE": "crowdmaker.config.settings.production"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_a_database_url() -> None:
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    result = subprocess.run(  # noqa: S603
        [str(BIN / "crowdmaker"), "check"],
        env={
            **environment,
            "DJANGO_SETTINGS_MODULE": "crowdmaker.config.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(60),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DATABASE_URL must name the PostgreSQL database in production." in result.stderr
    assert "starting embedded PostgreSQL" not in result.stderr
