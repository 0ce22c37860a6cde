"""App config of `funding`: registers campaigns as owners of ledger accounts."""

from __future__ import annotations

from django.apps import AppConfig


class FundingConfig(AppConfig):
    name = "crowdmaker.funding"
    label = "funding"
    verbose_name = "Crowdfunding"

    def ready(self) -> None:
        from crowdmaker.funding import ledger_owners

        ledger_owners.register()
