"""Reads of `selection`: who counts as an author, whether a version follows a call's family, a call's ranking
from its submissions' stored aggregates (never a scan of the votes), a submission's progress towards the call's
production threshold, and the check of the aggregates against the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from crowdmaker.commons.models import DesignVersion
from crowdmaker.commons.services import manifest_families
from crowdmaker.core.errors import NotFound
from crowdmaker.people.models import Membership, User
from crowdmaker.selection.models import BuyIntent, OpenCall, Submission, ThresholdKind, Vote
from crowdmaker.selection.ranking import Ranked, Tally, call_mean, rank


def is_author(*, user: User, version: DesignVersion) -> bool:
    """Whether `user` is an author of the version's design: its owner, or a member (any role) of its owner team."""
    design = version.design
    if design.owner_user_id is not None:
        return design.owner_user_id == user.pk
    return Membership.objects.filter(team__designs=design, user=user).exists()


def family_problem(*, call: OpenCall, version: DesignVersion) -> str | None:
    """Why the version may not enter the call for its family, or None when it may (or the call requires none)."""
    if not call.required_family:
        return None
    claimed = manifest_families(version.manifest)
    if call.required_family in claimed:
        return None
    claims = f"claims {', '.join(repr(name) for name in claimed)}" if claimed else "claims no family"
    return (
        f"This call takes designs of the family {call.required_family!r}; the manifest of {version} {claims} "
        f"(cm:family)."
    )


def call_prior_mean(*, call: OpenCall) -> Fraction:
    """m of the call: one aggregate query over its submissions' vote_sum and vote_count."""
    totals = Submission.objects.filter(call=call).aggregate(
        vote_sum=Coalesce(Sum("vote_sum"), 0), vote_count=Coalesce(Sum("vote_count"), 0)
    )
    return call_mean(vote_sum=int(totals["vote_sum"]), vote_count=int(totals["vote_count"]))


def call_ranking(*, call: OpenCall) -> list[Ranked]:
    """All the call's submissions best first (ranking.py has the formula): one query whatever the vote count, as
    the call's mean m is the sum of the same rows' aggregates."""
    tallies = [
        Tally(submission_id=pk, vote_count=count, vote_sum=total)
        for pk, count, total in Submission.objects.filter(call=call).values_list("pk", "vote_count", "vote_sum")
    ]
    return rank(tallies, prior_weight=call.prior_weight)


def call_top(*, call: OpenCall) -> list[Ranked]:
    """The call's top N (the ones promoted at the close)."""
    return call_ranking(call=call)[: call.top_n]


def threshold_reached(*, call: OpenCall, submission: Submission) -> bool:
    """Whether the submission's live buy-intents reach the call's production threshold."""
    reached = submission.intent_count if call.threshold_kind == ThresholdKind.INTENTS_COUNT else submission.intent_value
    return reached >= call.threshold


@dataclass(frozen=True)
class AggregateMismatch:
    submission_id: int
    field: str
    stored: int
    counted: int


def aggregates_check(*, call: OpenCall | None = None) -> list[AggregateMismatch]:
    """Every submission whose stored aggregates differ from its votes and live intents (empty: all exact).

    This one does scan the votes: it is the verification, not the page path."""
    submissions = Submission.objects.all() if call is None else Submission.objects.filter(call=call)
    votes: dict[int, tuple[int, int]] = {
        row["submission"]: (row["count"], row["total"])
        for row in Vote.objects.filter(submission__in=submissions)
        .values("submission")
        .annotate(count=Count("pk"), total=Sum("score"))
    }
    intents: dict[int, tuple[int, int]] = {
        row["submission"]: (row["count"], row["total"])
        for row in BuyIntent.objects.filter(submission__in=submissions, withdrawn_at__isnull=True)
        .values("submission")
        .annotate(count=Count("pk"), total=Sum("price"))
    }
    mismatches = []
    for pk, vote_count, vote_sum, intent_count, intent_value in submissions.values_list(
        "pk", "vote_count", "vote_sum", "intent_count", "intent_value"
    ).order_by("pk"):
        counted_votes, counted_intents = votes.get(pk, (0, 0)), intents.get(pk, (0, 0))
        for field, stored, counted in (
            ("vote_count", vote_count, counted_votes[0]),
            ("vote_sum", vote_sum, counted_votes[1]),
            ("intent_count", intent_count, counted_intents[0]),
            ("intent_value", intent_value, counted_intents[1]),
        ):
            if stored != counted:
                mismatches.append(AggregateMismatch(submission_id=pk, field=field, stored=stored, counted=counted))
    return mismatches


# --- reads of the JSON API (selection.api) ----------------------------------------------------------------------

CALL_STATUSES = ("upcoming", "open", "closed")


def call_status(*, call: OpenCall, now: datetime | None = None) -> str:
    """upcoming before opens_at, open while opens_at <= now < closes_at, closed from closes_at on."""
    now = now or timezone.now()
    if now < call.opens_at:
        return "upcoming"
    return "open" if now < call.closes_at else "closed"


def calls_listed(*, status: str | None = None) -> QuerySet[OpenCall]:
    """Every call (all are public), optionally only those `status` (upcoming, open or closed) now."""
    calls = OpenCall.objects.select_related("organizer_team")
    now = timezone.now()
    if status == "upcoming":
        calls = calls.filter(opens_at__gt=now)
    elif status == "open":
        calls = calls.filter(opens_at__lte=now, closes_at__gt=now)
    elif status == "closed":
        calls = calls.filter(closes_at__lte=now)
    return calls


def call_by_slug(*, slug: str) -> OpenCall:
    call = OpenCall.objects.select_related("organizer_team").filter(slug=slug).first()
    if call is None:
        raise NotFound("No call has this address.")
    return call


def submission_by_pk(*, pk: int) -> Submission:
    found = Submission.objects.select_related("call", "design_version__design", "entered_by").filter(pk=pk).first()
    if found is None:
        raise NotFound("No submission has this address.")
    return found


def submissions_by_pk(*, call: OpenCall, pks: list[int]) -> dict[int, Submission]:
    """The call's submissions of these ids, with what their answers show, in one query."""
    rows = Submission.objects.filter(call=call, pk__in=pks).select_related("design_version__design", "entered_by")
    return {row.pk: row for row in rows}


def member_judgement(*, member: User, submission: Submission) -> tuple[Vote | None, BuyIntent | None]:
    """The member's vote and live buy-intent on the submission (None where there is none)."""
    vote = Vote.objects.filter(submission=submission, voter=member).first()
    intent = BuyIntent.objects.filter(submission=submission, member=member, withdrawn_at__isnull=True).first()
    return vote, intent
