"""JSON API of `funding`: campaigns (public reads, makers' drafts), quotes, and backers' pledges.

Handlers parse input and call one service (`funding.services`, `funding.pledges`) or selector; they never
write themselves. Reads of published campaigns are public; a draft exists only for its editors (404 for anyone
else). Every POST that creates, changes or cancels a pledge needs an `Idempotency-Key` (core.idempotency): a
reference derived from the key is the pledge's request key, so a retry after a 503 resumes the same pledge and
authorization instead of charging twice. Money is integer minor units of the campaign's currency.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import StrictInt

from crowdmaker.commons import selectors as commons_selectors
from crowdmaker.commons.models import DesignVersion
from crowdmaker.core.api import Cursor, ErrorOut, InputSchema
from crowdmaker.core.errors import Invalid, NotFound
from crowdmaker.core.idempotency import idempotency_reference, idempotent
from crowdmaker.core.markdown import markdown_html
from crowdmaker.funding import images, pledges, selectors, services
from crowdmaker.funding.countries import destination_name, shipping_order
from crowdmaker.funding.models import (
    MAX_AMOUNT,
    STORY_MAX_LENGTH,
    SUMMARY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    AddOn,
    BeneficiaryKind,
    Campaign,
    CampaignImage,
    CampaignStatus,
    Pledge,
    ShippingRate,
    Tier,
)
from crowdmaker.funding.pledges import MAX_ADDON_QUANTITY
from crowdmaker.people import selectors as people_selectors
from crowdmaker.people.auth import PUBLIC_AUTH, signed_in_user
from crowdmaker.people.auth import viewer as _viewer
from crowdmaker.people.models import User

router = Router(tags=["funding"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
PLEDGE_ERRORS = {**ERRORS, 402: ErrorOut, 503: ErrorOut}
PUBLIC_ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
MAX_DESIGNS = 20  # a bundle of more designs than this is not one campaign
MAX_SHARES = 50
MAX_TIER_ITEMS = 50
MAX_PLEDGE_ADDONS = 50


# --- schemas: campaigns --------------------------------------------------------------------------------------


class CampaignOwnerOut(Schema):
    kind: Literal["maker", "team"]
    handle: str = Field(..., description="The maker's handle or the team's slug.")
    name: str


class ProgressOut(Schema):
    pledged: int = Field(..., description="Authorized and captured pledges (money held or taken), minor units.")
    backers: int = Field(..., description="People with at least one such pledge.")
    percent: int = Field(..., description="Of the goal, rounded down (may exceed 100).")
    seconds_left: int = Field(..., description="Until the deadline while live; 0 once it is over.")


class CampaignOut(Schema):
    slug: str
    title: str
    summary: str
    status: str = Field(..., description="draft, live, succeeded, failed or cancelled.")
    owner: CampaignOwnerOut
    currency: str
    goal: int = Field(..., description="Minor units.")
    funding_model: str = Field(..., description="all-or-nothing or flexible.")
    starts_at: datetime
    deadline: datetime
    progress: ProgressOut

    @staticmethod
    def resolve_owner(campaign: Campaign) -> dict[str, str]:
        if campaign.owner_team is not None:
            kind, handle = "team", campaign.owner_team.slug
        else:
            assert campaign.owner_user is not None
            kind, handle = "maker", campaign.owner_user.handle
        return {"kind": kind, "handle": handle, "name": selectors.campaign_owner_name(campaign)}

    @staticmethod
    def resolve_progress(campaign: Campaign) -> dict[str, int]:
        """From the totals the selectors annotate (`pledged`, `backers`): no query per campaign."""
        pledged: int = campaign.pledged  # type: ignore[attr-defined]
        left = campaign.deadline - timezone.now()
        live = campaign.status == CampaignStatus.LIVE
        return {
            "pledged": pledged,
            "backers": campaign.backers,  # type: ignore[attr-defined]
            "percent": pledged * 100 // campaign.goal,
            "seconds_left": max(0, left.days * 86_400 + left.seconds) if live else 0,
        }


class FaqOut(Schema):
    question: str
    answer: str


class DesignFundedOut(Schema):
    slug: str
    title: str
    version: int


class ShareOut(Schema):
    kind: str = Field(..., description="person or team.")
    handle: str = Field(..., description="The maker's handle or the team's slug.")
    name: str
    percent: str = Field(..., description="Of the net funds, one decimal (shown; the ledger splits exactly).")


class TierItemOut(Schema):
    design: str
    title: str
    version: int
    quantity: int


class ShippingRateOut(Schema):
    region: str = Field(..., description="A region code (`world`: everywhere), or empty when `country` is set.")
    country: str = Field(..., description="ISO 3166-1 alpha-2, or empty when `region` is set; overrides its region.")
    name: str = Field(..., description="The region's or the country's name.")
    amount: int = Field(..., description="Minor units; 0: free shipping.")

    @staticmethod
    def resolve_name(rate: ShippingRate) -> str:
        return destination_name(rate)


class TierOut(Schema):
    id: int
    title: str
    description: str
    price: int = Field(..., description="Minor units.")
    unit_cost: int = Field(..., description="Declared cost of making the reward (public): the fee's basis.")
    fee: int = Field(..., description="What the platform keeps of a pledge of exactly the price.")
    limit: int | None = Field(..., description="At most this many backers; null: no limit.")
    places_left: int | None = Field(..., description="The limit minus the places held by live pledges; null: no limit.")
    available_from: datetime | None
    available_until: datetime | None
    available_now: bool = Field(..., description="Whether its window (if any) is open now.")
    delivery_month: date | None = Field(..., description="Estimated delivery (the first of the month).")
    items: list[TierItemOut]
    shipping: list[ShippingRateOut] = Field(..., description="What shipping costs where: a country's rate, else its "
                                            "region's, else `world`'s; empty: nothing is shipped.")  # fmt: skip

    @staticmethod
    def resolve_fee(tier: Tier) -> int:
        return selectors.reward_fee(price=tier.price, unit_cost=tier.unit_cost, currency=tier.campaign.currency)

    @staticmethod
    def resolve_places_left(tier: Tier) -> int | None:
        return selectors.tier_places_left(tier)

    @staticmethod
    def resolve_available_now(tier: Tier) -> bool:
        return selectors.tier_available(tier)

    @staticmethod
    def resolve_items(tier: Tier) -> list[dict[str, Any]]:
        return [
            {"design": item.design_version.design.slug, "title": item.design_version.design.title,
             "version": item.design_version.number, "quantity": item.quantity}
            for item in tier.items.all()
        ]  # fmt: skip

    @staticmethod
    def resolve_shipping(tier: Tier) -> list[ShippingRate]:
        return sorted(tier.shipping_rates.all(), key=shipping_order)  # prefetched by selectors.campaign_tiers


class AddOnOut(Schema):
    id: int
    title: str
    description: str
    price: int
    unit_cost: int
    fee: int = Field(..., description="What the platform keeps of one unit.")

    @staticmethod
    def resolve_fee(addon: AddOn) -> int:
        return selectors.reward_fee(price=addon.price, unit_cost=addon.unit_cost, currency=addon.campaign.currency)


class StretchGoalOut(Schema):
    threshold: int
    title: str
    description: str
    reached: bool = Field(..., description="Whether the pledged total has reached its threshold.")


class CampaignImageOut(Schema):
    id: int
    url: str = Field(..., description="Where the image is served (under MEDIA_URL, or the storage's own address).")
    alt: str = Field(..., description="Text for people who cannot see it.")
    content_type: str = Field(..., description="image/png, image/jpeg or image/webp, as sniffed on upload.")
    size: int = Field(..., description="Bytes.")
    position: int = Field(..., description="0: the cover, shown on the campaign's card.")

    @staticmethod
    def resolve_url(image: CampaignImage) -> str:
        return image.file.url


class CampaignDetailOut(CampaignOut):
    story: str = Field(..., description="Markdown source as written.")
    story_html: str = Field(..., description="The story rendered to sanitised HTML.")
    risks: str = Field(..., description="Risks and challenges, Markdown source.")
    risks_html: str
    faq: list[FaqOut]
    late_pledges: bool
    accepting_pledges: bool = Field(..., description="Whether a pledge made now would be taken.")
    published_at: datetime | None
    designs: list[DesignFundedOut] = Field(..., description="The design versions it funds (several: a bundle).")
    shares: list[ShareOut] = Field(..., description="Who receives the net funds, in what proportion.")
    tiers: list[TierOut]
    addons: list[AddOnOut]
    stretch_goals: list[StretchGoalOut]
    can_edit: bool = Field(..., description="Whether the caller may edit it (while it is a draft).")
    images: list[CampaignImageOut] = Field(..., description="Its pictures in order, the cover first.")

    @staticmethod
    def resolve_images(campaign: Campaign) -> list[CampaignImage]:
        return list(images.campaign_images(campaign=campaign))

    @staticmethod
    def resolve_story_html(campaign: Campaign) -> str:
        return str(markdown_html(campaign.story))

    @staticmethod
    def resolve_risks_html(campaign: Campaign) -> str:
        return str(markdown_html(campaign.risks))

    @staticmethod
    def resolve_accepting_pledges(campaign: Campaign) -> bool:
        return selectors.campaign_is_open(campaign=campaign)

    @staticmethod
    def resolve_designs(campaign: Campaign) -> list[dict[str, Any]]:
        return [{"slug": version.design.slug, "title": version.design.title, "version": version.number}
                for version in selectors.campaign_design_versions(campaign=campaign)]  # fmt: skip

    @staticmethod
    def resolve_shares(campaign: Campaign) -> list[dict[str, Any]]:
        return [{"kind": share.url_kind, "handle": share.key, "name": share.name, "percent": share.percent}
                for share in selectors.campaign_shares(campaign=campaign)]  # fmt: skip

    @staticmethod
    def resolve_tiers(campaign: Campaign) -> list[Tier]:
        return list(selectors.campaign_tiers(campaign=campaign))

    @staticmethod
    def resolve_addons(campaign: Campaign) -> list[AddOn]:
        return list(campaign.addons.order_by("position", "id"))  # each add-on knows its campaign: no query each

    @staticmethod
    def resolve_stretch_goals(campaign: Campaign) -> list[dict[str, Any]]:
        return [{"threshold": goal.amount.amount, "title": goal.label, "description": goal.description,
                 "reached": goal.reached} for goal in selectors.campaign_progress(campaign=campaign).stretch_goals]  # fmt: skip

    @staticmethod
    def resolve_can_edit(campaign: Campaign, context: Any) -> bool:
        return selectors.campaign_can_edit(campaign=campaign, user=_viewer(context["request"]))


class DesignRefIn(InputSchema):
    design: str = Field(..., min_length=1, max_length=50, description="The design's slug.")
    version: StrictInt = Field(..., ge=1, description="The number of its version.")


class FaqIn(InputSchema):
    question: str = Field(..., min_length=1, max_length=300)
    answer: str = Field(..., min_length=1, max_length=5000)


class ShareIn(InputSchema):
    kind: Literal["person", "team"]
    handle: str = Field(..., min_length=1, max_length=50, description="A maker's handle or a team's slug.")
    weight: StrictInt = Field(..., ge=1, le=1_000_000)


class CampaignIn(InputSchema):
    slug: str = Field(..., min_length=2, max_length=50, description="Lowercase letters, digits, hyphens.")
    title: str = Field(..., min_length=1, max_length=TITLE_MAX_LENGTH)
    summary: str = Field("", max_length=SUMMARY_MAX_LENGTH)
    story: str = Field("", max_length=STORY_MAX_LENGTH, description="Markdown.")
    risks: str = Field("", max_length=STORY_MAX_LENGTH, description="Risks and challenges, Markdown.")
    faq: list[FaqIn] = Field(default_factory=list, max_length=services.MAX_FAQ_ENTRIES)
    designs: list[DesignRefIn] = Field(..., min_length=1, max_length=MAX_DESIGNS,
                                       description="The design versions it funds (several: a bundle).")  # fmt: skip
    goal: StrictInt = Field(..., description="Minor units.")
    currency: str = Field(..., min_length=3, max_length=3, description="ISO 4217 code, e.g. EUR.")
    starts_at: datetime = Field(..., description="With its time zone.")
    deadline: datetime = Field(..., description="With its time zone; 24 hours to 90 days after the start.")
    funding_model: Literal["all-or-nothing", "flexible"] = "all-or-nothing"
    team: str | None = Field(None, max_length=50, description="Run it for this team (you: owner or maintainer).")
    shares: list[ShareIn] | None = Field(None, max_length=MAX_SHARES,
                                         description="Who receives the net funds; default: all to the owner.")  # fmt: skip
    late_pledges: bool = Field(False, description="Accept pledges after a successful deadline.")


class TierItemIn(DesignRefIn):
    quantity: StrictInt = Field(1, ge=1, le=10_000)


class ShippingRateIn(InputSchema):
    region: str = Field("", max_length=30, description="A region code (e.g. europe; world: everywhere), or empty.")
    country: str = Field("", max_length=2, description="ISO 3166-1 alpha-2 (e.g. DE), or empty; one of the two.")
    amount: StrictInt = Field(..., description="Minor units; 0: free shipping.")


class TierShippingIn(InputSchema):
    rates: list[ShippingRateIn] = Field(..., max_length=services.MAX_SHIPPING_RATES,
                                        description="All of the tier's rates (they replace its rates); empty: "
                                        "nothing is shipped.")  # fmt: skip


class TierIn(InputSchema):
    title: str = Field(..., min_length=1, max_length=TITLE_MAX_LENGTH)
    description: str = Field("", max_length=5000)
    price: StrictInt = Field(..., description="Minor units.")
    unit_cost: StrictInt = Field(
        0, description="Declared cost of making the reward, minor units (public; the fee's basis)."
    )
    limit: StrictInt | None = Field(None, description="At most this many backers; null: no limit.")
    items: list[TierItemIn] = Field(default_factory=list, max_length=MAX_TIER_ITEMS)
    available_from: datetime | None = None
    available_until: datetime | None = None
    delivery_month: date | None = Field(None, description="Any day of the month of the estimated delivery.")
    shipping: list[ShippingRateIn] = Field(default_factory=list, max_length=services.MAX_SHIPPING_RATES,
                                           description="What shipping costs where; empty: nothing is shipped.")  # fmt: skip


class AddOnIn(InputSchema):
    title: str = Field(..., min_length=1, max_length=TITLE_MAX_LENGTH)
    description: str = Field("", max_length=5000)
    price: StrictInt = Field(..., description="Minor units.")
    unit_cost: StrictInt = Field(0, description="Declared cost of making it, minor units.")


class StretchGoalIn(InputSchema):
    threshold: StrictInt = Field(..., description="The pledged total (minor units) that unlocks it; beyond the goal.")
    title: str = Field(..., min_length=1, max_length=TITLE_MAX_LENGTH)
    description: str = Field("", max_length=5000)


# --- schemas: pledges ----------------------------------------------------------------------------------------


class AddOnChoiceIn(InputSchema):
    id: StrictInt = Field(..., ge=1, description="The add-on's id (see the campaign's `addons`).")
    quantity: StrictInt = Field(1, ge=1, le=MAX_ADDON_QUANTITY)


class QuoteIn(InputSchema):
    tier: StrictInt | None = Field(..., description="The tier's id, or null to pledge without a reward.")
    addons: list[AddOnChoiceIn] = Field(default_factory=list, max_length=MAX_PLEDGE_ADDONS,
                                        description="On top of a tier only.")  # fmt: skip
    extra: StrictInt = Field(0, ge=0, le=MAX_AMOUNT, description="What the backer adds on top, minor units.")
    shipping_country: str = Field("", max_length=2, description="ISO 3166-1 alpha-2: where the reward ships; "
                                  "needed when the tier has shipping rates, ignored otherwise.")  # fmt: skip


class PledgeIn(QuoteIn):
    payment_method: str = Field(..., min_length=1, max_length=100,
                                description="A payment method token, e.g. the sandbox's sandbox-card-ok.")  # fmt: skip


class PledgeCreateIn(PledgeIn):
    ref: str | None = Field(
        None, min_length=1, max_length=30,
        description="The handle of the member whose share link brought you (credited on the makers' dashboard). "
        "An unknown handle is refused (422 referrer_unknown), and so is your own (422 referrer_self).",
    )  # fmt: skip


class QuoteAddOnOut(Schema):
    id: int
    title: str
    quantity: int
    price: int = Field(..., description="Of one unit, minor units.")


class QuoteOut(Schema):
    currency: str
    reward_amount: int = Field(..., description="The tier's price and the add-ons.")
    extra_amount: int
    amount: int = Field(..., description="What will be authorized on the payment method.")
    unit_cost: int = Field(..., description="Declared cost of the rewards plus the shipping: the fee's basis.")
    fee: int = Field(..., description="What the platform keeps if the pledge is settled (shown before you commit).")
    addons: list[QuoteAddOnOut]
    shipping_amount: int = Field(..., description="Shipping to `shipping_country`, in `amount` (no fee on it).")
    shipping_country: str = Field(..., description="Where the reward ships; empty: nothing to ship.")


class CampaignRefOut(Schema):
    slug: str
    title: str
    status: str
    deadline: datetime


class TierRefOut(Schema):
    id: int
    title: str


class PledgePaymentOut(Schema):
    id: int
    status: str
    fee_quoted: int
    captured_amount: int
    fee_amount: int
    refunded_amount: int
    failure_code: str
    failure_message: str


class PledgeOut(Schema):
    id: int
    status: str = Field(..., description="pending, authorized, declined, cancelled, captured, voided, dropped or "
                                          "refunded.")  # fmt: skip
    campaign: CampaignRefOut
    tier: TierRefOut | None
    addons: list[QuoteAddOnOut]
    currency: str
    reward_amount: int
    extra_amount: int
    shipping_amount: int = Field(..., description="Shipping to `shipping_country`, in `amount` (no fee on it).")
    shipping_country: str = Field(..., description="Where the reward ships; empty: nothing to ship.")
    amount: int
    unit_cost: int
    fee_quoted: int = Field(..., description="What the platform keeps if the pledge is settled, fixed when it was "
                                             "authorized.")  # fmt: skip
    late: bool
    payment: PledgePaymentOut | None
    replaces: int | None = Field(..., description="The pledge this one replaced (a change of tier or amount).")
    replaced_by: int | None = Field(..., description="The pledge that replaced this one.")
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_currency(pledge: Pledge) -> str:
        return pledge.campaign.currency

    @staticmethod
    def resolve_addons(pledge: Pledge) -> list[dict[str, Any]]:
        return [{"id": line.addon_id, "title": line.addon.title, "quantity": line.quantity, "price": line.price}
                for line in pledge.addons.all()]  # fmt: skip

    @staticmethod
    def resolve_fee_quoted(pledge: Pledge) -> int:
        return selectors.pledge_fee_quoted(pledge)

    @staticmethod
    def resolve_replaces(pledge: Pledge) -> int | None:
        return pledge.replaces_id

    @staticmethod
    def resolve_replaced_by(pledge: Pledge) -> int | None:
        live = getattr(pledge, "live_replacements", None)  # prefetched by selectors.pledges_listed
        newer = live[0] if live else (None if live is not None else selectors.pledge_replacement(pledge=pledge))
        return newer.pk if newer is not None else None


# --- helpers ------------------------------------------------------------------------------------------------


def _design_version(ref: DesignRefIn, field: str) -> DesignVersion:
    """A design version named by slug and number; a wrong reference is bad input (422), not a missing page."""
    try:
        return commons_selectors.version_of(design=commons_selectors.design_by_slug(slug=ref.design),
                                            number=ref.version)  # fmt: skip
    except NotFound as exc:
        raise Invalid(exc.message, code="design_unknown", field=field) from exc


def _share(share: ShareIn, field: str) -> tuple[str, str, int]:
    try:
        if share.kind == BeneficiaryKind.PERSON:
            beneficiary_id = people_selectors.user_by_handle(handle=share.handle).pk
        else:
            beneficiary_id = people_selectors.team_by_slug(slug=share.handle).pk
    except NotFound as exc:
        raise Invalid(exc.message, code="beneficiary_unknown", field=field) from exc
    return (share.kind, str(beneficiary_id), share.weight)


def _addon_choices(payload: QuoteIn) -> dict[int, int]:
    chosen: dict[int, int] = {}
    for position, choice in enumerate(payload.addons):
        if choice.id in chosen:
            raise Invalid("Name each add-on once, with its quantity.", field=f"addons.{position}.id")
        chosen[choice.id] = choice.quantity
    return chosen


def _shipping_rates(rates: list[ShippingRateIn]) -> list[services.ShippingRateIn]:
    return [services.ShippingRateIn(amount=r.amount, region=r.region, country=r.country) for r in rates]


def _referrer(handle: str | None) -> User | None:
    """The member a pledge's `ref` names; an unknown one is bad input (422), not a missing page."""
    if handle is None:
        return None
    try:
        return people_selectors.user_by_handle(handle=handle)
    except NotFound as exc:
        raise Invalid("No member has this handle.", code="referrer_unknown", field="ref") from exc


