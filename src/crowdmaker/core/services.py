"""Writes owned by core: taking, releasing, clearing and pruning throttle events.

A throttle slot is counted and taken in one step under a per-key advisory lock, never checked first and
recorded later, so parallel requests cannot all slip under the limit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from crowdmaker.core.errors import Throttled
from crowdmaker.core.models import ThrottleEvent
from crowdmaker.core.selectors import throttle_count


def throttle_key(*parts: str) -> str:
    """Hash the client identity so that no IP address or e-mail is stored in the throttle table."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def advisory_lock_id(scope: str, key: str) -> int:
    """A stable signed 64-bit number for (scope, key), as `pg_advisory_xact_lock` wants."""
    digest = hashlib.sha256(f"{scope}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@transaction.atomic
def throttle_take(*, scope: str, key: str, limit: int, message: str) -> int:
    """Take one of `limit` slots of this scope and key in the window and return the event's id.

    Raises `Throttled` (and records nothing) when all slots are taken. The lock lasts until the transaction
    ends, so callers must not wrap slow work (a password check) in the same transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_lock_id(scope, key)])
    if throttle_count(scope=scope, key=key) >= limit:
        raise Throttled(message, retry_after=settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS)
    return ThrottleEvent.objects.create(scope=scope, key=key).pk


@transaction.atomic
def throttle_release(*, event_ids: Iterable[int]) -> None:
    """Give back slots taken for an attempt that turned out not to count (a sign-in that succeeded)."""
    ThrottleEvent.objects.filter(pk__in=list(event_ids)).delete()


@transaction.atomic
def throttle_clear(*, scope: str, key: str) -> None:
    ThrottleEvent.objects.filter(scope=scope, key=key).delete()


@transaction.atomic
def throttle_prune() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS)
    deleted, _ = ThrottleEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
