"""The makers' dashboard of a campaign: headline figures, funding over time against the goal, pledges per tier and
top referrers, for the campaign's editors only.

Reads only, every figure aggregated in SQL: five queries whatever the number of pledges (a campaign may have
200,000); Python walks days, tiers and the top referrers, never pledges. It counts the pledges the progress bar
counts (`selectors.COUNTED_STATUSES`: money held or taken), so the two always agree; pledges whose card is still
being asked (pending) are shown apart, never added in.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Count, IntegerField, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from crowdmaker.funding import selectors
from crowdmaker.funding.backers import editor_required
from crowdmaker.funding.models import Campaign, CampaignStatus, Pledge, PledgeStatus, Tier, TierSlot
from crowdmaker.ledger.money import Money
from crowdmaker.people.models import User

TOP_REFERRERS = 10  # referrers listed by name; the rest are summed up as "other referrers"
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Figure:
    """How many pledges, for how much."""

    pledges: int
    amount: Money


@dataclass(frozen=True)
class DayPoint:
    """One day (UTC) of the campaign: what was pledged that day and everything pledged up to its end."""

    day: date
    pledged: Money
    cumulative: Money


@dataclass(frozen=True)
class TierRow:
    tier: Tier
    figure: Figure
    limit: int | None
    places_left: int | None  # None: unlimited


@dataclass(frozen=True)
class ReferrerRow:
    handle: str
    name: str  # the profile's display name, as the app shows people
    figure: Figure


@dataclass(frozen=True)
class Dashboard:
    campaign: Campaign
    progress: selectors.Progress  # the progress bar's figures and markers, from the same snapshot as the rest
    pledged: Money
    backers: int
    pledges: int
    average: Money  # per pledge, rounded half up to the minor unit; zero without pledges
    fee: Money  # what the platform keeps if the counted pledges are settled, as quoted at their authorization
    pending: Figure  # pledges whose authorization is not answered yet: not counted anywhere else
    days_left: int
    series: list[DayPoint]
    first_day: date  # of the chart's time axis: the campaign's start
    last_day: date  # of the chart's time axis: its last day for pledges (or the latest late pledge)
    tiers: list[TierRow]
    no_reward: Figure
    referrers: list[ReferrerRow]
    other_referrers: Figure  # referred pledges of the referrers beyond the top TOP_REFERRERS
    direct: Figure  # pledges without a referrer

    @property
    def percent(self) -> int:
        return self.progress.percent


def _money(amount: int | None, currency: str) -> Money:
    return Money(int(amount or 0), currency)


def _days_left(campaign: Campaign, now: datetime) -> int:
    """Whole days, rounded up, until the deadline of a live campaign; 0 once it is over or decided."""
    if campaign.status != CampaignStatus.LIVE or now >= campaign.deadline:
        return 0
    left = campaign.deadline - now
    return left.days + (1 if left.seconds or left.microseconds else 0)


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _series(campaign: Campaign, counted: Any, first: date, end: date) -> list[DayPoint]:
    """Cumulative pledged amount per day from `first` to `end` (UTC days): one GROUP BY query, then a walk over
    the days. A pledge dated before `first` counts from the first day."""
    per_day = {
        row["day"]: int(row["total"])
        for row in counted.annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(total=Sum("amount"))
        .order_by()
    }
    currency = campaign.currency
    cumulative = sum(total for day, total in per_day.items() if day < first)
    points, day = [], first
    while day <= end:
        pledged = per_day.get(day, 0) + (cumulative if day == first else 0)
        cumulative += per_day.get(day, 0)
        points.append(DayPoint(day, Money(pledged, currency), Money(cumulative, currency)))
        day += DAY
    return points


def campaign_dashboard(*, actor: User, campaign: Campaign, now: datetime | None = None) -> Dashboard:
    """The campaign's dashboard as its editors see it. Raises Forbidden for anyone else, before reading anything.

    Queries: the totals, the pledges per day, the tiers, the top referrers, the stretch goals (plus the editor
    check), however many pledges there are."""
    editor_required(campaign=campaign, actor=actor, doing="see the campaign's dashboard")
    now = now or timezone.now()
    currency = campaign.currency
    pledges = Pledge.objects.filter(campaign=campaign)
    counted = pledges.filter(status__in=selectors.COUNTED_STATUSES)
    is_counted = Q(status__in=selectors.COUNTED_STATUSES)
    is_pending = Q(status=PledgeStatus.PENDING)
    totals = pledges.filter(is_counted | is_pending).aggregate(
        pledges=Count("pk", filter=is_counted),
        backers=Count("backer", distinct=True, filter=is_counted),
        pledged=Coalesce(Sum("amount", filter=is_counted), 0),
        fee=Coalesce(Sum("payment__fee_quoted", filter=is_counted), 0),
        no_reward_pledges=Count("pk", filter=is_counted & Q(tier__isnull=True)),
        no_reward_amount=Coalesce(Sum("amount", filter=is_counted & Q(tier__isnull=True)), 0),
        direct_pledges=Count("pk", filter=is_counted & Q(referrer__isnull=True)),
        direct_amount=Coalesce(Sum("amount", filter=is_counted & Q(referrer__isnull=True)), 0),
        pending_pledges=Count("pk", filter=is_pending),
        pending_amount=Coalesce(Sum("amount", filter=is_pending), 0),
        latest=Max("created_at", filter=is_counted),
    )
    pledged, count = int(totals["pledged"]), int(totals["pledges"])

    # The progress bar's figures from this same snapshot (the selector reads `pledged` and `backers` when set).
    snapshot = copy.copy(campaign)
    snapshot.pledged, snapshot.backers = pledged, totals["backers"]  # type: ignore[attr-defined]
    progress = selectors.campaign_progress(campaign=snapshot)

    first_day = _day(campaign.starts_at)
    last_day = _day(campaign.deadline - timedelta(microseconds=1))  # a deadline at midnight ends the day before
    if totals["latest"] is not None:
        last_day = max(last_day, _day(totals["latest"]))  # late pledges after a successful deadline
    series_end = min(last_day, _day(now))
    if totals["latest"] is not None:
        series_end = max(series_end, _day(totals["latest"]))
    series = _series(campaign, counted, first_day, series_end) if campaign.status != CampaignStatus.DRAFT else []

    is_tier_counted = Q(pledges__status__in=selectors.COUNTED_STATUSES)
    free = TierSlot.objects.filter(tier=OuterRef("pk"), pledge__isnull=True).order_by().values("tier")
    tiers = (
        Tier.objects.filter(campaign=campaign)
        .annotate(
            counted_pledges=Count("pledges", filter=is_tier_counted),
            counted_amount=Coalesce(Sum("pledges__amount", filter=is_tier_counted), 0),
            free_slots=Coalesce(Subquery(free.annotate(n=Count("id")).values("n"), output_field=IntegerField()), 0),
        )
        .order_by("position", "id")
    )
    tier_rows = [
        TierRow(tier, Figure(tier.counted_pledges, _money(tier.counted_amount, currency)), tier.limit,
                selectors.tier_places_left(tier))
        for tier in tiers
    ]  # fmt: skip

    top = (
        counted.filter(referrer__isnull=False)
        .values("referrer_id", "referrer__handle", "referrer__profile__display_name")
        .annotate(n=Count("pk"), total=Sum("amount"))
        .order_by("-total", "-n", "referrer__handle")[:TOP_REFERRERS]
    )
    referrers = [
        ReferrerRow(row["referrer__handle"], row["referrer__profile__display_name"] or row["referrer__handle"],
                    Figure(row["n"], _money(row["total"], currency)))
        for row in top
    ]  # fmt: skip
    referred = Figure(count - totals["direct_pledges"], _money(pledged - totals["direct_amount"], currency))
    others = Figure(
        referred.pledges - sum(row.figure.pledges for row in referrers),
        _money(referred.amount.amount - sum(row.figure.amount.amount for row in referrers), currency),
    )
    return Dashboard(
        campaign=campaign,
        progress=progress,
        pledged=Money(pledged, currency),
        backers=int(totals["backers"]),
        pledges=count,
        average=Money((pledged * 2 + count) // (count * 2) if count else 0, currency),
        fee=_money(totals["fee"], currency),
        pending=Figure(int(totals["pending_pledges"]), _money(totals["pending_amount"], currency)),
        days_left=_days_left(campaign, now),
        series=series,
        first_day=first_day,
        last_day=max(last_day, first_day),
        tiers=tier_rows,
        no_reward=Figure(int(totals["no_reward_pledges"]), _money(totals["no_reward_amount"], currency)),
        referrers=referrers,
        other_referrers=others,
        direct=Figure(int(totals["direct_pledges"]), _money(totals["direct_amount"], currency)),
    )
