"""Background work of talking to backers: e-mailing updates, messages and survey invitations (enqueued after the
commit that records them), and the periodic jobs that send what is left over and remind backers of their survey.
Tasks are edges: each calls one function of `funding.backer_mail` or `funding.surveys`. Every one is idempotent:
each mail is claimed on its row before it is sent, so a rerun mails nobody twice.
"""

from __future__ import annotations

from django_tasks import task

from crowdmaker.funding import backer_mail, surveys


@task()
def update_email_send(update_id: int) -> int:
    """E-mail an update to the backers it addresses; enqueued after commit by `updates.update_post`."""
    return backer_mail.update_email_send(update_id=update_id)


@task()
def message_email_send(message_id: int) -> int:
    """E-mail the makers' message to its group; enqueued after commit by `updates.message_send`."""
    return backer_mail.message_email_send(message_id=message_id)


@task()
def survey_invitations_send(survey_id: int) -> int:
    """Invite the backers to answer the survey; enqueued after commit by `surveys.survey_open`."""
    return backer_mail.survey_invitations_send(survey_id=survey_id)


@task()
def backer_mail_resume() -> dict[str, int]:
    """Send the updates' and messages' e-mails left unsent (a worker died, the mail server was down) (periodic)."""
    return backer_mail.deliveries_resume()


@task()
def survey_reminders_run() -> dict[str, int]:
    """Invite backers of late pledges and remind those who have not answered an open survey (periodic)."""
    return surveys.survey_reminders_run()
