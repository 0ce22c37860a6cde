"""The backer survey of a succeeded campaign: where to ship each reward and which of its options the backer wants.

Owns Survey, SurveyQuestion and SurveyResponse. The editors open one survey per succeeded campaign with the
options of each tier and an address lock date; every pledge with a reward to ship gets a response row (at the
opening, or later pledges at the next periodic run), its backer is e-mailed an invitation, answers and may change
the answer until the lock date. The periodic job (`survey_reminders_run`, idempotent) invites the backers not
invited yet and reminds those who have not answered, at most SURVEY_MAX_REMINDERS times, SURVEY_REMINDER_EVERY
apart: each invitation and reminder is claimed on its row before its mail goes out, so none is sent twice.
A pledge that paid shipping to a country ships there: the answer's country must be it. Never touches money or
pledges.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from crowdmaker.core.errors import Conflict, Invalid, NotFound
from crowdmaker.core.text import clean_text
from crowdmaker.funding.backers import editor_required, pledge_ships, pledges_to_ship
from crowdmaker.funding.countries import COUNTRY_NAMES
from crowdmaker.funding.models import (
    SURVEY_CHOICE_MAX_LENGTH,
    SURVEY_TEXT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Campaign,
    CampaignStatus,
    Pledge,
    PledgeStatus,
    Survey,
    SurveyQuestion,
    SurveyResponse,
    Tier,
)
from crowdmaker.people.models import User

logger = logging.getLogger(__name__)

# Backers need time to answer, and the makers a firm date to buy and pack by: the lock date lies at least a day
# and at most half a year after it is set.
SURVEY_MIN_LOCK = timedelta(hours=24)
SURVEY_MAX_LOCK = timedelta(days=180)
# A backer who has not answered is reminded this long after the invitation (or the previous reminder), at most
# this many times: enough to catch a missed mail, not so many that it is spam.
SURVEY_REMINDER_EVERY = timedelta(days=3)
SURVEY_MAX_REMINDERS = 3
SURVEY_MAX_QUESTIONS = 50
SURVEY_MAX_CHOICES = 20
INTRO_MAX_LENGTH = 5_000
POSTAL_CODE_MAX_LENGTH = 20
PHONE = re.compile(r"^\+?[0-9 ()./-]{3,39}$")
BATCH_SIZE = 200  # rows claimed per transaction by the periodic job


@dataclass(frozen=True)
class QuestionIn:
    """An option of `tier` the backers of that tier choose: `label` ("Colour") and its `choices`."""

    tier: Tier
    label: str
    choices: Sequence[str]


def _clean_lock(address_lock_at: datetime, now: datetime) -> None:
    if not isinstance(address_lock_at, datetime) or timezone.is_naive(address_lock_at):
        raise Invalid("Give a date and time with its time zone.", field="address_lock_at")
    if address_lock_at < now + SURVEY_MIN_LOCK:
        raise Invalid("Give backers at least a day to answer: lock the addresses later.", field="address_lock_at")
    if address_lock_at > now + SURVEY_MAX_LOCK:
        raise Invalid(f"Lock the addresses within {SURVEY_MAX_LOCK.days} days.", field="address_lock_at")


def _clean_questions(campaign: Campaign, questions: Sequence[QuestionIn]) -> list[QuestionIn]:
    if len(questions) > SURVEY_MAX_QUESTIONS:
        raise Invalid(f"At most {SURVEY_MAX_QUESTIONS} questions, please.", field="questions")
    cleaned = []
    for position, question in enumerate(questions):
        field = f"questions.{position}"
        if question.tier.campaign_id != campaign.pk:
            raise Invalid("This reward belongs to another campaign.", code="tier_unknown", field=f"{field}.tier")
        label = clean_text(question.label, field=f"{field}.label", max_length=TITLE_MAX_LENGTH, required=True)
        choices = [
            clean_text(c, field=f"{field}.choices", max_length=SURVEY_CHOICE_MAX_LENGTH) for c in question.choices
        ]
        choices = [choice for choice in choices if choice]
        if not 2 <= len(choices) <= SURVEY_MAX_CHOICES:
            raise Invalid(f"“{label}” needs from 2 to {SURVEY_MAX_CHOICES} choices.", field=f"{field}.choices")
        if len({choice.casefold() for choice in choices}) != len(choices):
            raise Invalid(f"“{label}” has the same choice twice.", field=f"{field}.choices")
        cleaned.append(QuestionIn(question.tier, label, choices))
    labels = [(q.tier.pk, q.label.casefold()) for q in cleaned]
    if len(set(labels)) != len(labels):
        raise Invalid("A reward has the same question twice.", field="questions")
    return cleaned


def survey_open(
    *,
    actor: User,
    campaign: Campaign,
    address_lock_at: datetime,
    questions: Sequence[QuestionIn] = (),
    intro: str = "",
    now: datetime | None = None,
) -> Survey:
    """Open the survey of a succeeded campaign: every pledge with a reward to ship gets its response row, and its
    backer an invitation by e-mail after commit. Raises Forbidden (not an editor), Conflict (`campaign_not_succeeded`,
    `survey_exists`) or Invalid (the lock date, a question); nothing is recorded then."""
    from crowdmaker.funding import backer_tasks

    now = now or timezone.now()
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        if locked is None:
            raise NotFound("No campaign has this address.")
        editor_required(campaign=locked, actor=actor, doing="open the survey")
        if locked.status != CampaignStatus.SUCCEEDED:
            raise Conflict("A survey is sent once the campaign has succeeded.", code="campaign_not_succeeded")
        if Survey.objects.filter(campaign=locked).exists():
            raise Conflict("The survey of this campaign is open already.", code="survey_exists")
        _clean_lock(address_lock_at, now)
        intro = clean_text(intro, field="intro", max_length=INTRO_MAX_LENGTH, multiline=True)
        cleaned = _clean_questions(locked, questions)
        survey = Survey.objects.create(campaign=locked, opened_by=actor, opened_at=now,
                                       address_lock_at=address_lock_at, intro=intro)  # fmt: skip
        SurveyQuestion.objects.bulk_create(
            SurveyQuestion(survey=survey, tier=q.tier, label=q.label, choices=list(q.choices), position=position)
            for position, q in enumerate(cleaned)
        )
        survey_responses_sync(survey=survey)
        transaction.on_commit(lambda: backer_tasks.survey_invitations_send.enqueue(survey_id=survey.pk))
    return survey


@transaction.atomic
def survey_lock_move(*, actor: User, campaign: Campaign, address_lock_at: datetime,
                     now: datetime | None = None) -> Survey:  # fmt: skip
    """Move the address lock date (e.g. when production slips); the same bounds as at the opening."""
    now = now or timezone.now()
    editor_required(campaign=campaign, actor=actor, doing="change the survey")
    survey = Survey.objects.select_for_update().filter(campaign=campaign).first()
    if survey is None:
        raise NotFound("This campaign has no survey.", code="no_survey")
    _clean_lock(address_lock_at, now)
    survey.address_lock_at = address_lock_at
    survey.save(update_fields=["address_lock_at"])
    return survey


def survey_responses_sync(*, survey: Survey) -> int:
    """Give every pledge with a reward to ship its response row (late pledges captured after the opening);
    returns how many were added. Idempotent: one row per pledge, whoever adds it first."""
    missing = (
        pledges_to_ship(campaign=survey.campaign).filter(survey_response__isnull=True).values_list("pk", flat=True)
    )
    added = SurveyResponse.objects.bulk_create(
        (SurveyResponse(survey=survey, pledge_id=pledge_id) for pledge_id in missing),
        batch_size=1000,
        ignore_conflicts=True,
    )
    return len(added)


# --- the backer's answer ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressIn:
    ship_to: str
    address_line1: str
    city: str
    country: str
    address_line2: str = ""
    postal_code: str = ""
    region: str = ""
    phone: str = ""


def _clean_address(address: AddressIn) -> dict[str, str]:
    def text(name: str, value: str, *, required: bool = False, max_length: int = SURVEY_TEXT_MAX_LENGTH) -> str:
        return clean_text(value, field=name, max_length=max_length, required=required)

    country = address.country.strip().upper()
    if country not in COUNTRY_NAMES:
        raise Invalid("Choose the country to ship to.", field="country")
    phone = text("phone", address.phone, max_length=40)
    if phone and not PHONE.fullmatch(phone):
        raise Invalid("A phone number has digits, spaces and + ( ) . / - only.", field="phone")
    return {
        "ship_to": text("ship_to", address.ship_to, required=True),
        "address_line1": text("address_line1", address.address_line1, required=True),
        "address_line2": text("address_line2", address.address_line2),
        "city": text("city", address.city, required=True),
        "postal_code": text("postal_code", address.postal_code, max_length=POSTAL_CODE_MAX_LENGTH),
        "region": text("region", address.region),
        "country": country,
        "phone": phone,
    }


def _clean_answers(questions: Sequence[SurveyQuestion], answers: Mapping[str, str]) -> dict[str, str]:
    known = {str(question.pk) for question in questions}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise Invalid(f"Your reward has no question {unknown[0]}.", code="question_unknown", field="answers")
    cleaned = {}
    for question in questions:
        choice = answers.get(str(question.pk), "")
        if choice not in question.choices:
            raise Invalid(f"Choose one of: {', '.join(question.choices)}.", field=f"answers.{question.pk}")
        cleaned[str(question.pk)] = choice
    return cleaned


def survey_answer(
    *, backer: User, pledge_id: int, address: AddressIn, answers: Mapping[str, str], now: datetime | None = None
) -> SurveyResponse:
    """Record (or change) the backer's answer for their pledge `pledge_id`: the shipping address and one choice for
    each option of the pledge's reward. Raises NotFound (not their pledge, nothing to ship, no survey), Conflict
    (`survey_locked` after the lock date) or Invalid (a field); nothing changes then."""
    now = now or timezone.now()
    with transaction.atomic():
        pledge = (
            Pledge.objects.select_for_update(of=("self",))
            .select_related("campaign", "tier")
            .filter(pk=pledge_id, backer=backer)
            .first()
        )
        if pledge is None:
            raise NotFound("You have no such pledge.")
        if pledge.status != PledgeStatus.CAPTURED or pledge.tier_id is None or not pledge_ships(pledge):
            raise NotFound("This pledge has no reward to ship, so no survey.", code="no_survey")
        survey = Survey.objects.filter(campaign_id=pledge.campaign_id).first()
        if survey is None:
            raise NotFound("The makers have not sent their survey yet.", code="no_survey")
        survey_require_open(survey, now)
        fields = _clean_address(address)
        if pledge.shipping_country and fields["country"] != pledge.shipping_country:
            paid_for = COUNTRY_NAMES.get(pledge.shipping_country, pledge.shipping_country)
            raise Invalid(
                f"Your pledge paid shipping to {paid_for}, so the reward ships to an address there. To have it "
                "shipped to another country, change your pledge before the campaign's deadline, or write to the "
                "makers.",
                code="country_not_pledged", field="country",
            )  # fmt: skip
        questions = list(SurveyQuestion.objects.filter(survey=survey, tier_id=pledge.tier_id))
        fields["answers"] = _clean_answers(questions, answers)  # type: ignore[assignment]
        response, _ = SurveyResponse.objects.get_or_create(pledge=pledge, defaults={"survey": survey})
        for name, value in fields.items():
            setattr(response, name, value)
        response.answered_at = response.answered_at or now
        response.updated_at = now
        response.save()
    return response


# --- reads ------------------------------------------------------------------------------------------------------


def survey_of(*, campaign: Campaign) -> Survey | None:
    return Survey.objects.filter(campaign=campaign).first()


def survey_is_open(survey: Survey, now: datetime | None = None) -> bool:
    return (now or timezone.now()) < survey.address_lock_at


def survey_require_open(survey: Survey, now: datetime | None = None) -> None:
    """Raise Conflict (`survey_locked`) once the addresses are locked."""
    if not survey_is_open(survey, now):
        raise Conflict("The addresses are locked: the rewards are being packed. Write to the makers to change "
                       "yours.", code="survey_locked")  # fmt: skip


def survey_questions(*, survey: Survey, tier_id: int | None = None) -> list[SurveyQuestion]:
    """The survey's questions in order (of one tier with `tier_id`), with their tiers."""
    questions = SurveyQuestion.objects.filter(survey=survey).select_related("tier")
    if tier_id is not None:
        questions = questions.filter(tier_id=tier_id)
    return list(questions.order_by("position", "id"))