def _tier_choice(campaign: Campaign, payload: QuoteIn) -> Tier | None:
    return selectors.tier_of_campaign(campaign=campaign, tier_id=payload.tier) if payload.tier is not None else None


def _visible(request: HttpRequest, slug: str) -> Campaign:
    return selectors.campaign_visible(slug=slug, viewer=_viewer(request))


# --- campaigns: public reads ---------------------------------------------------------------------------------


@router.get(
    "/campaigns",
    auth=PUBLIC_AUTH,
    response={200: list[CampaignOut], **PUBLIC_ERRORS},
    summary="Published campaigns (live and finished), newest first",
)
@paginate(Cursor, ordering=("-id",))
def campaigns_list(request: HttpRequest, status: str | None = None) -> object:
    """`status` is one of live, succeeded, failed, cancelled. Drafts are never listed."""
    # Plain `str` parameters: ninja reads a paginated view's annotations in its own module.
    return selectors.campaigns_published(status=status)


@router.get(
    "/campaigns/{slug}",
    auth=PUBLIC_AUTH,
    response={200: CampaignDetailOut, **PUBLIC_ERRORS},
    summary="A campaign: terms, story, risks, FAQ, tiers with places left and fees, add-ons, stretch goals, progress",
)
def campaign_detail(request: HttpRequest, slug: str) -> Campaign:
    """A draft is shown to its editors only; to anyone else it does not exist (404)."""
    return _visible(request, slug)


