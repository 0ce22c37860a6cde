"""Every write of `selection`: opening a call, entering a design version, voting, stating and withdrawing
buy-intents.

Each service is atomic, keyword-only and raises a `core.errors.DomainError` for a refusal, having changed nothing.
No check-then-act: "one vote per member", "one live intent per member" and "one entry per version" are unique
constraints the database enforces; a submission's aggregates move by `UPDATE ... SET x = x + delta` in the same
transaction as the row they count, never by reading and writing back.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from crowdmaker.commons.models import DesignVersion
from crowdmaker.commons.services import EDITOR_ROLES
from crowdmaker.core.errors import Conflict, Forbidden, Invalid, NotFound
from crowdmaker.core.text import clean_text
from crowdmaker.ledger.money import MoneyError, check_currency
from crowdmaker.people.models import SLUG_HELP, SLUG_PATTERN, Membership, Team, User
from crowdmaker.selection import selectors
from crowdmaker.selection.models import (
    BRIEF_MAX_LENGTH,
    FAMILY_MAX_LENGTH,
    MAX_AMOUNT,
    MAX_PRIOR_WEIGHT,
    MAX_SCORE,
    MAX_TOP_N,
    MIN_SCORE,
    PITCH_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    BuyIntent,
    OpenCall,
    Submission,
    ThresholdKind,
    Vote,
)

DEFAULT_PRIOR_WEIGHT = 10
DEFAULT_TOP_N = 3


# --- rules shared by the services ------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_open(call: OpenCall, *, now: datetime) -> None:
    if now < call.opens_at:
        raise Conflict("This call is not open yet.", code="call_not_open")
    if now >= call.closes_at:
        raise Conflict("This call is closed.", code="call_closed")


def _check_member_may_judge(*, member: User, submission: Submission, now: datetime, what: str) -> None:
    """A vote or an intent comes from an active, verified, old enough account that is not one of the authors."""
    if not member.is_active:
        raise Forbidden(f"This account may not {what}.", code="account_inactive")
    if member.email_verified_at is None:
        raise Forbidden(f"Verify your e-mail address before you {what}.", code="email_unverified")
    min_age = timedelta(days=settings.CROWDMAKER_SELECTION_MIN_ACCOUNT_AGE_DAYS)
    if member.date_joined > now - min_age:
        raise Forbidden(
            f"Accounts may {what} once they are {settings.CROWDMAKER_SELECTION_MIN_ACCOUNT_AGE_DAYS} days old.",
            code="account_too_new",
        )
    if submission.entered_by_id == member.pk or selectors.is_author(user=member, version=submission.design_version):
        raise Forbidden(f"You may not {what} on your own work.", code="own_submission")


def _submission(submission: Submission) -> Submission:
    """The submission with its call and design read afresh (the caller's copy may be stale)."""
    found = Submission.objects.select_related("call", "design_version__design").filter(pk=submission.pk).first()
    if found is None:
        raise NotFound("No submission has this address.")
    return found


def _check_score(score: object) -> int:
    if not _is_int(score) or not MIN_SCORE <= score <= MAX_SCORE:  # type: ignore[operator]
        raise Invalid(f"A score is a whole number from {MIN_SCORE} to {MAX_SCORE}.", code="score_invalid",
                      field="score")  # fmt: skip
    assert isinstance(score, int)
    return score


# --- calls -----------------------------------------------------------------------------------------------------


@transaction.atomic
def call_open(
    *,
    actor: User,
    slug: str,
    title: str,
    opens_at: datetime,
    closes_at: datetime,
    threshold_kind: str,
    threshold: int,
    currency: str,
    brief: str = "",
    team: Team | None = None,
    required_family: str = "",
    prior_weight: int = DEFAULT_PRIOR_WEIGHT,
    top_n: int = DEFAULT_TOP_N,
) -> OpenCall:
    """Open a call organized by `team` (actor: its owner or maintainer) or by the platform (actor: staff)."""
    slug = slug.strip().lower()
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise Invalid(SLUG_HELP, field="slug")
    title = clean_text(title, field="title", max_length=TITLE_MAX_LENGTH, required=True)
    brief = clean_text(brief, field="brief", max_length=BRIEF_MAX_LENGTH, multiline=True)
    required_family = clean_text(required_family, field="required_family", max_length=FAMILY_MAX_LENGTH)
    if closes_at <= opens_at:
        raise Invalid("A call closes after it opens.", code="period_invalid", field="closes_at")
    if closes_at <= timezone.now():
        raise Invalid("A call must close in the future.", code="period_invalid", field="closes_at")
    if threshold_kind not in ThresholdKind.values:
        raise Invalid(f"The threshold kind is one of: {', '.join(ThresholdKind.values)}.", field="threshold_kind")
    if not _is_int(threshold) or not 0 < threshold <= MAX_AMOUNT:
        raise Invalid(f"The threshold is a whole number from 1 to {MAX_AMOUNT:,}.", field="threshold")
    try:
        currency = check_currency(currency)
    except MoneyError as exc:
        raise Invalid(str(exc), field="currency") from exc
    if not _is_int(prior_weight) or not 1 <= prior_weight <= MAX_PRIOR_WEIGHT:
        raise Invalid(f"The prior weight is a whole number from 1 to {MAX_PRIOR_WEIGHT:,}.", field="prior_weight")
    if not _is_int(top_n) or not 0 <= top_n <= MAX_TOP_N:
        raise Invalid(f"Top N is a whole number from 0 to {MAX_TOP_N}.", field="top_n")
    if team is None:
        if not actor.is_staff:
            raise Forbidden("Only the platform's operators may open a call in the platform's name.", code="staff_only")
    elif not Membership.objects.filter(team=team, user=actor, role__in=EDITOR_ROLES).exists():
        raise Forbidden("Only the team's owners and maintainers may open a call for it.", code="role_required")
    try:
        with transaction.atomic():
            return OpenCall.objects.create(
                slug=slug, title=title, brief=brief, organizer_team=team, created_by=actor, opens_at=opens_at,
                closes_at=closes_at, required_family=required_family, threshold_kind=threshold_kind,
                threshold=threshold, currency=currency, prior_weight=prior_weight, top_n=top_n,
            )  # fmt: skip
    except IntegrityError as exc:  # the slug is the only unique rule a valid call can break
        raise Conflict("A call with this address exists already.", code="slug_taken", field="slug") from exc


# --- submissions -----------------------------------------------------------------------------------------------


@transaction.atomic
def submission_enter(*, actor: User, call: OpenCall, design_version: DesignVersion, pitch: str) -> Submission:
    """Enter a design version into an open call; the actor is its owner, or an owner or maintainer of its team."""
    pitch = clean_text(pitch, field="pitch", max_length=PITCH_MAX_LENGTH, required=True, multiline=True)
    found = OpenCall.objects.filter(pk=call.pk).first()
    if found is None:
        raise NotFound("No call has this address.")
    call = found
    _check_open(call, now=timezone.now())
    version = DesignVersion.objects.select_related("design").get(pk=design_version.pk)
    design = version.design
    if design.owner_user_id is not None:
        if design.owner_user_id != actor.pk:
            raise Forbidden("Only the design's owner may enter it.", code="not_owner")
    elif not Membership.objects.filter(team__designs=design, user=actor, role__in=EDITOR_ROLES).exists():
        raise Forbidden("Only the team's owners and maintainers may enter its design.", code="role_required")
    problem = selectors.family_problem(call=call, version=version)
    if problem:
        raise Invalid(problem, code="family_required", field="design_version")
    try:
        with transaction.atomic():
            return Submission.objects.create(call=call, design_version=version, entered_by=actor, pitch=pitch)
    except IntegrityError as exc:
        raise Conflict("This design version is in this call already.", code="already_entered",
                       field="design_version") from exc  # fmt: skip


# --- votes -----------------------------------------------------------------------------------------------------


@transaction.atomic
def vote_cast(*, voter: User, submission: Submission, score: int) -> Vote:
    """Score a submission 1-5 for the first time (a second time: `vote_change`)."""
    score = _check_score(score)
    now = timezone.now()
    submission = _submission(submission)
    _check_open(submission.call, now=now)
    _check_member_may_judge(member=voter, submission=submission, now=now, what="vote")
    try:
        with transaction.atomic():  # the unique constraint says no to a second vote, even a concurrent one
            vote = Vote.objects.create(submission=submission, voter=voter, score=score, created_at=now, updated_at=now)
    except IntegrityError as exc:
        raise Conflict("You have scored this submission already; change your score instead.",
                       code="already_voted", field="score") from exc  # fmt: skip
    Submission.objects.filter(pk=submission.pk).update(vote_count=F("vote_count") + 1, vote_sum=F("vote_sum") + score)
    return vote


@transaction.atomic
def vote_change(*, voter: User, submission: Submission, score: int) -> Vote:
    """Change one's score of a submission while its call is open; the submission's sum moves by the difference."""
    score = _check_score(score)
    now = timezone.now()
    submission = _submission(submission)
    _check_open(submission.call, now=now)
    _check_member_may_judge(member=voter, submission=submission, now=now, what="vote")
    vote = Vote.objects.select_for_update().filter(submission=submission, voter=voter).first()
    if vote is None:
        raise NotFound("You have not scored this submission yet.", code="no_vote")
    delta = score - vote.score
    vote.score, vote.updated_at = score, now
    vote.save(update_fields=["score", "updated_at"])
    if delta:
        Submission.objects.filter(pk=submission.pk).update(vote_sum=F("vote_sum") + delta)
    return vote


# --- buy-intents -----------------------------------------------------------------------------------------------


@transaction.atomic
def intent_state(*, member: User, submission: Submission, price: int, currency: str | None = None) -> BuyIntent:
    """'I would buy this at `price`' (minor units of the call's currency); one live intent per member."""
    now = timezone.now()
    submission = _submission(submission)
    call = submission.call
    if not _is_int(price) or not 0 < price <= MAX_AMOUNT:
        raise Invalid(f"The price is a whole number of minor units (cents) from 1 to {MAX_AMOUNT:,}.",
                      code="price_invalid", field="price")  # fmt: skip
    if currency is not None and currency != call.currency:
        raise Invalid(f"Buy-intents in this call are stated in {call.currency}.", code="currency_mismatch",
                      field="currency")  # fmt: skip
    _check_open(call, now=now)
    _check_member_may_judge(member=member, submission=submission, now=now, what="state a buy-intent")
    try:
        with transaction.atomic():
            intent = BuyIntent.objects.create(
                submission=submission, member=member, price=price, currency=call.currency, created_at=now
            )
    except IntegrityError as exc:
        raise Conflict("You have stated a buy-intent for this submission already; withdraw it to state another.",
                       code="intent_exists", field="price") from exc  # fmt: skip
    Submission.objects.filter(pk=submission.pk).update(
        intent_count=F("intent_count") + 1, intent_value=F("intent_value") + price
    )
    return intent


@transaction.atomic
def intent_withdraw(*, member: User, submission: Submission) -> BuyIntent:
    """Withdraw one's live buy-intent for a submission while its call is open."""
    now = timezone.now()
    submission = _submission(submission)
    _check_open(submission.call, now=now)
    # Locked, and re-checked after any wait: of two racing withdrawals, the second finds nothing live.
    intent = (
        BuyIntent.objects.select_for_update()
        .filter(submission=submission, member=member, withdrawn_at__isnull=True)
        .first()
    )
    if intent is None:
        raise NotFound("You have no buy-intent for this submission.", code="no_intent")
    intent.withdrawn_at = now
    intent.save(update_fields=["withdrawn_at"])
    Submission.objects.filter(pk=submission.pk).update(
        intent_count=F("intent_count") - 1, intent_value=F("intent_value") - intent.price
    )
    return intent
