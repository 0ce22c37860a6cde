"""JSON API of the makers' dashboard of a campaign: the figures of its dashboard page, for its editors only.

A router of its own, mounted beside `funding.api`'s; the handler reads through `funding.dashboard` and never
writes. A draft is 404 to all but its editors (as everywhere in the API); a published campaign's dashboard is 403
to anyone else. Money is integer minor units of the campaign's currency.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from crowdmaker.funding import dashboard, selectors
from crowdmaker.funding.api import ERRORS
from crowdmaker.people.auth import signed_in_user

router = Router(tags=["funding"])


class FigureOut(Schema):
    pledges: int
    amount: int = Field(..., description="Minor units.")


class DayOut(Schema):
    date: dt.date = Field(..., description="A day (UTC) from the campaign's start to today (or its last day).")
    cumulative: int = Field(..., description="Everything pledged up to the end of that day, minor units.")


class DashboardTierOut(Schema):
    id: int
    title: str
    pledges: int
    amount: int = Field(..., description="Of its pledges: reward, add-ons, shipping and extras, minor units.")
    limit: int | None = Field(..., description="At most this many backers; null: no limit.")
    places_left: int | None = Field(..., description="Null: no limit.")


class ReferrerOut(Schema):
    handle: str
    name: str = Field(..., description="Their display name.")
    pledges: int
    amount: int


class StretchGoalLineOut(Schema):
    title: str
    threshold: int
    reached: bool


class DashboardOut(Schema):
    currency: str
    goal: int = Field(..., description="Minor units.")
    pledged: int = Field(..., description="Authorized and captured pledges (as the progress bar), minor units.")
    backers: int = Field(..., description="People with at least one such pledge.")
    pledges: int = Field(..., description="The number of such pledges.")
    average_pledge: int = Field(..., description="pledged / pledges, rounded half up; 0 without pledges.")
    percent: int = Field(..., description="Of the goal, rounded down (may exceed 100).")
    days_left: int = Field(..., description="Whole days until the deadline, rounded up; 0 once it is over.")
    fee_estimate: int = Field(..., description="What the platform keeps if these pledges are settled, as quoted.")
    pending: FigureOut = Field(..., description="Pledges whose authorization is not answered yet (not counted).")
    stretch_goals: list[StretchGoalLineOut]
    series: list[DayOut] = Field(..., description="Cumulative pledged amount per day, oldest first.")
    tiers: list[DashboardTierOut] = Field(..., description="In the tiers' order.")
    no_reward: FigureOut = Field(..., description="Pledges without a reward.")
    referrers: list[ReferrerOut] = Field(
        ..., description=f"The top {dashboard.TOP_REFERRERS} by pledged amount (then by pledges)."
    )
    other_referrers: FigureOut = Field(..., description="Referred pledges of the referrers not listed.")
    direct: FigureOut = Field(..., description="Pledges without a referrer.")


def _figure(figure: dashboard.Figure) -> dict[str, int]:
    return {"pledges": figure.pledges, "amount": figure.amount.amount}


@router.get(
    "/campaigns/{slug}/dashboard",
    response={200: DashboardOut, **ERRORS},
    summary="A campaign's dashboard: totals, funding per day, pledges per tier, top referrers (editors)",
)
def campaign_dashboard(request: HttpRequest, slug: str) -> dict[str, Any]:
    actor = signed_in_user(request)
    board = dashboard.campaign_dashboard(actor=actor, campaign=selectors.campaign_visible(slug=slug, viewer=actor))
    return {
        "currency": board.campaign.currency, "goal": board.campaign.goal, "pledged": board.pledged.amount,
        "backers": board.backers, "pledges": board.pledges, "average_pledge": board.average.amount,
        "percent": board.percent, "days_left": board.days_left, "fee_estimate": board.fee.amount,
        "pending": _figure(board.pending),
        "stretch_goals": [{"title": marker.label, "threshold": marker.amount.amount, "reached": marker.reached}
                          for marker in board.progress.stretch_goals],
        "series": [{"date": point.day, "cumulative": point.cumulative.amount} for point in board.series],
        "tiers": [{"id": row.tier.pk, "title": row.tier.title, "limit": row.limit, "places_left": row.places_left,
                   **_figure(row.figure)} for row in board.tiers],
        "no_reward": _figure(board.no_reward),
        "referrers": [{"handle": row.handle, "name": row.name, **_figure(row.figure)} for row in board.referrers],
        "other_referrers": _figure(board.other_referrers),
        "direct": _figure(board.direct),
    }  # fmt: skip