# --- campaigns: makers' writes -------------------------------------------------------------------------------


@router.post("/campaigns", response={201: CampaignDetailOut, **ERRORS}, summary="Start a draft campaign")
def campaign_create(request: HttpRequest, payload: CampaignIn) -> Status:
    """The draft is visible to its editors only until it is published; add tiers, add-ons and stretch goals to it
    first. `goal` is in minor units of `currency`."""
    versions = [_design_version(ref, f"designs.{n}") for n, ref in enumerate(payload.designs)]
    team = None
    if payload.team is not None:
        try:
            team = people_selectors.team_by_slug(slug=payload.team)
        except NotFound as exc:
            raise Invalid(exc.message, code="team_unknown", field="team") from exc
    shares = None if payload.shares is None else [_share(s, f"shares.{n}") for n, s in enumerate(payload.shares)]
    campaign = services.campaign_create(
        actor=signed_in_user(request), slug=payload.slug, title=payload.title, design_versions=versions, goal=payload.goal,
        currency=payload.currency, starts_at=payload.starts_at, deadline=payload.deadline, summary=payload.summary,
        story=payload.story, risks=payload.risks, faq=[entry.model_dump() for entry in payload.faq],
        funding_model=payload.funding_model, team=team, shares=shares, late_pledges=payload.late_pledges,
    )  # fmt: skip
    return Status(201, _visible(request, campaign.slug))


