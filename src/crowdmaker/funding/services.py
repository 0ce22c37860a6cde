"""Writes of campaigns: create a draft, add tiers, add-ons and stretch goals, publish it.

Each service is atomic, keyword-only and raises a `core.errors.DomainError` for a refusal, having changed
nothing. A campaign is edited while it is a draft; publishing freezes its terms (goal, currency, deadline,
funding model, tiers' prices, declared costs and shipping rates), which backers pledge against. Pledges are
`funding.pledges`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from crowdmaker.commons.models import DesignVersion
from crowdmaker.core.errors import Conflict, Forbidden, Invalid, NotFound
from crowdmaker.core.text import clean_text
from crowdmaker.funding.countries import COUNTRY_NAMES, REGIONS, shipping_order
from crowdmaker.funding.models import (
    MAX_AMOUNT,
    STORY_MAX_LENGTH,
    SUMMARY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    AddOn,
    BeneficiaryKind,
    Campaign,
    CampaignDesign,
    CampaignShare,
    CampaignStatus,
    FundingModel,
    ShippingRate,
    StretchGoal,
    Tier,
    TierItem,
    TierSlot,
)
from crowdmaker.ledger.money import CURRENCIES
from crowdmaker.people.models import SLUG_HELP, SLUG_PATTERN, Membership, Role, Team, User

EDITOR_ROLES = frozenset({Role.OWNER, Role.MAINTAINER})
MAX_CAMPAIGN_DAYS = 90  # Kickstarter's limit; long campaigns lose their backers' attention
MIN_CAMPAIGN_HOURS = 24
MAX_TIER_LIMIT = 1_000_000
MAX_FAQ_ENTRIES = 50
MAX_SHIPPING_RATES = len(REGIONS) + len(COUNTRY_NAMES)  # every region and every country once: no more can differ


@dataclass(frozen=True)
class ShippingRateIn:
    """What shipping a tier's reward costs to a region (`funding.countries.REGIONS`, `world` for everywhere) or to
    one country (ISO 3166-1 alpha-2, overrides its region's rate): exactly one of the two."""

    amount: int
    region: str = ""
    country: str = ""


def _amount(value: object, *, field: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("An amount is a whole number of minor units (cents).", field=field)
    low = 0 if allow_zero else 1
    if not low <= value <= MAX_AMOUNT:
        raise Invalid(f"The amount must be from {low} to {MAX_AMOUNT:,} minor units.", field=field)
    return value


def _check_editor(campaign: Campaign, actor: User) -> None:
    if campaign.owner_team_id is not None:
        role = (
            Membership.objects.filter(team_id=campaign.owner_team_id, user=actor).values_list("role", flat=True).first()
        )
        if role not in EDITOR_ROLES:
            raise Forbidden("Only the team's owners and maintainers may change its campaigns.", code="role_required")
    elif campaign.owner_user_id != actor.pk:
        raise Forbidden("Only the campaign's owner may do that.", code="not_owner")


def _locked_draft(campaign: Campaign, actor: User) -> Campaign:
    locked = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
    if locked is None:
        raise NotFound("No campaign has this address.")
    _check_editor(locked, actor)
    if locked.status != CampaignStatus.DRAFT:
        raise Conflict("A published campaign's terms are fixed; backers pledged against them.", code="not_draft")
    return locked


def _clean_faq(faq: Any) -> list[dict[str, str]]:
    if not isinstance(faq, list) or len(faq) > MAX_FAQ_ENTRIES:
        raise Invalid(f"The FAQ is a list of at most {MAX_FAQ_ENTRIES} questions and answers.", field="faq")
    cleaned = []
    for position, entry in enumerate(faq):
        if not isinstance(entry, dict) or set(entry) != {"question", "answer"}:
            raise Invalid("Each FAQ entry has a question and an answer.", field=f"faq.{position}")
        cleaned.append({
            "question": clean_text(str(entry["question"]), field=f"faq.{position}.question", max_length=300,
                                   required=True),
            "answer": clean_text(str(entry["answer"]), field=f"faq.{position}.answer", max_length=5000,
                                 required=True, multiline=True),
        })  # fmt: skip
    return cleaned


def _clean_dates(starts_at: datetime, deadline: datetime) -> None:
    for name, value in (("starts_at", starts_at), ("deadline", deadline)):
        if not isinstance(value, datetime) or timezone.is_naive(value):
            raise Invalid("Give a date and time with its time zone.", field=name)
    length = deadline - starts_at
    if length < timedelta(hours=MIN_CAMPAIGN_HOURS):
        raise Invalid(f"A campaign runs at least {MIN_CAMPAIGN_HOURS} hours.", field="deadline")
    if length > timedelta(days=MAX_CAMPAIGN_DAYS):
        raise Invalid(f"A campaign runs at most {MAX_CAMPAIGN_DAYS} days.", field="deadline")


def _clean_shipping(rates: Sequence[ShippingRateIn]) -> list[ShippingRateIn]:
    """Known regions and countries, each once, with an amount from 0 (free shipping) to MAX_AMOUNT."""
    if len(rates) > MAX_SHIPPING_RATES:
        raise Invalid(f"At most {MAX_SHIPPING_RATES} shipping rates: one per region and country.", field="shipping")
    cleaned, seen = [], set()
    for position, rate in enumerate(rates):
        field = f"shipping.{position}"
        region, country = rate.region.strip().lower(), rate.country.strip().upper()
        if bool(region) == bool(country):
            raise Invalid("A shipping rate is for a region or for a country, one of the two.", field=field)
        if region and region not in REGIONS:
            raise Invalid(f"“{region}” is not a region; choose one of: {', '.join(REGIONS)}.",
                          code="region_unknown", field=f"{field}.region")  # fmt: skip
        if country and country not in COUNTRY_NAMES:
            raise Invalid(f"“{country}” is not a country code (ISO 3166-1 alpha-2, e.g. DE).",
                          code="country_unknown", field=f"{field}.country")  # fmt: skip
        amount = _amount(rate.amount, field=f"{field}.amount", allow_zero=True)
        destination = region or country
        if destination in seen:
            name = REGIONS[region].name if region else COUNTRY_NAMES[country]
            raise Invalid(f"{name} has two shipping rates; give it one.", code="shipping_duplicate", field=field)
        seen.add(destination)
        cleaned.append(ShippingRateIn(amount=amount, region=region, country=country))
    return cleaned


def _clean_shares(shares: Sequence[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    if not shares:
        raise Invalid("Say who receives the funds.", field="shares")
    seen = set()
    for position, (kind, beneficiary_id, weight) in enumerate(shares):
        if kind not in BeneficiaryKind.values:
            raise Invalid("A share goes to a person or a team.", field=f"shares.{position}.kind")
        exists = (User if kind == BeneficiaryKind.PERSON else Team).objects.filter(pk=beneficiary_id).exists()
        if not str(beneficiary_id).isdigit() or not exists:
            raise Invalid(f"There is no {kind} {beneficiary_id}.", field=f"shares.{position}.id")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 1_000_000:
            raise Invalid("A share's weight is a whole number from 1 to 1,000,000.", field=f"shares.{position}.weight")
        if (kind, str(beneficiary_id)) in seen:
            raise Invalid("Each beneficiary once, please.", field=f"shares.{position}")
        seen.add((kind, str(beneficiary_id)))
    return [(kind, str(beneficiary_id), weight) for kind, beneficiary_id, weight in shares]


@transaction.atomic
def campaign_create(
    *,
    actor: User,
    slug: str,
    title: str,
    design_versions: Iterable[DesignVersion],
    goal: int,
    currency: str,
    starts_at: datetime,
    deadline: datetime,
    summary: str = "",
    story: str = "",
    risks: str = "",
    faq: Any = (),
    funding_model: str = FundingModel.ALL_OR_NOTHING,
    team: Team | None = None,
    shares: Sequence[tuple[str, str, int]] | None = None,
    late_pledges: bool = False,
) -> Campaign:
    """A draft campaign funding `design_versions` (a bundle when several), owned by `actor` or by `team`.

    `shares` (kind, id, weight) say who receives the net funds; by default all of it goes to the owner."""
    slug = slug.strip().lower()
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise Invalid(SLUG_HELP, field="slug")
    title = clean_text(title, field="title", max_length=TITLE_MAX_LENGTH, required=True)
    summary = clean_text(summary, field="summary", max_length=SUMMARY_MAX_LENGTH)
    story = clean_text(story, field="story", max_length=STORY_MAX_LENGTH, multiline=True)
    risks = clean_text(risks, field="risks", max_length=STORY_MAX_LENGTH, multiline=True)
    clean_faq = _clean_faq(list(faq))
    goal = _amount(goal, field="goal")
    if currency not in CURRENCIES:
        raise Invalid("Choose a currency the platform handles (an ISO 4217 code such as EUR).", field="currency")
    if funding_model not in FundingModel.values:
        raise Invalid("The funding model is all-or-nothing or flexible.", field="funding_model")
    _clean_dates(starts_at, deadline)
    versions = list(design_versions)
    if not versions:
        raise Invalid("A campaign funds at least one design version.", field="design_versions")
    if team is not None:
        role = Membership.objects.filter(team=team, user=actor).values_list("role", flat=True).first()
        if role not in EDITOR_ROLES:
            raise Forbidden("Only the team's owners and maintainers may start its campaigns.", code="role_required")
    owner_share = [(BeneficiaryKind.TEAM, str(team.pk), 1)] if team else [(BeneficiaryKind.PERSON, str(actor.pk), 1)]
    clean_shares = _clean_shares(list(shares) if shares is not None else owner_share)
    if Campaign.objects.filter(slug=slug).exists():
        raise Conflict("A campaign with this address exists already.", code="slug_taken", field="slug")
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(
                slug=slug, title=title, summary=summary, story=story, risks=risks, faq=clean_faq,
                owner_team=team, owner_user=None if team else actor, created_by=actor, currency=currency, goal=goal,
                funding_model=funding_model, starts_at=starts_at, deadline=deadline, late_pledges=late_pledges,
            )  # fmt: skip
    except IntegrityError as exc:
        raise Conflict("A campaign with this address exists already.", code="slug_taken", field="slug") from exc
    CampaignDesign.objects.bulk_create(CampaignDesign(campaign=campaign, design_version=v) for v in set(versions))
    CampaignShare.objects.bulk_create(
        CampaignShare(campaign=campaign, beneficiary_kind=kind, beneficiary_id=beneficiary_id, weight=weight)
        for kind, beneficiary_id, weight in clean_shares
    )
    return campaign


@transaction.atomic
def tier_add(
    *,
    actor: User,
    campaign: Campaign,
    title: str,
    price: int,
    description: str = "",
    unit_cost: int = 0,
    limit: int | None = None,
    items: Sequence[tuple[DesignVersion, int]] = (),
    available_from: datetime | None = None,
    available_until: datetime | None = None,
    delivery_month: date | None = None,
    shipping: Sequence[ShippingRateIn] = (),
) -> Tier:
    """A reward tier of a draft campaign; a limited tier gets its `limit` numbered slots now. `shipping`: what
    shipping costs where (none: the reward is not shipped, e.g. a download or a pick-up)."""
    locked = _locked_draft(campaign, actor)
    title = clean_text(title, field="title", max_length=TITLE_MAX_LENGTH, required=True)
    description = clean_text(description, field="description", max_length=5000, multiline=True)
    price = _amount(price, field="price")
    unit_cost = _amount(unit_cost, field="unit_cost", allow_zero=True)
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_TIER_LIMIT
    ):
        raise Invalid(f"A limit is a whole number from 1 to {MAX_TIER_LIMIT:,}, or none.", field="limit")
    if available_from and available_until and available_until <= available_from:
        raise Invalid("The tier must be available for some time.", field="available_until")
    if delivery_month is not None:
        delivery_month = delivery_month.replace(day=1)
    rates = _clean_shipping(list(shipping))
    position = Tier.objects.filter(campaign=locked).count()
    tier = Tier.objects.create(
        campaign=locked, title=title, description=description, price=price, unit_cost=unit_cost, limit=limit,
        available_from=available_from, available_until=available_until, delivery_month=delivery_month,
        position=position,
    )  # fmt: skip
    for position, (version, quantity) in enumerate(items):
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 10_000:
            raise Invalid("A quantity is a whole number from 1 to 10,000.", field=f"items.{position}.quantity")
        TierItem.objects.create(tier=tier, design_version=version, quantity=quantity)
    if limit:
        TierSlot.objects.bulk_create((TierSlot(tier=tier, number=n) for n in range(1, limit + 1)), batch_size=5000)
    ShippingRate.objects.bulk_create(
        ShippingRate(tier=tier, region=rate.region, country=rate.country, amount=rate.amount) for rate in rates
    )
    return tier


@transaction.atomic
def tier_shipping_set(*, actor: User, tier: Tier, rates: Sequence[ShippingRateIn]) -> list[ShippingRate]:
    """Replace the shipping rates of a draft campaign's tier with `rates` (none: the reward is not shipped). Like
    the tier's price, they are fixed once the campaign is published. Returns the rates, in display order."""
    locked = _locked_draft(tier.campaign, actor)
    if not Tier.objects.filter(pk=tier.pk, campaign=locked).exists():
        raise NotFound("This campaign has no such tier.", field="tier")
    cleaned = _clean_shipping(list(rates))
    ShippingRate.objects.filter(tier_id=tier.pk).delete()
    created = ShippingRate.objects.bulk_create(
        ShippingRate(tier_id=tier.pk, region=rate.region, country=rate.country, amount=rate.amount) for rate in cleaned
    )
    return sorted(created, key=shipping_order)


@transaction.atomic
def addon_add(*, actor: User, campaign: Campaign, title: str, price: int, unit_cost: int = 0,
              description: str = "") -> AddOn:  # fmt: skip
    locked = _locked_draft(campaign, actor)
    return AddOn.objects.create(
        campaign=locked,
        title=clean_text(title, field="title", max_length=TITLE_MAX_LENGTH, required=True),
        description=clean_text(description, field="description", max_length=5000, multiline=True),
        price=_amount(price, field="price"),
        unit_cost=_amount(unit_cost, field="unit_cost", allow_zero=True),
        position=AddOn.objects.filter(campaign=locked).count(),
    )


@transaction.atomic
def stretch_goal_add(
    *, actor: User, campaign: Campaign, threshold: int, title: str, description: str = ""
) -> StretchGoal:
    locked = _locked_draft(campaign, actor)
    threshold = _amount(threshold, field="threshold")
    if threshold <= locked.goal:
        raise Invalid("A stretch goal lies beyond the goal.", field="threshold")
    if StretchGoal.objects.filter(campaign=locked, threshold=threshold).exists():
        raise Conflict("There is a stretch goal at this amount already.", code="threshold_taken", field="threshold")
    return StretchGoal.objects.create(
        campaign=locked, threshold=threshold,
        title=clean_text(title, field="title", max_length=TITLE_MAX_LENGTH, required=True),
        description=clean_text(description, field="description", max_length=5000, multiline=True),
    )  # fmt: skip


@transaction.atomic
def campaign_publish(*, actor: User, campaign: Campaign) -> Campaign:
    """Open the campaign to backers from its start; its terms are fixed from now on."""
    locked = _locked_draft(campaign, actor)
    now = timezone.now()
    if locked.deadline <= now + timedelta(hours=MIN_CAMPAIGN_HOURS):
        raise Invalid("The deadline is too close to publish; move it later.", field="deadline")
    locked.status = CampaignStatus.LIVE
    locked.published_at = now
    locked.save(update_fields=["status", "published_at"])
    return locked
