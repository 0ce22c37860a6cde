"""Background work of `people`: expiring invitations, sending invitation and e-mail verification mail. Every task is idempotent
or, for mail, harmless to repeat; none may change a team, a membership or an invitation's state.
"""

from __future__ import annotations

from django_tasks import task

from crowdmaker.people import notifications, services


@task()
def team_invitations_expire() -> int:
    """Mark pending invitations past their expiry as expired."""
    return services.team_invitations_expire()


@task()
def invitation_email_send(invitation_id: int) -> None:
    """Tell the invitee about a pending invitation; an invitation since answered, revoked or gone gets no mail.

    Enqueued after commit by `services.team_invitation_create`. A rerun may send the mail twice, which is harmless.
    """
    notifications.send_invitation_email(invitation_id=invitation_id)


@task()
def email_verification_mail_send(user_id: int) -> None:
    """Mail the account a link that verifies its current address; a verified, inactive or gone account gets none.

    Enqueued after commit by `services.email_verification_send`, which throttles it. A rerun mails a second
    link, which is harmless: either one verifies once.
    """
    notifications.send_email_verification(user_id=user_id)
