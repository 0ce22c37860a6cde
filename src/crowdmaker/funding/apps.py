"""App config of `funding`: registers campaigns as owners of ledger accounts, and its periodic jobs."""

from __future__ import annotations

from datetime import timedelta

from django.apps import AppConfig

# How often the worker settles campaigns past their deadline and retries declined captures: a campaign is decided
# within a minute or two of its deadline (settlement.IN_FLIGHT_GRACE, then the next tick).
SETTLE_EVERY = timedelta(minutes=1)
# How often pledges left pending are looked for (pledges.PLEDGE_STALE_AFTER says how old they must be).
RESUME_PLEDGES_EVERY = timedelta(minutes=5)


class FundingConfig(AppConfig):
    name = "crowdmaker.funding"
    label = "funding"
    verbose_name = "Crowdfunding"

    def ready(self) -> None:
        from crowdmaker.core import scheduler
        from crowdmaker.funding import ledger_owners, tasks

        ledger_owners.register()
        scheduler.register_periodic(name="funding.settle_due_campaigns", task=tasks.settle_due_campaigns,
                                    every=SETTLE_EVERY)  # fmt: skip
        scheduler.register_periodic(name="funding.pledges_resume_stale", task=tasks.pledges_resume_stale,
                                    every=RESUME_PLEDGES_EVERY)  # fmt: skip
