"""App config of `funding`: registers campaigns as owners of ledger accounts, and its periodic jobs (settlement,
pending pledges, survey reminders, backers' e-mail left unsent, refunds left pending)."""

from __future__ import annotations

from datetime import timedelta

from django.apps import AppConfig

# How often the worker settles campaigns past their deadline and retries declined captures: a campaign is decided
# within a minute or two of its deadline (settlement.IN_FLIGHT_GRACE, then the next tick).
SETTLE_EVERY = timedelta(minutes=1)
# How often pledges left pending are looked for (pledges.PLEDGE_STALE_AFTER says how old they must be).
RESUME_PLEDGES_EVERY = timedelta(minutes=5)
# How often survey invitations of late pledges and due reminders are looked for (surveys.SURVEY_REMINDER_EVERY says
# when a reminder is due), and unsent e-mails of updates and messages are sent (backer_mail.RESUME_AFTER).
SURVEY_REMINDERS_EVERY = timedelta(hours=1)
BACKER_MAIL_RESUME_EVERY = timedelta(minutes=10)
# How often refunds left pending are looked for (refunds.REFUND_STALE_AFTER says how old they must be).
RESUME_REFUNDS_EVERY = timedelta(minutes=5)


class FundingConfig(AppConfig):
    name = "crowdmaker.funding"
    label = "funding"
    verbose_name = "Crowdfunding"

    def ready(self) -> None:
        from crowdmaker.core import scheduler
        from crowdmaker.funding import backer_tasks, ledger_owners, tasks

        ledger_owners.register()
        scheduler.register_periodic(name="funding.settle_due_campaigns", task=tasks.settle_due_campaigns,
                                    every=SETTLE_EVERY)  # fmt: skip
        scheduler.register_periodic(name="funding.pledges_resume_stale", task=tasks.pledges_resume_stale,
                                    every=RESUME_PLEDGES_EVERY)  # fmt: skip
        scheduler.register_periodic(name="funding.survey_reminders_run", task=backer_tasks.survey_reminders_run,
                                    every=SURVEY_REMINDERS_EVERY)  # fmt: skip
        scheduler.register_periodic(name="funding.backer_mail_resume", task=backer_tasks.backer_mail_resume,
                                    every=BACKER_MAIL_RESUME_EVERY)  # fmt: skip
        scheduler.register_periodic(name="funding.refunds_resume_stale", task=tasks.refunds_resume_stale,
                                    every=RESUME_REFUNDS_EVERY)  # fmt: skip
