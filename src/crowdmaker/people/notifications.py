"""E-mail that `people` sends. Called only from tasks enqueued after commit, so a rolled-back write never mails
anyone and a mail server's failure never fails a request.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from crowdmaker.people.models import InvitationStatus, TeamInvitation, User
from crowdmaker.people.verification_tokens import LIFETIME, email_verification_token

logger = logging.getLogger(__name__)


def send_invitation_email(*, invitation_id: int) -> None:
    """Mail the invitee about a pending invitation; do nothing if it is gone or no longer pending."""
    invitation = (
        TeamInvitation.objects.select_related("team", "invitee__profile", "invited_by__profile")
        .filter(pk=invitation_id, status=InvitationStatus.PENDING)
        .first()
    )
    if invitation is None:
        return
    context = {"invitation": invitation, "site_url": settings.SITE_URL}
    # Services refuse line breaks in team names; folding whitespace here also keeps names stored before that
    # rule from breaking the header (send_mail raises BadHeaderError on a newline).
    team_name = " ".join(invitation.team.name.split())
    subject = f"You are invited to join {team_name} on Crowdmaker"
    body = render_to_string("people/email/invitation.txt", context)
    try:
        send_mail(subject, body, None, [invitation.invitee.email])
    except OSError:
        # The invitation stands and is listed on the invitee's invitations page; mail is a courtesy.
        logger.exception("could not send invitation e-mail for invitation %s", invitation_id)


def send_email_verification(*, user_id: int) -> None:
    """Mail a verification link for the account's current address; nothing for a verified, inactive or gone one.

    The token is made here, at sending, so it names the address the mail really goes to, and it is never
    stored (not even in the task's arguments).
    """
    user = User.objects.select_related("profile").filter(pk=user_id, is_active=True).first()
    if user is None or user.email_verified_at is not None:
        return
    token = email_verification_token(user_id=user.pk, email=user.email)
    context = {
        "user": user,
        "link": settings.SITE_URL + reverse("people:email_verify", kwargs={"token": token}),
        "lifetime_days": LIFETIME.days,
    }
    body = render_to_string("people/email/email_verification.txt", context)
    try:
        send_mail("Verify your e-mail address for Crowdmaker", body, None, [user.email])
    except OSError:
        # The member can ask for another link from their settings page.
        logger.exception("could not send the verification e-mail for user %s", user_id)