@dataclass(frozen=True)
class SurveyPage:
    """What the backer's survey page shows for one pledge."""

    pledge: Pledge
    survey: Survey
    questions: list[SurveyQuestion]
    response: SurveyResponse | None
    open: bool


def survey_for_pledge(*, backer: User, pledge_id: int, now: datetime | None = None) -> SurveyPage:
    """The survey of the backer's pledge, their answer if any; NotFound for someone else's pledge, a pledge with
    nothing to ship, or a campaign without a survey."""
    pledge = (
        Pledge.objects.select_related("campaign", "tier", "survey_response").filter(pk=pledge_id, backer=backer).first()
    )
    if pledge is None:
        raise NotFound("You have no such pledge.")
    if pledge.status != PledgeStatus.CAPTURED or pledge.tier_id is None or not pledge_ships(pledge):
        raise NotFound("This pledge has no reward to ship, so no survey.", code="no_survey")
    survey = survey_of(campaign=pledge.campaign)
    if survey is None:
        raise NotFound("The makers have not sent their survey yet.", code="no_survey")
    response = getattr(pledge, "survey_response", None)
    questions = survey_questions(survey=survey, tier_id=pledge.tier_id)
    return SurveyPage(pledge, survey, questions, response, survey_is_open(survey, now))


def surveys_of_backer(*, backer: User, campaign: Campaign) -> list[Pledge]:
    """The backer's pledges of `campaign` that have a survey to answer, each with its `survey_response` (or None)."""
    if not Survey.objects.filter(campaign=campaign).exists():
        return []
    return list(
        pledges_to_ship(campaign=campaign)
        .filter(backer=backer)
        .select_related("tier", "survey_response")
        .order_by("pk")
    )


