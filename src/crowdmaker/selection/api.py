"""JSON API of `selection`: open calls, their ranked submissions, members' votes and buy-intents.

Handlers parse input and call one service (`selection.services`) or selector; they never write themselves.
Calls and submissions are public reads; every write needs a signed-in member (read-only tokens are refused).
Scores are exact fractions ("numerator/denominator"); the `*_display` values are rounded for showing only.
Money is integer minor units of the call's currency.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import StrictInt

from crowdmaker.commons import selectors as commons_selectors
from crowdmaker.commons.models import DesignVersion
from crowdmaker.core.api import Cursor, ErrorOut, InputSchema
from crowdmaker.core.errors import Conflict, Invalid, NotFound
from crowdmaker.core.markdown import markdown_html
from crowdmaker.people import selectors as people_selectors
from crowdmaker.people.auth import PUBLIC_AUTH, signed_in_user
from crowdmaker.people.models import User
from crowdmaker.selection import selectors, services
from crowdmaker.selection.models import (
    BRIEF_MAX_LENGTH,
    FAMILY_MAX_LENGTH,
    MAX_SCORE,
    MIN_SCORE,
    PITCH_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    OpenCall,
    Submission,
)
from crowdmaker.selection.ranking import Ranked

router = Router(tags=["selection"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
PUBLIC_ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
MAX_RANKING_PAGE = 100
DISPLAY_DECIMALS = 3


def exact(value: Fraction) -> str:
    """A Fraction as "numerator/denominator" in lowest terms ("4" when whole): exact, no float on the way."""
    return str(value)


def display(value: Fraction) -> str:
    """Rounded to DISPLAY_DECIMALS places (half to even), for showing only: never compare these."""
    scale = 10**DISPLAY_DECIMALS
    units = round(value * scale)
    return f"{units // scale}.{units % scale:0{DISPLAY_DECIMALS}d}"


# --- schemas: calls ------------------------------------------------------------------------------------------


class CallOut(Schema):
    slug: str
    title: str
    organizer_team: str | None = Field(..., description="The organizing team's slug; null: the platform.")
    status: str = Field(..., description="upcoming, open or closed (votes, intents and entries: while open).")
    opens_at: datetime
    closes_at: datetime
    required_family: str = Field(..., description="The family (cm:family) every entry must claim; empty: any.")
    threshold_kind: str = Field(..., description="intents-count or intents-value.")
    threshold: int = Field(..., description="Buy-intents, or their total value in minor units of `currency`.")
    currency: str
    prior_weight: int = Field(..., description="C of the Bayesian average: votes of the call's mean each starts with.")
    top_n: int = Field(..., description="How many of the best ranked are promoted at the close.")

    @staticmethod
    def resolve_organizer_team(call: OpenCall) -> str | None:
        return call.organizer_team.slug if call.organizer_team is not None else None

    @staticmethod
    def resolve_status(call: OpenCall) -> str:
        return selectors.call_status(call=call)


class CallDetailOut(CallOut):
    brief: str = Field(..., description="Markdown, as written.")
    brief_html: str = Field(..., description="The brief rendered and sanitised.")
    prior_mean: str = Field(..., description="m: the mean of all the call's votes, exact (3 before any vote).")
    prior_mean_display: str = Field(..., description="m rounded for display.")

    @staticmethod
    def resolve_brief_html(call: OpenCall) -> str:
        return markdown_html(call.brief)

    @staticmethod
    def resolve_prior_mean(call: OpenCall) -> str:
        return exact(call.prior_mean)  # type: ignore[attr-defined]

    @staticmethod
    def resolve_prior_mean_display(call: OpenCall) -> str:
        return display(call.prior_mean)  # type: ignore[attr-defined]


class CallIn(InputSchema):
    slug: str = Field(..., min_length=1, max_length=50)
    title: str = Field(..., max_length=TITLE_MAX_LENGTH)
    brief: str = Field("", max_length=BRIEF_MAX_LENGTH)
    team: str | None = Field(None, description="The organizing team's slug; omitted: the platform (staff only).")
    opens_at: datetime
    closes_at: datetime
    required_family: str = Field("", max_length=FAMILY_MAX_LENGTH)
    threshold_kind: str = Field(..., description="intents-count or intents-value.")
    threshold: StrictInt
    currency: str = Field(..., min_length=3, max_length=3)
    prior_weight: StrictInt = services.DEFAULT_PRIOR_WEIGHT
    top_n: StrictInt = services.DEFAULT_TOP_N


# --- schemas: submissions ------------------------------------------------------------------------------------


class SubmissionOut(Schema):
    id: int
    call: str = Field(..., description="The call's slug.")
    design: str = Field(..., description="The design's slug.")
    design_title: str
    version: int
    entered_by: str = Field(..., description="The handle of who entered it.")
    pitch: str = Field(..., description="Markdown, as written.")
    pitch_html: str
    created_at: datetime
    rank: int = Field(..., description="1 for the best of the call.")
    score: str = Field(..., description="The Bayesian average (C·m + sum) / (C + votes), exact: 'num/den' or whole.")
    score_display: str = Field(..., description="The score rounded for display.")
    vote_count: int
    mean: str | None = Field(..., description="The plain mean of its votes, exact; null before any vote.")
    intent_count: int = Field(..., description="Live buy-intents.")
    intent_value: int = Field(..., description="Their total, minor units of the call's currency.")
    threshold_reached: bool


class SubmissionIn(InputSchema):
    design: str = Field(..., min_length=1, max_length=50, description="The design's slug.")
    version: StrictInt = Field(..., ge=1, description="The number of its version.")
    pitch: str = Field(..., max_length=PITCH_MAX_LENGTH)


class VoteIn(InputSchema):
    score: StrictInt = Field(..., description=f"A whole number from {MIN_SCORE} to {MAX_SCORE}.")


class IntentIn(InputSchema):
    price: StrictInt = Field(..., description="What you would pay, minor units of the call's currency.")
    currency: str | None = Field(None, description="Optional; when given, it must be the call's currency.")


class IntentOut(Schema):
    price: int
    currency: str
    created_at: datetime


class MineOut(Schema):
    score: int | None = Field(..., description="My score of the submission; null: not voted.")
    intent: IntentOut | None = Field(..., description="My live buy-intent; null: none.")


class RankingQuery(Schema):
    offset: int = Field(0, ge=0, description="How many of the best to skip.")
    limit: int = Field(50, ge=1, le=MAX_RANKING_PAGE, description=f"At most this many (1 to {MAX_RANKING_PAGE}).")


# --- answers ---------------------------------------------------------------------------------------------------


def _submission_answer(*, call: OpenCall, submission: Submission, ranked: Ranked) -> dict[str, Any]:
    version = submission.design_version
    mean = Fraction(submission.vote_sum, submission.vote_count) if submission.vote_count else None
    return {
        "id": submission.pk, "call": call.slug, "design": version.design.slug, "design_title": version.design.title,
        "version": version.number, "entered_by": submission.entered_by.handle, "pitch": submission.pitch,
        "pitch_html": markdown_html(submission.pitch), "created_at": submission.created_at, "rank": ranked.position,
        "score": exact(ranked.score), "score_display": display(ranked.score), "vote_count": submission.vote_count,
        "mean": exact(mean) if mean is not None else None, "intent_count": submission.intent_count,
        "intent_value": submission.intent_value,
        "threshold_reached": selectors.threshold_reached(call=call, submission=submission),
    }  # fmt: skip


def _submission_detail(submission_id: int) -> dict[str, Any]:
    submission = selectors.submission_by_pk(pk=submission_id)
    call = submission.call
    ranked = next(r for r in selectors.call_ranking(call=call) if r.tally.submission_id == submission.pk)
    return _submission_answer(call=call, submission=submission, ranked=ranked)


def _call_detail(slug: str) -> OpenCall:
    call = selectors.call_by_slug(slug=slug)
    call.prior_mean = selectors.call_prior_mean(call=call)  # type: ignore[attr-defined]
    return call


def _mine(member: User, submission: Submission) -> dict[str, Any]:
    vote, intent = selectors.member_judgement(member=member, submission=submission)
    return {"score": vote.score if vote is not None else None, "intent": intent}


def _design_version(payload: SubmissionIn) -> DesignVersion:
    """A design version named by slug and number; a wrong reference is bad input (422), not a missing page."""
    try:
        design = commons_selectors.design_by_slug(slug=payload.design)
        return commons_selectors.version_of(design=design, number=payload.version)
    except NotFound as exc:
        raise Invalid(exc.message, code="design_unknown", field="design") from exc


# --- calls -----------------------------------------------------------------------------------------------------


@router.get(
    "/calls", auth=PUBLIC_AUTH, response={200: list[CallOut], **PUBLIC_ERRORS}, summary="Open calls, newest first"
)
@paginate(Cursor, ordering=("-id",))
def calls_list(request: HttpRequest, status: str | None = None) -> object:
    """Every call, upcoming, open and closed; `status` (upcoming, open or closed) keeps only those."""
    if status is not None and status not in selectors.CALL_STATUSES:
        raise Invalid(f"The status is one of: {', '.join(selectors.CALL_STATUSES)}.", field="status")
    return selectors.calls_listed(status=status)


@router.get("/calls/{slug}", auth=PUBLIC_AUTH, response={200: CallDetailOut, **PUBLIC_ERRORS}, summary="One open call")
def call_detail(request: HttpRequest, slug: str) -> OpenCall:
    return _call_detail(slug)


@router.post("/calls", response={201: CallDetailOut, **ERRORS}, summary="Open a call")
def call_create(request: HttpRequest, payload: CallIn) -> Status:
    """For a team (its owners and maintainers) or, without `team`, for the platform (staff only)."""
    team = None
    if payload.team is not None:
        try:
            team = people_selectors.team_by_slug(slug=payload.team)
        except NotFound as exc:
            raise Invalid(exc.message, code="team_unknown", field="team") from exc
    call = services.call_open(
        actor=signed_in_user(request), slug=payload.slug, title=payload.title, brief=payload.brief, team=team,
        opens_at=payload.opens_at, closes_at=payload.closes_at, required_family=payload.required_family,
        threshold_kind=payload.threshold_kind, threshold=payload.threshold, currency=payload.currency,
        prior_weight=payload.prior_weight, top_n=payload.top_n,
    )  # fmt: skip
    return Status(201, _call_detail(call.slug))


# --- submissions -----------------------------------------------------------------------------------------------


@router.get(
    "/calls/{slug}/submissions",
    auth=PUBLIC_AUTH,
    response={200: list[SubmissionOut], **PUBLIC_ERRORS},
    summary="A call's submissions, best ranked first",
)
def call_submissions(request: HttpRequest, slug: str, page: Query[RankingQuery]) -> list[dict[str, Any]]:
    """Ranked by the Bayesian average (ties: more votes, then the earlier entry); `offset` and `limit` page
    through the ranking (two queries whatever the page)."""
    call = selectors.call_by_slug(slug=slug)
    ranking = selectors.call_ranking(call=call)[page.offset : page.offset + page.limit]
    rows = selectors.submissions_by_pk(call=call, pks=[r.tally.submission_id for r in ranking])
    return [_submission_answer(call=call, submission=rows[r.tally.submission_id], ranked=r) for r in ranking]


@router.post("/calls/{slug}/submissions", response={201: SubmissionOut, **ERRORS}, summary="Enter a design version")
def submission_enter(request: HttpRequest, slug: str, payload: SubmissionIn) -> Status:
    """The design's owner, or an owner or maintainer of its team, enters one of its versions while the call is open."""
    call = selectors.call_by_slug(slug=slug)
    submission = services.submission_enter(
        actor=signed_in_user(request), call=call, design_version=_design_version(payload), pitch=payload.pitch
    )
    return Status(201, _submission_detail(submission.pk))


