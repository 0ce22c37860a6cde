"""Settings for a deployment: secrets and hosts must come from the environment, HTTPS everywhere.

Refuses to start without SECRET_KEY or DATABASE_URL rather than falling back to a guessable key or a local
database.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

# Checked before base.py is read, which would otherwise start an embedded PostgreSQL in var/: a deployment
# names its database.
if not os.environ.get("DATABASE_URL"):
    raise ImproperlyConfigured("DATABASE_URL must name the PostgreSQL database in production.")

from .base import *  # noqa: F403
from .base import env_bool, media_storage

DEBUG = False
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be set to a random string of at least 50 characters.")

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
STORAGES = {
    "default": media_storage(),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