@router.post("/campaigns/{slug}/tiers", response={201: TierOut, **ERRORS}, summary="Add a reward tier to a draft")
def tier_add(request: HttpRequest, slug: str, payload: TierIn) -> Status:
    """A limited tier is never oversold; its `limit` places are made now. Prices and costs are minor units."""
    campaign = _visible(request, slug)
    items = [(_design_version(item, f"items.{n}"), item.quantity) for n, item in enumerate(payload.items)]
    tier = services.tier_add(
        actor=signed_in_user(request), campaign=campaign, title=payload.title, price=payload.price,
        description=payload.description, unit_cost=payload.unit_cost, limit=payload.limit, items=items,
        available_from=payload.available_from, available_until=payload.available_until,
        delivery_month=payload.delivery_month, shipping=_shipping_rates(payload.shipping),
    )  # fmt: skip
    return Status(201, selectors.campaign_tiers(campaign=campaign).get(pk=tier.pk))


@router.put(
    "/campaigns/{slug}/tiers/{tier_id}/shipping",
    response={200: TierOut, **ERRORS},
    summary="Set a draft's tier's shipping rates (they replace its rates)",
)
def tier_shipping_set(request: HttpRequest, slug: str, tier_id: int, payload: TierShippingIn) -> Tier:
    """A country's rate overrides its region's, and `world` applies where neither does; a tier without rates ships
    nothing. Fixed once the campaign is published (409 `not_draft`)."""
    campaign = _visible(request, slug)
    tier = selectors.tier_of_campaign(campaign=campaign, tier_id=tier_id)
    services.tier_shipping_set(actor=signed_in_user(request), tier=tier, rates=_shipping_rates(payload.rates))
    return selectors.campaign_tiers(campaign=campaign).get(pk=tier.pk)


