"""App config of `core`: registers core's own periodic jobs with the scheduler and its system checks."""

from __future__ import annotations

from datetime import timedelta

from django.apps import AppConfig
from django.core import checks as django_checks


class CoreConfig(AppConfig):
    name = "crowdmaker.core"
    label = "core"
    verbose_name = "Crowdmaker core"

    def ready(self) -> None:
        from crowdmaker.core import checks, scheduler, tasks

        django_checks.register(checks.idempotency_ttl_check, "crowdmaker")

        scheduler.register_periodic(name="core.throttle_prune", task=tasks.throttle_prune, every=timedelta(hours=1))
        scheduler.register_periodic(
            name="core.idempotency_prune", task=tasks.idempotency_prune, every=timedelta(hours=1)
        )
