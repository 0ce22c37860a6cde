"""The registry of periodic jobs and the tick that enqueues the due ones.

Apps register jobs in `AppConfig.ready()`. `crowdmaker worker` calls `scheduler_tick` in a loop; several
workers may tick at once: each due row is locked with SKIP LOCKED and its task enqueued in the same
transaction that moves `next_run_at`, so a job is enqueued once per period however many schedulers run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from crowdmaker.core.models import PeriodicJob

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str
    task: Any  # a django_tasks Task taking no arguments
    every: timedelta


_registry: dict[str, Periodic] = {}


def register_periodic(*, name: str, task: Any, every: timedelta) -> None:
    if every <= timedelta(0):
        raise ValueError(f"periodic job {name} needs a positive interval")
    _registry[name] = Periodic(name=name, task=task, every=every)


def registered() -> dict[str, Periodic]:
    return dict(_registry)


@transaction.atomic
def scheduler_tick(*, now: datetime | None = None) -> list[str]:
    """Enqueue every registered job that is due; return the names enqueued."""
    now = now or timezone.now()
    for job in _registry.values():
        # A new job runs on the first tick after it is registered.
        PeriodicJob.objects.get_or_create(name=job.name, defaults={"next_run_at": now})
    due = (
        PeriodicJob.objects.select_for_update(skip_locked=True)
        .filter(name__in=list(_registry), next_run_at__lte=now)
        .order_by("pk")
    )
    enqueued = []
    for row in due:
        job = _registry[row.name]
        job.task.enqueue()
        row.last_enqueued_at = now
        # Skip missed periods rather than enqueueing a backlog after downtime.
        row.next_run_at = now + job.every
        row.save(update_fields=["last_enqueued_at", "next_run_at"])
        enqueued.append(row.name)
        logger.info("scheduler: enqueued %s, next at %s", row.name, row.next_run_at.isoformat())
    return enqueued
