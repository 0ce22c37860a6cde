"""E-mail that `people` sends. Called only after commit, so a rolled-back write never mails anyone."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def send_invitation_email(*, invitation_id: int) -> None:
    from crowdmaker.people.models import TeamInvitation

    invitation = (
        TeamInvitation.objects.select_related("team", "invitee", "invited_by__profile").filter(pk=invitation_id).first()
    )
    if invitation is None:
        return
    context = {"invitation": invitation, "site_url": settings.SITE_URL}
    subject = f"You are invited to join {invitation.team.name} on Crowdmaker"
    body = render_to_string("people/email/invitation.txt", context)
    try:
        send_mail(subject, body, None, [invitation.invitee.email])
    except OSError:
        # The invitation stands and is listed on the invitee's invitations page; mail is a courtesy.
        logger.exception("could not send invitation e-mail for invitation %s", invitation_id)
