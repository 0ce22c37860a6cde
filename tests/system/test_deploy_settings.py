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


def test_uploads_go_to_an_s3_compatible_store_by_configuration() -> None:
    show = "from django.conf import settings; print(settings.STORAGES['default'])"
    secret = secrets.token_urlsafe(60)
    local = _crowdmaker("shell", "-c", show, SECRET_KEY=secret)
    assert local.returncode == 0, local.stderr
    assert "FileSystemStorage" in local.stdout
    s3 = _crowdmaker("shell", "-c", show, SECRET_KEY=secret, MEDIA_STORAGE="s3", S3_BUCKET="designs",
                     S3_ENDPOINT_URL="https://minio.internal:9000")  # fmt: skip
    assert s3.returncode == 0, s3.stderr
    assert "storages.backends.s3.S3Storage" in s3.stdout
    assert "'bucket_name': 'designs'" in s3.stdout
    assert "'endpoint_url': 'https://minio.internal:9000'" in s3.stdout
    no_bucket = _crowdmaker("check", SECRET_KEY=secret, MEDIA_STORAGE="s3")
    assert no_bucket.returncode != 0
    assert "MEDIA_STORAGE=s3 needs S3_BUCKET." in no_bucket.stderr
    unknown = _crowdmaker("check", SECRET_KEY=secret, MEDIA_STORAGE="ftp")
    assert unknown.returncode != 0
    assert "MEDIA_STORAGE must be filesystem or s3, not 'ftp'." in unknown.stderr
