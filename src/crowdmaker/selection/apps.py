"""App config of `selection`: open calls, submissions, votes and buy-intents, and its periodic job (promotion)."""

from __future__ import annotations

from datetime import timedelta

from django.apps import AppConfig

# How often submissions at the threshold or in a closed call's top N are promoted, and the buy-intents of promoted
# submissions whose campaign went live are invited.
PROMOTE_EVERY = timedelta(minutes=5)


class SelectionConfig(AppConfig):
    name = "crowdmaker.selection"
    label = "selection"
    verbose_name = "Community selection"

    def ready(self) -> None:
        from crowdmaker.core import scheduler
        from crowdmaker.selection import tasks

        scheduler.register_periodic(name="selection.calls_promote_due", task=tasks.calls_promote_due,
                                    every=PROMOTE_EVERY)  # fmt: skip
