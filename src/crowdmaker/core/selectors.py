"""Reads owned by core: throttle counts. Refusing over a limit is `services.throttle_take`'s job, not a read's."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from crowdmaker.core.models import ThrottleEvent


def throttle_count(*, scope: str, key: str) -> int:
    since = timezone.now() - timedelta(seconds=settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS)
    return ThrottleEvent.objects.filter(scope=scope, key=key, created_at__gte=since).count()
