"""Fulfilment: where each reward is (not sent, sent with the carrier's tracking number, delivered) and the totals
per tier and per shipping country that the makers plan and check shipping with.

Owns the Fulfilment rows; only a campaign's editors change them, only for pledges with a reward to ship
(`backers.pledges_to_ship`). A pledge without a row is not sent. Never touches money or the pledges themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from crowdmaker.core.errors import Invalid, NotFound
from crowdmaker.core.text import clean_text
from crowdmaker.funding.backers import editor_required, pledges_to_ship
from crowdmaker.funding.countries import COUNTRY_NAMES
from crowdmaker.funding.models import Campaign, Fulfilment, FulfilmentStatus, Pledge
from crowdmaker.ledger.money import Money
from crowdmaker.people.models import User

CARRIER_MAX_LENGTH = 80
TRACKING_MAX_LENGTH = 100


@transaction.atomic
def fulfilment_set(
    *,
    actor: User,
    campaign: Campaign,
    pledge_id: int,
    status: str,
    carrier: str = "",
    tracking: str = "",
    now: datetime | None = None,
) -> Fulfilment:
    """Record where the reward of pledge `pledge_id` is. Sent keeps the first sending date (and delivered the first
    delivery date) when set again; going back to an earlier status clears the later dates. Raises Forbidden for
    anyone but the campaign's editors, NotFound for a pledge with nothing to ship, Invalid for a bad status or a
    tracking number on a reward not sent; nothing changes then."""
    now = now or timezone.now()
    editor_required(campaign=campaign, actor=actor, doing="record what was sent")
    if status not in FulfilmentStatus.values:
        raise Invalid("The status is not sent, sent or delivered.", field="status")
    carrier = clean_text(carrier, field="carrier", max_length=CARRIER_MAX_LENGTH)
    tracking = clean_text(tracking, field="tracking", max_length=TRACKING_MAX_LENGTH)
    if status == FulfilmentStatus.NOT_SENT and (carrier or tracking):
        raise Invalid("A reward that is not sent has no carrier or tracking number yet.", field="tracking")
    pledge = pledges_to_ship(campaign=campaign).select_for_update().filter(pk=pledge_id).first()
    if pledge is None:
        raise NotFound("This campaign has no reward to send for that pledge.", field="pledge")
    fulfilment = Fulfilment.objects.select_for_update().filter(pledge=pledge).first()
    if fulfilment is None:
        fulfilment = Fulfilment(pledge=pledge)
    fulfilment.status = status
    fulfilment.carrier, fulfilment.tracking = carrier, tracking
    if status == FulfilmentStatus.NOT_SENT:
        fulfilment.sent_at = fulfilment.delivered_at = None
    else:
        fulfilment.sent_at = fulfilment.sent_at or now
        fulfilment.delivered_at = (fulfilment.delivered_at or now) if status == FulfilmentStatus.DELIVERED else None
    fulfilment.updated_by = actor
    fulfilment.updated_at = now
    fulfilment.save()
    return fulfilment


def fulfilment_status(pledge: Pledge) -> str:
    """The pledge's fulfilment status (not sent without a row); load `fulfilment` with select_related."""
    fulfilment = getattr(pledge, "fulfilment", None)
    return fulfilment.status if fulfilment is not None else FulfilmentStatus.NOT_SENT


# --- totals -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TotalRow:
    """One tier's or one country's rewards: how many, for how much, and where they are."""

    key: str  # the tier's id or the country code ("" for no address yet)
    label: str
    pledges: int
    amount: Money
    shipping: Money  # of `amount`, what the backers paid for shipping
    not_sent: int
    sent: int
    delivered: int


@dataclass(frozen=True)
class FulfilmentTotals:
    by_tier: list[TotalRow]
    by_country: list[TotalRow]
    overall: TotalRow


def _counts() -> dict[str, Count | Coalesce]:
    status = "fulfilment__status"
    return {
        "pledges": Count("pk"),
        "amount": Coalesce(Sum("amount"), 0),
        "shipping": Coalesce(Sum("shipping_amount"), 0),
        # No fulfilment row is "not sent".
        "not_sent": Count("pk", filter=Q(fulfilment__isnull=True) | Q(**{status: FulfilmentStatus.NOT_SENT})),
        "sent": Count("pk", filter=Q(**{status: FulfilmentStatus.SENT})),
        "delivered": Count("pk", filter=Q(**{status: FulfilmentStatus.DELIVERED})),
    }


def _row(key: str, label: str, values: Mapping[str, Any], currency: str) -> TotalRow:
    return TotalRow(key, label, values["pledges"], Money(values["amount"], currency),
                    Money(values["shipping"], currency), values["not_sent"], values["sent"],
                    values["delivered"])  # fmt: skip


def fulfilment_totals(*, campaign: Campaign) -> FulfilmentTotals:
    """The rewards to ship counted per tier (in the tiers' order), per shipping country (by the survey's answer,
    most rewards first; "No address yet" for the unanswered) and overall. Three queries, whatever the size."""
    currency = campaign.currency
    shipping = pledges_to_ship(campaign=campaign).order_by()
    by_tier = [
        _row(str(values["tier_id"]), values["tier__title"], values, currency)
        for values in shipping.values("tier_id", "tier__title", "tier__position")
        .annotate(**_counts())
        .order_by("tier__position", "tier_id")
    ]
    countries = (
        shipping.annotate(country=Coalesce("survey_response__country", Value("")))
        .values("country")
        .annotate(**_counts())
    )
    by_country = sorted(
        (
            _row(values["country"], COUNTRY_NAMES.get(values["country"], "No address yet"), values, currency)
            for values in countries
        ),
        key=lambda row: (row.key == "", -row.pledges, row.label),
    )
    overall = _row("", "All rewards", shipping.aggregate(**_counts()), currency)
    return FulfilmentTotals(by_tier=by_tier, by_country=by_country, overall=overall)