@dataclass(frozen=True)
class SurveyCounts:
    rewards: int  # pledges with a reward to ship
    answered: int


def survey_counts(*, survey: Survey) -> SurveyCounts:
    counts = pledges_to_ship(campaign=survey.campaign).aggregate(
        rewards=Count("pk"), answered=Count("pk", filter=Q(survey_response__answered_at__isnull=False))
    )
    return SurveyCounts(rewards=counts["rewards"], answered=counts["answered"])


# --- invitations and reminders (the periodic job) ---------------------------------------------------------------


def survey_invitations_claim(*, survey_id: int, now: datetime, limit: int = BATCH_SIZE) -> list[int]:
    """Mark up to `limit` responses of an open survey whose backer was not invited yet as invited now, and return
    them: the caller mails each one (a response claimed here is never claimed again, so none is mailed twice)."""
    with transaction.atomic():
        claimed = list(
            SurveyResponse.objects.select_for_update(skip_locked=True)
            .filter(survey_id=survey_id, invited_at__isnull=True, answered_at__isnull=True,
                    survey__address_lock_at__gt=now, pledge__status=PledgeStatus.CAPTURED)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )  # fmt: skip
        SurveyResponse.objects.filter(pk__in=claimed).update(invited_at=now)
    return claimed


def survey_invitation_release(*, response_id: int) -> None:
    """Give an invitation back when its mail could not be sent, so that the next run tries again."""
    SurveyResponse.objects.filter(pk=response_id, answered_at__isnull=True).update(invited_at=None)


