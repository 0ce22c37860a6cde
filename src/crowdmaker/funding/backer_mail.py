"""E-mail to a campaign's backers: its updates, the makers' messages, survey invitations and survey reminders.

Called only from tasks (`funding.backer_tasks`) enqueued after commit and from periodic jobs, never inside a
request's transaction. Each mail is claimed on its row before it is sent (`sent_at`, `invited_at`, the reminder
count), in a short transaction of its own, so two workers or a rerun never mail anyone twice; a mail server that
does not answer gives the unsent claims back and stops, and the periodic `deliveries_resume` sends them later.
A recipient the server refuses is logged and not tried again. Never writes anything but those claims.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Model
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from crowdmaker.core.markdown import markdown_html
from crowdmaker.funding import surveys
from crowdmaker.funding.models import (
    BackerMessage,
    Campaign,
    MessageDelivery,
    SurveyResponse,
    Update,
    UpdateAudience,
    UpdateDelivery,
)
from crowdmaker.people.models import User

logger = logging.getLogger(__name__)

BATCH_SIZE = 200  # deliveries claimed per short transaction
# Deliveries still unsent this long after their update or message was posted are sent by the periodic job: the
# task enqueued at posting normally sends them within seconds; this catches a worker that died or a mail server
# that was down.
RESUME_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str | None = None


def _fold(text: str) -> str:
    """One line: a line break in a header makes send_mail raise BadHeaderError."""
    return " ".join(text.split())


def _name(user: User) -> str:
    profile = getattr(user, "profile", None)
    return profile.display_name if profile is not None else user.handle


def _campaign_url(campaign: Campaign) -> str:
    return settings.SITE_URL + reverse("funding:campaign_detail", args=[campaign.slug])


def _send(to: User, mail: Mail) -> None:
    send_mail(_fold(mail.subject), mail.text, None, [to.email], html_message=mail.html)


def _deliver(model: type[UpdateDelivery] | type[MessageDelivery], parent: dict[str, int],
             compose: Callable[[User], Mail]) -> int:  # fmt: skip
    """Send the unsent deliveries of one update or message, a claimed batch at a time in id order; returns how many
    went out."""
    sent, after = 0, 0
    while True:
        with transaction.atomic():
            batch: list[Model] = list(
                model.objects.select_for_update(skip_locked=True)
                .filter(**parent, sent_at__isnull=True, pk__gt=after)
                .order_by("pk")[:BATCH_SIZE]
            )
            if not batch:
                return sent
            model.objects.filter(pk__in=[delivery.pk for delivery in batch]).update(sent_at=timezone.now())
        after = batch[-1].pk
        backer_ids = [delivery.backer_id for delivery in batch]  # type: ignore[attr-defined]
        backers = {user.pk: user for user in User.objects.select_related("profile").filter(pk__in=backer_ids)}
        for index, delivery in enumerate(batch):
            backer = backers[delivery.backer_id]  # type: ignore[attr-defined]
            try:
                _send(backer, compose(backer))
            except smtplib.SMTPRecipientsRefused:
                logger.warning("%s: the mail server refused %s; not tried again", model.__name__, delivery.pk)
                continue
            except OSError:
                logger.exception("%s: the mail server failed; the rest is sent later", model.__name__)
                model.objects.filter(pk__in=[d.pk for d in batch[index:]]).update(sent_at=None)
                return sent
            sent += 1


def update_email_send(*, update_id: int) -> int:
    """E-mail an update to the backers it addresses who have not had it yet (nothing for an update that is gone)."""
    update = Update.objects.select_related("campaign").filter(pk=update_id).first()
    if update is None:
        return 0
    campaign = update.campaign
    url = settings.SITE_URL + reverse("funding:update_detail", args=[campaign.slug, update.number])
    body_html = markdown_html(update.body)
    backers_only = update.audience == UpdateAudience.BACKERS

    def compose(backer: User) -> Mail:
        context = {"name": _name(backer), "update": update, "campaign": campaign, "url": url,
                   "body_html": body_html, "backers_only": backers_only}  # fmt: skip
        return Mail(
            subject=f"{campaign.title}: {update.title}",
            text=render_to_string("funding/email/update.txt", context),
            html=render_to_string("funding/email/update.html", context),
        )

    return _deliver(UpdateDelivery, {"update_id": update.pk}, compose)


def message_email_send(*, message_id: int) -> int:
    """E-mail a message of the makers to the backers of its group who have not had it yet."""
    message = BackerMessage.objects.select_related("campaign").filter(pk=message_id).first()
    if message is None:
        return 0
    campaign = message.campaign

    def compose(backer: User) -> Mail:
        context = {"name": _name(backer), "message": message, "campaign": campaign,
                   "url": _campaign_url(campaign)}  # fmt: skip
        return Mail(
            f"{campaign.title}: {message.subject}", render_to_string("funding/email/backer_message.txt", context)
        )

    return _deliver(MessageDelivery, {"message_id": message.pk}, compose)


def deliveries_resume(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic job: send what is still unsent of updates and messages posted at least RESUME_AFTER ago."""
    now = now or timezone.now()
    before = now - RESUME_AFTER
    done = {"updates": 0, "messages": 0}
    updates = UpdateDelivery.objects.filter(sent_at__isnull=True, update__created_at__lte=before)
    for update_id in updates.order_by("update_id").values_list("update_id", flat=True).distinct():
        done["updates"] += update_email_send(update_id=update_id)
    messages = MessageDelivery.objects.filter(sent_at__isnull=True, message__created_at__lte=before)
    for message_id in messages.order_by("message_id").values_list("message_id", flat=True).distinct():
        done["messages"] += message_email_send(message_id=message_id)
    return done