@router.post("/campaigns/{slug}/addons", response={201: AddOnOut, **ERRORS}, summary="Add an add-on to a draft")
def addon_add(request: HttpRequest, slug: str, payload: AddOnIn) -> Status:
    campaign = _visible(request, slug)
    addon = services.addon_add(actor=signed_in_user(request), campaign=campaign, title=payload.title, price=payload.price,
                               unit_cost=payload.unit_cost, description=payload.description)  # fmt: skip
    return Status(201, addon)


@router.post(
    "/campaigns/{slug}/stretch-goals", response={201: StretchGoalOut, **ERRORS}, summary="Add a stretch goal to a draft"
)
def stretch_goal_add(request: HttpRequest, slug: str, payload: StretchGoalIn) -> Status:
    campaign = _visible(request, slug)
    goal = services.stretch_goal_add(actor=signed_in_user(request), campaign=campaign, threshold=payload.threshold,
                                     title=payload.title, description=payload.description)  # fmt: skip
    return Status(201, {"threshold": goal.threshold, "title": goal.title, "description": goal.description,
                        "reached": campaign.pledged >= goal.threshold})  # type: ignore[attr-defined]  # fmt: skip


@router.post(
    "/campaigns/{slug}/publish",
    response={200: CampaignDetailOut, **ERRORS},
    summary="Publish a draft: backers may pledge from its start; its terms are fixed from now on",
)
def campaign_publish(request: HttpRequest, slug: str) -> Campaign:
    campaign = services.campaign_publish(actor=signed_in_user(request), campaign=_visible(request, slug))
    return _visible(request, campaign.slug)


