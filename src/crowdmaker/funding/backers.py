"""Who a campaign's backers are, which pledges have a reward to ship, and who may speak for the campaign: the reads
that updates, comments, messages, surveys, fulfilment and the backer report share, so they all agree.

Reads only. A backer is someone whose money is held or taken (an authorized or captured pledge); a reward ships
for a captured pledge with a tier.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, QuerySet

from crowdmaker.core.errors import Conflict, Forbidden
from crowdmaker.funding import selectors
from crowdmaker.funding.models import Campaign, CampaignStatus, Pledge, PledgeStatus, Refund, RefundStatus, Tier
from crowdmaker.people.models import Membership, User

# Pledges that make their author a backer: the money is held on the card (until the deadline) or taken.
BACKER_STATUSES = (PledgeStatus.AUTHORIZED, PledgeStatus.CAPTURED)


def backer_pledges(*, campaign: Campaign, tiers: Iterable[Tier] | None = None) -> QuerySet[Pledge]:
    """The campaign's pledges that make a backer; with `tiers`, only those of these tiers (no-reward pledges out)."""
    pledges = Pledge.objects.filter(campaign=campaign, status__in=BACKER_STATUSES)
    if tiers is not None:
        pledges = pledges.filter(tier__in=list(tiers))
    return pledges


def backer_ids(*, campaign: Campaign, tiers: Iterable[Tier] | None = None) -> list[int]:
    """The distinct people backing the campaign (of `tiers`, when given), in id order."""
    return list(
        backer_pledges(campaign=campaign, tiers=tiers)
        .order_by("backer_id")
        .values_list("backer_id", flat=True)
        .distinct()
    )


def backed_tier_ids(*, campaign: Campaign, user: User | None) -> set[int | None] | None:
    """The tiers `user` backs the campaign with (None in the set for a pledge without a reward); None when they are
    not a backer at all."""
    if user is None or not user.is_authenticated:
        return None
    tiers: set[int | None] = set(
        backer_pledges(campaign=campaign).filter(backer=user).values_list("tier_id", flat=True)
    )
    return tiers or None


def reward_refunded() -> Exists:
    """Whether a pledge's reward is refunded or being refunded (funding.refunds): it is not sent then."""
    return Exists(Refund.objects.filter(pledge=OuterRef("pk"), status__in=[RefundStatus.PENDING, RefundStatus.SUCCEEDED],
                                        items__contains=[{"item": "reward"}]))  # fmt: skip


def pledges_to_ship(*, campaign: Campaign) -> QuerySet[Pledge]:
    """Captured pledges with a reward not refunded: what the makers must send, each with its own survey answer and
    fulfilment."""
    return Pledge.objects.filter(campaign=campaign, status=PledgeStatus.CAPTURED, tier__isnull=False).exclude(
        reward_refunded()
    )


def pledge_ships(pledge: Pledge) -> bool:
    """Whether the makers must send this pledge's reward (as `pledges_to_ship` counts it)."""
    return (pledge.status == PledgeStatus.CAPTURED and pledge.tier_id is not None
            and not Pledge.objects.filter(pk=pledge.pk).filter(reward_refunded()).exists())  # fmt: skip


def editor_required(*, campaign: Campaign, actor: User, doing: str) -> None:
    """Raise Forbidden unless `actor` may speak for the campaign (its owner, or its team's owners and maintainers)."""
    if not selectors.campaign_can_edit(campaign=campaign, user=actor):
        raise Forbidden(f"Only the campaign's owners and maintainers may {doing}.", code="not_editor")


def published_required(campaign: Campaign) -> None:
    if campaign.status == CampaignStatus.DRAFT:
        raise Conflict("The campaign is a draft: publish it first.", code="campaign_draft")


def campaign_editor_ids(*, campaign: Campaign) -> set[int]:
    """The people who may speak for the campaign: its owner, or its team's owners and maintainers."""
    if campaign.owner_team_id is None:
        return {campaign.owner_user_id} if campaign.owner_user_id is not None else set()
    return set(
        Membership.objects.filter(team_id=campaign.owner_team_id, role__in=selectors.EDITOR_ROLES).values_list(
            "user_id", flat=True
        )
    )
