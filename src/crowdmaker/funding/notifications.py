"""E-mail that `funding` sends backers when settlement cannot take their pledge. Called only from tasks enqueued
after commit, so a rolled-back step never mails anyone and a mail server's failure never fails settlement.
A mail is sent only while it is still true (the pledge still waits for that attempt, or is dropped).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from crowdmaker.funding.models import Pledge, PledgeStatus
from crowdmaker.ledger.money import Money

logger = logging.getLogger(__name__)


def _pledge_url(pledge: Pledge) -> str:
    try:
        return settings.SITE_URL + reverse("funding:pledge_detail", args=[pledge.pk])
    except NoReverseMatch:  # the pledge pages are not wired
        return settings.SITE_URL + "/"


def _send(pledge: Pledge, subject: str, template: str) -> None:
    context = {
        "pledge": pledge,
        "amount": Money(pledge.amount, pledge.campaign.currency),
        "pledge_url": _pledge_url(pledge),
        "name": pledge.backer.profile.display_name if hasattr(pledge.backer, "profile") else pledge.backer.email,
    }
    try:
        send_mail(subject, render_to_string(template, context), None, [pledge.backer.email])
    except OSError:
        # The pledge's page shows the same; mail is a courtesy.
        logger.exception("could not send %s for pledge %s", template, pledge.pk)


def _title(pledge: Pledge) -> str:
    # Folded whitespace: a line break in a header makes send_mail raise BadHeaderError.
    return " ".join(pledge.campaign.title.split())


def send_capture_declined_email(*, pledge_id: int, attempt: int) -> None:
    """Tell the backer their card was declined at settlement, when it is tried again and until when; nothing if
    the pledge has since been captured, dropped or declined again (a later mail says so)."""
    pledge = (
        Pledge.objects.select_related("campaign", "backer__profile")
        .filter(pk=pledge_id, status=PledgeStatus.AUTHORIZED, capture_attempts=attempt, next_capture_at__isnull=False)
        .first()
    )
    if pledge is None:
        return
    _send(pledge, f"Your pledge to {_title(pledge)} could not be charged", "funding/email/capture_declined.txt")


def send_pledge_dropped_email(*, pledge_id: int) -> None:
    """Tell the backer their pledge was dropped after the grace period (nobody charged, the reward released)."""
    pledge = (
        Pledge.objects.select_related("campaign", "backer__profile")
        .filter(pk=pledge_id, status=PledgeStatus.DROPPED)
        .first()
    )
    if pledge is None:
        return
    _send(pledge, f"Your pledge to {_title(pledge)} was dropped", "funding/email/pledge_dropped.txt")


def send_refund_email(*, refund_id: int) -> None:
    """Tell the backer what was refunded of their pledge, why, and the makers' message (once it succeeded)."""
    from crowdmaker.funding.models import Refund, RefundStatus

    refund = (
        Refund.objects.select_related("pledge__campaign", "pledge__backer__profile")
        .filter(pk=refund_id, status=RefundStatus.SUCCEEDED)
        .first()
    )
    if refund is None:
        return
    pledge = refund.pledge
    context = {
        "refund": refund,
        "pledge": pledge,
        "refunded": Money(refund.amount, pledge.campaign.currency),
        "pledge_url": _pledge_url(pledge),
        "name": pledge.backer.profile.display_name if hasattr(pledge.backer, "profile") else pledge.backer.email,
    }
    try:
        send_mail(f"A refund of your pledge to {_title(pledge)}", render_to_string("funding/email/refund.txt", context),
                  None, [pledge.backer.email])  # fmt: skip
    except OSError:  # the pledge's page shows the refund too; mail is a courtesy
        logger.exception("could not send the e-mail of refund %s", refund.pk)