@router.get(
    "/submissions/{submission_id}",
    auth=PUBLIC_AUTH,
    response={200: SubmissionOut, **PUBLIC_ERRORS},
    summary="One submission, with its rank",
)
def submission_detail(request: HttpRequest, submission_id: int) -> dict[str, Any]:
    return _submission_detail(submission_id)


# --- my vote and buy-intent ------------------------------------------------------------------------------------


@router.get("/submissions/{submission_id}/mine", response={200: MineOut, **ERRORS}, summary="My vote and buy-intent")
def mine(request: HttpRequest, submission_id: int) -> dict[str, Any]:
    return _mine(signed_in_user(request), selectors.submission_by_pk(pk=submission_id))


@router.put("/submissions/{submission_id}/vote", response={200: MineOut, **ERRORS}, summary="Score a submission")
def vote_put(request: HttpRequest, submission_id: int, payload: VoteIn) -> dict[str, Any]:
    """Casts my score, or changes it when I have scored the submission already (while its call is open)."""
    member = signed_in_user(request)
    submission = selectors.submission_by_pk(pk=submission_id)
    try:  # no check-then-act: the database's unique vote says whether this is a first score or a change
        services.vote_cast(voter=member, submission=submission, score=payload.score)
    except Conflict as exc:
        if exc.code != "already_voted":
            raise
        services.vote_change(voter=member, submission=submission, score=payload.score)
    return _mine(member, submission)


@router.put("/submissions/{submission_id}/intent", response={200: MineOut, **ERRORS}, summary="State a buy-intent")
def intent_put(request: HttpRequest, submission_id: int, payload: IntentIn) -> dict[str, Any]:
    """'I would buy this at `price`' (non-binding). One live intent per member: with one live already the answer
    is 409 `intent_exists` (withdraw it first to state another price)."""
    member = signed_in_user(request)
    submission = selectors.submission_by_pk(pk=submission_id)
    services.intent_state(member=member, submission=submission, price=payload.price, currency=payload.currency)
    return _mine(member, submission)


@router.delete(
    "/submissions/{submission_id}/intent", response={200: MineOut, **ERRORS}, summary="Withdraw my buy-intent"
)
def intent_delete(request: HttpRequest, submission_id: int) -> dict[str, Any]:
    member = signed_in_user(request)
    submission = selectors.submission_by_pk(pk=submission_id)
    services.intent_withdraw(member=member, submission=submission)
    return _mine(member, submission)