def survey_reminders_claim(*, survey_id: int, now: datetime, limit: int = BATCH_SIZE) -> list[tuple[int, int]]:
    """Count a reminder on up to `limit` responses that are due one (not answered, invited or reminded at least
    SURVEY_REMINDER_EVERY ago, fewer than SURVEY_MAX_REMINDERS so far, the survey open) and return them with the
    reminder's number; the caller mails them. A second run finds them reminded just now: nothing is due twice."""
    with transaction.atomic():
        due = list(
            SurveyResponse.objects.select_for_update(skip_locked=True)
            .annotate(last_mail=Coalesce("last_reminded_at", "invited_at"))
            .filter(survey_id=survey_id, answered_at__isnull=True, invited_at__isnull=False,
                    reminders_sent__lt=SURVEY_MAX_REMINDERS, last_mail__lte=now - SURVEY_REMINDER_EVERY,
                    survey__address_lock_at__gt=now, pledge__status=PledgeStatus.CAPTURED)
            .order_by("pk")
            .values_list("pk", "reminders_sent")[:limit]
        )  # fmt: skip
        SurveyResponse.objects.filter(pk__in=[pk for pk, _ in due]).update(
            reminders_sent=F("reminders_sent") + 1, last_reminded_at=now
        )
    return [(pk, sent + 1) for pk, sent in due]


def survey_reminders_run(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic job: for every open survey, add the rows of new pledges, invite the backers not invited yet
    and remind those due a reminder. Idempotent: run twice at once or in a row, nobody is mailed twice."""
    from crowdmaker.funding import backer_mail

    now = now or timezone.now()
    done = {"added": 0, "invited": 0, "reminded": 0}
    for survey in Survey.objects.filter(address_lock_at__gt=now).select_related("campaign").order_by("pk"):
        done["added"] += survey_responses_sync(survey=survey)
        done["invited"] += backer_mail.survey_invitations_send(survey_id=survey.pk, now=now)
        while batch := survey_reminders_claim(survey_id=survey.pk, now=now):
            for response_id, number in batch:
                backer_mail.send_survey_reminder(response_id=response_id, number=number)
            done["reminded"] += len(batch)
    return done
