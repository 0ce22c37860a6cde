"""Reads owned by core: throttle counts."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from crowdmaker.core.errors import Throttled
from crowdmaker.core.models import ThrottleEvent


def throttle_count(*, scope: str, key: str) -> int:
    since = timezone.now() - timedelta(seconds=settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS)
    return ThrottleEvent.objects.filter(scope=scope, key=key, created_at__gte=since).count()


def throttle_check(*, scope: str, key: str, limit: int, message: str) -> None:
    """Raise `Throttled` once `limit` events of this scope and key fall inside the window."""
    if throttle_count(scope=scope, key=key) >= limit:
        raise Throttled(message, retry_after=settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS)
