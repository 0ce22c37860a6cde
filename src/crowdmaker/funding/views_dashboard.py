"""The makers' dashboard page of a campaign: headline figures, funding over time against the goal as an inline SVG
chart drawn on the server (no JavaScript), pledges per tier and top referrers.

An edge: it reads through `funding.dashboard` and only lays the figures out (the chart's pixel coordinates are
the one place floats appear; the amounts stay integer minor units). Editors only: anyone else gets 403, and a
draft is 404 to all but its editors, as on the campaign's own page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from crowdmaker.core.errors import Forbidden, NotFound
from crowdmaker.funding import dashboard, referrals, selectors
from crowdmaker.funding.dashboard import Dashboard
from crowdmaker.ledger.money import Money
from crowdmaker.people.models import User

# The chart's drawing box (SVG user units; it scales to the page's width) and the margins for the axis labels.
CHART_WIDTH = 720
CHART_HEIGHT = 300
CHART_LEFT = 96
CHART_RIGHT = 24
CHART_TOP = 24
CHART_BOTTOM = 40


@dataclass(frozen=True)
class ChartLine:
    """A horizontal line across the chart: the goal or a stretch goal."""

    label: str
    amount: Money
    y: str
    reached: bool
    is_goal: bool


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int  # x of the plot's right edge
    top: int
    bottom: int  # y of the plot's baseline (zero)
    line: str  # the cumulative amount: an SVG polyline's points
    area: str  # the same, closed down to the baseline: a polygon's points
    goals: list[ChartLine]
    scale: Money  # the amount at the top of the plot
    title: str
    description: str


def _coordinate(value: float) -> str:
    return f"{value:.1f}"


def _chart(board: Dashboard) -> Chart:
    """The funding-over-time chart: each day's cumulative amount at the end of that day, across the campaign from
    its start to its last day for pledges, on the progress bar's scale (the furthest of the goal, the stretch goals
    and the total), with the goal and stretch goal lines."""
    right, bottom = CHART_WIDTH - CHART_RIGHT, CHART_HEIGHT - CHART_BOTTOM
    width, height = right - CHART_LEFT, bottom - CHART_TOP
    scale = max(board.progress.scale.amount, 1)
    days = (board.last_day - board.first_day).days + 1

    def x(day_index: float) -> str:
        return _coordinate(CHART_LEFT + width * day_index / days)

    def y(amount: int) -> str:
        return _coordinate(bottom - height * amount / scale)

    points = [f"{x(0)},{y(0)}"] + [
        f"{x((point.day - board.first_day).days + 1)},{y(point.cumulative.amount)}" for point in board.series
    ]
    last_x = x((board.series[-1].day - board.first_day).days + 1) if board.series else x(0)
    goals = [
        ChartLine(marker.label, marker.amount, y(marker.amount.amount), marker.reached, index == 0)
        for index, marker in enumerate(board.progress.markers)
    ]
    first, last = (f"{day.day} {day:%B %Y}" for day in (board.first_day, board.last_day))
    progress = board.progress
    stretch = f", and {len(goals) - 1} stretch goal{'s' if len(goals) > 2 else ''}" if len(goals) > 1 else ""
    description = (
        f"Cumulative amount pledged per day since {first}, on an axis that runs to {last}, the last day for pledges: "
        f"{progress.pledged} so far, {progress.percent} % of the {progress.goal} goal{stretch}. The table below "
        "gives the figures of each day."
    )
    return Chart(
        width=CHART_WIDTH, height=CHART_HEIGHT, left=CHART_LEFT, right=right, top=CHART_TOP, bottom=bottom,
        line=" ".join(points), area=" ".join([*points, f"{last_x},{y(0)}"]), goals=goals,
        scale=Money(scale, board.campaign.currency), title="Funding over time against the goal",
        description=description,
    )  # fmt: skip


@login_required
@require_safe
def campaign_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    viewer = request.user if isinstance(request.user, User) else None
    try:
        campaign = selectors.campaign_visible(slug=slug, viewer=viewer)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    assert viewer is not None  # behind login_required
    try:
        board = dashboard.campaign_dashboard(actor=viewer, campaign=campaign)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    context = {"campaign": campaign, "board": board, "progress": board.progress, "chart": _chart(board),
               "referral_days": referrals.REFERRAL_DAYS}  # fmt: skip
    return render(request, "funding/dashboard.html", context)