# --- pledges -------------------------------------------------------------------------------------------------


@router.post(
    "/campaigns/{slug}/pledges/quote",
    response={200: QuoteOut, **ERRORS},
    summary="What a pledge would cost and what the platform would keep of it (nothing is stored)",
)
def pledge_quote(request: HttpRequest, slug: str, payload: QuoteIn) -> dict[str, Any]:
    campaign = _visible(request, slug)
    quote = pledges.pledge_quote(campaign=campaign, tier=_tier_choice(campaign, payload), addons=_addon_choices(payload),
                                 extra=payload.extra, shipping_country=payload.shipping_country)  # fmt: skip
    return {
        "currency": quote.currency, "reward_amount": quote.reward_amount, "extra_amount": quote.extra_amount,
        "amount": quote.amount, "unit_cost": quote.unit_cost, "fee": quote.fee,
        "addons": [{"id": addon.pk, "title": addon.title, "quantity": quantity, "price": addon.price}
                   for addon, quantity in quote.addons],
        "shipping_amount": quote.shipping_amount, "shipping_country": quote.shipping_country,
    }  # fmt: skip


@router.post(
    "/campaigns/{slug}/pledges",
    response={201: PledgeOut, **PLEDGE_ERRORS},
    summary="Pledge to a tier (with add-ons and an extra) or without a reward; authorized at once",
)
@idempotent
def pledge_create(request: HttpRequest, slug: str, payload: PledgeCreateIn) -> Status:
    """The amount is authorized on the payment method now and captured only if the campaign succeeds (at once for
    a flexible campaign). Ask `/pledges/quote` first for the fee. 402: the card was declined (the pledge is kept as
    declined). 409 `sold_out`: a limited tier has no place left (nothing was recorded). 503: the gateway did not
    answer; the pledge is pending, and a retry with the same Idempotency-Key resumes it."""
    campaign, tier = selectors.campaign_to_pledge(slug=slug, viewer=_viewer(request), tier_id=payload.tier)
    pledge = pledges.pledge_create(
        backer=signed_in_user(request), campaign=campaign, payment_method=payload.payment_method,
        tier=tier, addons=_addon_choices(payload), extra=payload.extra,
        request_key=idempotency_reference(request, "pledge"), shipping_country=payload.shipping_country,
        referrer=_referrer(payload.ref),
    )  # fmt: skip
    return Status(201, selectors.pledge_answer(backer=signed_in_user(request), pledge=pledge))


