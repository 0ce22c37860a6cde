"""Settings for `make run` on a workstation: debug pages, a per-checkout secret key, e-mail to the console."""

from __future__ import annotations

import secrets

from .base import *  # noqa: F403
from .base import VAR_DIR, env_bool

DEBUG = env_bool("DEBUG", True)


def _local_secret_key() -> str:
    """A random key kept in var/ so sessions survive restarts; never used in production."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = SECRET_KEY or _local_secret_key()  # noqa: F405

# Static files are served straight from the apps' static folders; no collectstatic step is needed here.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
