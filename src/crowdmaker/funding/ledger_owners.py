"""Campaigns as owners of ledger accounts: the money pledged to a campaign is on a public ledger under its title."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.urls import NoReverseMatch, reverse

from crowdmaker.funding.models import Campaign, CampaignStatus
from crowdmaker.ledger.owners import OwnerInfo, register_owner_kind


def _url(slug: str) -> str:
    try:
        return reverse("funding:campaign_detail", args=[slug])
    except NoReverseMatch:  # the campaign pages are not built yet
        return ""


def campaign_describe_many(owner_ids: Sequence[str]) -> dict[str, OwnerInfo]:
    pks = [int(i) for i in owner_ids if i.isascii() and i.isdigit() and len(i) < 19]
    rows = Campaign.objects.filter(pk__in=pks).exclude(status=CampaignStatus.DRAFT).values_list("pk", "title", "slug")
    return {str(pk): OwnerInfo(kind="campaign", id=str(pk), label=title, public=True, url=_url(slug))
            for pk, title, slug in rows}  # fmt: skip


def campaign_describe(owner_id: str) -> OwnerInfo | None:
    return campaign_describe_many([owner_id]).get(owner_id)


def campaign_can_see_detail(owner_id: str, user: Any) -> bool:
    """Operators see who backed a campaign by name; everyone else sees pseudonyms (a public ledger)."""
    return bool(getattr(user, "is_staff", False))


def register() -> None:
    register_owner_kind(
        kind="campaign",
        describe=campaign_describe,
        can_see_detail=campaign_can_see_detail,
        describe_many=campaign_describe_many,
        retries_declined_captures=True,  # settlement retries a declined capture on a schedule (settlement.py)
        refund_declined=_refund_declined,  # a declined refund's clawback goes back to the makers with it
    )


def _refund_declined(reference: str, reason: str) -> None:
    from crowdmaker.funding import refunds  # refunds imports the ledger's payments, which read this registry

    refunds.refund_declined(reference=reference, reason=reason)