@router.get("/pledges", response={200: list[PledgeOut], **ERRORS}, summary="My pledges, newest first")
@paginate(Cursor, ordering=("-id",))
def pledges_list(request: HttpRequest, status: str | None = None) -> object:
    """Every pledge you made, whatever became of it; `status` narrows them (e.g. authorized)."""
    return selectors.pledges_listed(backer=signed_in_user(request), status=status)


@router.get("/pledges/{pledge_id}", response={200: PledgeOut, **ERRORS}, summary="One of my pledges")
def pledge_detail(request: HttpRequest, pledge_id: int) -> Pledge:
    return selectors.pledge_of(backer=signed_in_user(request), pledge_id=pledge_id)


@router.post(
    "/pledges/{pledge_id}/cancel",
    response={200: PledgeOut, **PLEDGE_ERRORS},
    summary="Cancel my pledge before the deadline (its authorization is released, nobody is charged)",
)
@idempotent
def pledge_cancel(request: HttpRequest, pledge_id: int) -> Pledge:
    backer = signed_in_user(request)
    pledge = pledges.pledge_cancel(backer=backer, pledge_id=pledge_id)
    return selectors.pledge_of(backer=backer, pledge_id=pledge.pk)


@router.post(
    "/pledges/{pledge_id}/change",
    response={201: PledgeOut, **PLEDGE_ERRORS},
    summary="Change my pledge's tier, add-ons or amount before the deadline",
)
@idempotent
def pledge_change(request: HttpRequest, pledge_id: int, payload: PledgeIn) -> Status:
    """A new pledge is authorized first and answered here (its `replaces` names the old one); only then is the old
    one cancelled. A sold-out tier (409) or a declined card (402) leaves the pledge you had as it was."""
    backer = signed_in_user(request)
    old = selectors.pledge_of(backer=backer, pledge_id=pledge_id)
    pledge = pledges.pledge_change(
        backer=backer, pledge_id=old.pk, payment_method=payload.payment_method,
        tier=_tier_choice(old.campaign, payload), addons=_addon_choices(payload), extra=payload.extra,
        request_key=idempotency_reference(request, "pledge-change"), shipping_country=payload.shipping_country,
    )  # fmt: skip
    return Status(201, selectors.pledge_of(backer=backer, pledge_id=pledge.pk))
