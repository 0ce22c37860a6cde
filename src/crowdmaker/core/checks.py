"""System checks of `core`: settings that would break a promise MONEY.md makes are refused at start-up.

A check only reads settings; it never corrects them (a silently clamped setting hides the operator's mistake).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error

# MONEY.md: an idempotent request's first response is "kept at least 24 h".
MIN_IDEMPOTENCY_TTL_HOURS = 24


def idempotency_ttl_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """CROWDMAKER_IDEMPOTENCY_TTL_HOURS is a whole number of hours, at least MIN_IDEMPOTENCY_TTL_HOURS."""
    ttl = getattr(settings, "CROWDMAKER_IDEMPOTENCY_TTL_HOURS", None)
    if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl >= MIN_IDEMPOTENCY_TTL_HOURS:
        return []
    return [
        Error(
            f"CROWDMAKER_IDEMPOTENCY_TTL_HOURS is {ttl!r}; responses to Idempotency-Key requests must be kept at "
            f"least {MIN_IDEMPOTENCY_TTL_HOURS} hours.",
            hint=f"Set IDEMPOTENCY_TTL_HOURS to {MIN_IDEMPOTENCY_TTL_HOURS} or more (MONEY.md, Idempotency).",
            id="core.E001",
        )
    ]
