"""Reads of `selection`: a call's ranking from its submissions' stored aggregates (never a scan of the votes),
a submission's progress towards the call's production threshold, and the check of the aggregates against the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from crowdmaker.selection.models import BuyIntent, OpenCall, Submission, ThresholdKind, Vote
from crowdmaker.selection.ranking import Ranked, Tally, call_mean, rank


def call_prior_mean(*, call: OpenCall) -> Fraction:
    """m of the call: one aggregate query over its submissions' vote_sum and vote_count."""
    totals = Submission.objects.filter(call=call).aggregate(
        vote_sum=Coalesce(Sum("vote_sum"), 0), vote_count=Coalesce(Sum("vote_count"), 0)
    )
    return call_mean(vote_sum=int(totals["vote_sum"]), vote_count=int(totals["vote_count"]))


def call_ranking(*, call: OpenCall) -> list[Ranked]:
    """All the call's submissions best first (ranking.py has the formula); two queries whatever the vote count."""
    prior_mean = call_prior_mean(call=call)
    tallies = [
        Tally(submission_id=pk, vote_count=count, vote_sum=total)
        for pk, count, total in Submission.objects.filter(call=call).values_list("pk", "vote_count", "vote_sum")
    ]
    return rank(tallies, prior_weight=call.prior_weight, prior_mean=prior_mean)


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
    votes = {
        row["submission"]: row
        for row in Vote.objects.filter(submission__in=submissions)
        .values("submission")
        .annotate(count=Count("pk"), total=Sum("score"))
    }
    intents = {
        row["submission"]: row
        for row in BuyIntent.objects.filter(submission__in=submissions, withdrawn_at__isnull=True)
        .values("submission")
        .annotate(count=Count("pk", filter=Q(withdrawn_at__isnull=True)), total=Sum("price"))
    }
    mismatches = []
    for pk, vote_count, vote_sum, intent_count, intent_value in submissions.values_list(
        "pk", "vote_count", "vote_sum", "intent_count", "intent_value"
    ).order_by("pk"):
        v, i = votes.get(pk, {}), intents.get(pk, {})
        for field, stored, counted in (
            ("vote_count", vote_count, v.get("count", 0)),
            ("vote_sum", vote_sum, v.get("total", 0)),
            ("intent_count", intent_count, i.get("count", 0)),
            ("intent_value", intent_value, i.get("total", 0)),
        ):
            if stored != counted:
                mismatches.append(AggregateMismatch(submission_id=pk, field=field, stored=stored, counted=counted))
    return mismatches
