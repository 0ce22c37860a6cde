"""Writes owned by core: recording and pruning throttle events."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crowdmaker.core.models import ThrottleEvent


def throttle_key(*parts: str) -> str:
    """Hash the client identity so that no IP address or e-mail is stored in the throttle table."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@transaction.atomic
def throttle_record(*, scope: str, key: str) -> None:
    ThrottleEvent.objects.create(scope=scope, key=key)


@transaction.atomic
def throttle_clear(*, scope: str, key: str) -> None:
    ThrottleEvent.objects.filter(scope=scope, key=key).delete()


@transaction.atomic
def throttle_prune() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS)
    deleted, _ = ThrottleEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
