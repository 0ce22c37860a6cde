"""Campaigns: drafts with tiers and stretch goals, published with their terms fixed; refusals change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from crowdmaker.commons.models import DesignVersion
from crowdmaker.core.errors import Conflict, Forbidden, Invalid
from crowdmaker.funding import services
from crowdmaker.funding.models import Campaign, CampaignShare, CampaignStatus, StretchGoal, Tier, TierSlot
from crowdmaker.ledger.owners import owner_describe
from crowdmaker.people import services as people
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int]:
    return Campaign.objects.count(), Tier.objects.count(), TierSlot.objects.count(), StretchGoal.objects.count()


def test_a_draft_with_tiers_is_published(make_campaign: Callable[..., Campaign], user: User) -> None:
    campaign = make_campaign(publish=False)
    assert campaign.status == CampaignStatus.DRAFT
    assert TierSlot.objects.filter(tier=campaign.tier).count() == 3  # type: ignore[attr-defined]
    assert list(CampaignShare.objects.values_list("beneficiary_kind", "beneficiary_id", "weight")) == [
        ("person", str(user.pk), 1)
    ]
    assert owner_describe("campaign", str(campaign.pk)) is None  # a draft has no public ledger
    published = services.campaign_publish(actor=user, campaign=campaign)
    assert (published.status, published.published_at is not None) == (CampaignStatus.LIVE, True)
    info = owner_describe("campaign", str(campaign.pk))
    assert info is not None
    assert (info.label, info.public) == ("First run of the desk lamp", True)


def test_a_published_campaigns_terms_are_fixed(campaign: Campaign, user: User) -> None:
    before = counts()
    with pytest.raises(Conflict) as refused:
        services.tier_add(actor=user, campaign=campaign, title="Late tier", price=1_000)
    assert refused.value.code == "not_draft"
    with pytest.raises(Conflict):
        services.stretch_goal_add(actor=user, campaign=campaign, threshold=500_000, title="Walnut edition")
    assert counts() == before


def _create(user: User, version: DesignVersion, **changes: Any) -> Campaign:
    now = timezone.now()
    arguments: dict[str, Any] = {
        "actor": user, "slug": "lamp-run", "title": "Lamp run", "design_versions": [version], "goal": 100_000,
        "currency": "EUR", "starts_at": now, "deadline": now + timedelta(days=30),
    }  # fmt: skip
    arguments.update(changes)
    return services.campaign_create(**arguments)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"slug": "Not a slug!"}, "slug"),
        ({"title": "  "}, "title"),
        ({"goal": 0}, "goal"),
        ({"goal": 10.5}, "goal"),
        ({"currency": "XYZ"}, "currency"),
        ({"funding_model": "keep-it-all"}, "funding_model"),
        ({"deadline": timezone.now() + timedelta(hours=2)}, "deadline"),
        ({"deadline": timezone.now() + timedelta(days=91)}, "deadline"),
        ({"design_versions": []}, "design_versions"),
        ({"shares": [("person", "999999", 1)]}, "shares.0.id"),
        ({"shares": [("company", "1", 1)]}, "shares.0.kind"),
        ({"faq": [{"question": "Why?"}]}, "faq.0"),
    ],
)
def test_bad_campaigns_are_refused_and_create_nothing(
    user: User, design_version: DesignVersion, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        _create(user, design_version, **changes)
    assert refused.value.field == field
    assert counts() == (0, 0, 0, 0)


def test_a_team_campaign_needs_an_editor_and_splits_by_shares(
    user: User, other_user: User, design_version: DesignVersion
) -> None:
    team = people.team_create(actor=user, slug="lamp-makers", name="Lamp makers")
    with pytest.raises(Forbidden):
        _create(other_user, design_version, team=team)
    assert counts() == (0, 0, 0, 0)
    campaign = _create(
        user, design_version, team=team, shares=[("team", str(team.pk), 60), ("person", str(other_user.pk), 40)]
    )
    assert sorted(campaign.shares.values_list("beneficiary_kind", "weight")) == [("person", 40), ("team", 60)]
    with pytest.raises(Forbidden):
        services.tier_add(actor=other_user, campaign=campaign, title="Lamp", price=5_000)
    assert Tier.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"price": 0}, "price"), ({"unit_cost": -1}, "unit_cost"), ({"limit": 0}, "limit"), ({"title": ""}, "title")],
)
def test_bad_tiers_are_refused(make_campaign: Callable[..., Campaign], user: User, changes: dict[str, Any],
                               field: str) -> None:  # fmt: skip
    campaign = make_campaign(publish=False)
    before = counts()
    with pytest.raises(Invalid) as refused:
        services.tier_add(actor=user, campaign=campaign, **{"title": "Tier", "price": 1_000, **changes})
    assert refused.value.field == field
    assert counts() == before


def test_a_stretch_goal_lies_beyond_the_goal(make_campaign: Callable[..., Campaign], user: User) -> None:
    campaign = make_campaign(publish=False)
    with pytest.raises(Invalid):
        services.stretch_goal_add(actor=user, campaign=campaign, threshold=campaign.goal, title="Same as the goal")
    goal = services.stretch_goal_add(actor=user, campaign=campaign, threshold=200_000, title="Walnut edition")
    with pytest.raises(Conflict):
        services.stretch_goal_add(actor=user, campaign=campaign, threshold=200_000, title="Twice")
    assert list(StretchGoal.objects.all()) == [goal]


def test_a_campaigns_totals_cost_the_same_whatever_its_pledges(
    campaign: Campaign, make_user: Callable[..., User]
) -> None:
    """The totals' sums run once per campaign, not once per pledge (that grew with the square of the pledges)."""
    import json

    from django.db import connection

    from crowdmaker.funding import pledges, selectors
    from crowdmaker.ledger.gateways import sandbox

    for n in range(12):
        pledges.pledge_create(backer=make_user(f"fan{n}"), campaign=campaign, extra=1_000,
                              payment_method=sandbox.CARD_OK)  # fmt: skip
    found = selectors.campaign_by_slug(slug=campaign.slug)
    assert (found.pledged, found.backers) == (12_000, 12)  # type: ignore[attr-defined]
    sql, params = selectors._with_totals(Campaign.objects.filter(pk=campaign.pk)).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def aggregate_loops(node: dict[str, Any]) -> list[int]:
        own = [node["Actual Loops"]] if node["Node Type"] == "Aggregate" else []
        return own + [loops for child in node.get("Plans", []) for loops in aggregate_loops(child)]

    assert max(aggregate_loops(plan[0]["Plan"])) == 1
