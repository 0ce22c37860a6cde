"""App config of `people`: registers its periodic jobs with the scheduler and its ledger owner kinds."""

from __future__ import annotations

from datetime import timedelta

from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "crowdmaker.people"
    label = "people"
    verbose_name = "People and teams"

    def ready(self) -> None:
        from crowdmaker.core import scheduler
        from crowdmaker.people import ledger_owners, tasks

        ledger_owners.register()

        scheduler.register_periodic(
            name="people.team_invitations_expire", task=tasks.team_invitations_expire, every=timedelta(hours=1)
        )
