"""App config of `ledger`: its system checks and its periodic jobs."""

from __future__ import annotations

from datetime import timedelta

from django.apps import AppConfig

# How often the worker looks for payment steps left pending (see payments.STALE_AFTER for how old they must be).
RESUME_STALE_EVERY = timedelta(minutes=5)


class LedgerConfig(AppConfig):
    name = "crowdmaker.ledger"
    label = "ledger"
    verbose_name = "Ledger"

    def ready(self) -> None:
        from django.core import checks

        from crowdmaker.core import scheduler
        from crowdmaker.ledger import tasks
        from crowdmaker.ledger.checks import platform_fee_rate_check

        checks.register(platform_fee_rate_check)
        scheduler.register_periodic(
            name="ledger.payments_resume_stale", task=tasks.payments_resume_stale, every=RESUME_STALE_EVERY
        )