# --- surveys ----------------------------------------------------------------------------------------------------


def _survey_mail(response: SurveyResponse, template: str, subject: str, **extra: object) -> Mail:
    pledge = response.pledge
    campaign = pledge.campaign
    context = {
        "name": _name(pledge.backer),
        "campaign": campaign,
        "pledge": pledge,
        "survey": response.survey,
        "url": settings.SITE_URL + reverse("funding:survey_answer", args=[pledge.pk]),
        **extra,
    }
    return Mail(subject.format(title=campaign.title), render_to_string(template, context))


def _response(response_id: int) -> SurveyResponse | None:
    return (
        SurveyResponse.objects.select_related("survey", "pledge__campaign", "pledge__tier", "pledge__backer__profile")
        .filter(pk=response_id)
        .first()
    )


def survey_invitations_send(*, survey_id: int, now: datetime | None = None) -> int:
    """Invite every backer of the survey not invited yet; returns how many were mailed."""
    now = now or timezone.now()
    sent = 0
    while claimed := surveys.survey_invitations_claim(survey_id=survey_id, now=now):
        for index, response_id in enumerate(claimed):
            response = _response(response_id)
            if response is None:
                continue
            mail = _survey_mail(
                response, "funding/email/survey_invitation.txt", "{title}: where should we send your reward?"
            )
            try:
                _send(response.pledge.backer, mail)
            except smtplib.SMTPRecipientsRefused:
                logger.warning("survey invitation %s refused by the mail server; not tried again", response_id)
                continue
            except OSError:
                logger.exception("survey invitations of survey %s: the mail server failed; sent later", survey_id)
                for unsent in claimed[index:]:
                    surveys.survey_invitation_release(response_id=unsent)
                return sent
            sent += 1
    return sent


def send_survey_reminder(*, response_id: int, number: int) -> bool:
    """Remind the backer of an unanswered survey (reminder `number`, counted on the row already); nothing once it
    is answered or a later reminder was counted. A mail server failure is logged: the next reminder comes."""
    response = _response(response_id)
    if response is None or response.answered_at is not None or response.reminders_sent != number:
        return False
    mail = _survey_mail(response, "funding/email/survey_reminder.txt", "Reminder — {title}: where should we send your reward?",
                        number=number, last=number >= surveys.SURVEY_MAX_REMINDERS)  # fmt: skip
    try:
        _send(response.pledge.backer, mail)
    except OSError:
        logger.exception("survey reminder %s of response %s could not be sent", number, response_id)
        return False
    return True
