"""Background work of `selection`: promotion of due submissions and the invitations of their buy-intents
(`selection.promotion`, idempotent)."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from crowdmaker.selection import promotion


@task()
def calls_promote_due() -> dict[str, int]:
    """Promote submissions at the threshold or in a closed call's top N; invite intents of live campaigns."""
    return promotion.calls_promote_due(now=timezone.now())
