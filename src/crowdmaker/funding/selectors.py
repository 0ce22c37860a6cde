"""Reads of `funding`: campaigns with their progress, tiers with the places left, a backer's pledges, who may
edit a campaign.

Nothing here writes. Progress counts the money held or taken (authorized and captured pledges), never pending,
declined or cancelled ones. Lists are annotated in one query each, so a page costs the same whatever its length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from crowdmaker.commons.models import DesignVersion
from crowdmaker.core import sql
from crowdmaker.core.errors import Invalid, NotFound
from crowdmaker.funding.models import (
    LIVE_PLEDGE_STATUSES,
    BeneficiaryKind,
    Campaign,
    CampaignShare,
    CampaignStatus,
    Pledge,
    PledgeAddOn,
    PledgeStatus,
    SurveyResponse,
    Tier,
    TierItem,
    TierSlot,
)
from crowdmaker.ledger import payments
from crowdmaker.ledger.money import Money
from crowdmaker.people.models import SLUG_PATTERN, Membership, Role, Team, User

# Pledges that count towards a campaign's total: the money is held on the card or already taken.
COUNTED_STATUSES = (PledgeStatus.AUTHORIZED, PledgeStatus.CAPTURED)
RECENT_DAYS = 30  # ended campaigns stay on the public list this long after their deadline
EDITOR_ROLES = (Role.OWNER, Role.MAINTAINER)


def _with_totals(campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """Each campaign with `pledged` (minor units) and `backers` (distinct people), from its counted pledges.

    Both are correlated subqueries served by the pledges' (campaign, status) index: a join with a GROUP BY made
    PostgreSQL run the sum once per joined pledge, so the look-up grew with the square of a campaign's pledges
    (366 ms at 2,000 pledges, paid by every pledge and page; benchmarks/pledges.py found it)."""
    counted = Pledge.objects.filter(campaign=OuterRef("pk"), status__in=COUNTED_STATUSES).order_by().values("campaign")
    pledged = counted.annotate(total=Sum("amount")).values("total")
    backers = counted.annotate(people=Count("backer", distinct=True)).values("people")
    return campaigns.annotate(
        pledged=Coalesce(Subquery(pledged, output_field=IntegerField()), 0),
        backers=Coalesce(Subquery(backers, output_field=IntegerField()), 0),
    )


def campaigns_public(*, now: datetime | None = None) -> QuerySet[Campaign]:
    """Live campaigns (soonest deadline first), then those ended in the last RECENT_DAYS (latest first)."""
    now = now or timezone.now()
    shown = Q(status=CampaignStatus.LIVE) | Q(
        status__in=(CampaignStatus.SUCCEEDED, CampaignStatus.FAILED), deadline__gte=now - timedelta(days=RECENT_DAYS)
    )
    return _with_totals(Campaign.objects.filter(shown)).order_by("-status", "deadline", "id")


def campaigns_editable_by(*, user: User) -> QuerySet[Campaign]:
    """The campaigns `user` may edit (theirs and their teams' where they are owner or maintainer), newest first."""
    teams = Membership.objects.filter(user=user, role__in=EDITOR_ROLES).values("team_id")
    return _with_totals(Campaign.objects.filter(Q(owner_user=user) | Q(owner_team_id__in=teams))).order_by(
        "-created_at", "-id"
    )


def campaign_by_slug(*, slug: str) -> Campaign:
    campaign = (
        _with_totals(Campaign.objects.filter(slug=slug))
        .select_related("owner_user__profile", "owner_team", "created_by")
        .first()
    )
    if campaign is None:
        raise NotFound("No campaign has this address.")
    return campaign


def campaign_can_edit(*, campaign: Campaign, user: User | None) -> bool:
    """Whether `user` may change `campaign` while it is a draft and publish it (the services check again)."""
    if user is None or not user.is_authenticated:
        return False
    if campaign.owner_team_id is None:
        return campaign.owner_user_id == user.pk
    return Membership.objects.filter(team_id=campaign.owner_team_id, user=user, role__in=EDITOR_ROLES).exists()


def campaign_is_open(*, campaign: Campaign, now: datetime | None = None) -> bool:
    """Whether the campaign takes pledges now (as `pledges.pledge_create` decides)."""
    now = now or timezone.now()
    if campaign.status == CampaignStatus.LIVE:
        return campaign.starts_at <= now < campaign.deadline
    return campaign.status == CampaignStatus.SUCCEEDED and campaign.late_pledges


def campaign_owner_name(campaign: Campaign) -> str:
    if campaign.owner_team is not None:
        return campaign.owner_team.name
    assert campaign.owner_user is not None
    return campaign.owner_user.profile.display_name


def campaign_design_versions(*, campaign: Campaign) -> list[DesignVersion]:
    """The design versions the campaign funds, by design title."""
    return list(
        DesignVersion.objects.filter(pk__in=campaign.designs.values("design_version"))
        .select_related("design")
        .order_by("design__title", "number")
    )


@dataclass(frozen=True)
class Share:
    name: str
    url_kind: str  # "person" (a handle) or "team" (a slug)
    key: str
    percent: str  # of the net funds, one decimal


def campaign_shares(*, campaign: Campaign) -> list[Share]:
    """Who receives the net funds, with each beneficiary's part as a percentage (shown; the ledger splits exactly)."""
    shares = list(CampaignShare.objects.filter(campaign=campaign).order_by("id"))
    total = sum(share.weight for share in shares) or 1
    people = {
        str(u.pk): u
        for u in User.objects.select_related("profile").filter(
            pk__in=[int(s.beneficiary_id) for s in shares if s.beneficiary_kind == BeneficiaryKind.PERSON]
        )
    }
    teams = {
        str(t.pk): t
        for t in Team.objects.filter(
            pk__in=[int(s.beneficiary_id) for s in shares if s.beneficiary_kind == BeneficiaryKind.TEAM]
        )
    }
    found = []
    for share in shares:
        tenths = (share.weight * 1000 * 2 + total) // (total * 2)  # per mille, rounded half up
        percent = f"{tenths // 10}.{tenths % 10}"
        if share.beneficiary_kind == BeneficiaryKind.PERSON and share.beneficiary_id in people:
            person = people[share.beneficiary_id]
            found.append(Share(person.profile.display_name, "person", person.handle, percent))
        elif share.beneficiary_kind == BeneficiaryKind.TEAM and share.beneficiary_id in teams:
            team = teams[share.beneficiary_id]
            found.append(Share(team.name, "team", team.slug, percent))
    return found


# --- progress ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    """A point on the progress bar: the goal or a stretch goal, at `position` percent of the bar's length."""

    label: str
    amount: Money
    position: int
    reached: bool
    description: str = ""


@dataclass(frozen=True)
class Progress:
    pledged: Money
    goal: Money
    backers: int
    percent: int  # of the goal, may exceed 100
    fill: int  # percent of the bar's length (the bar reaches the last stretch goal)
    scale: Money  # the bar's length: the furthest of the goal, the stretch goals and the total pledged
    markers: list[Marker]

    @property
    def stretch_goals(self) -> list[Marker]:
        return self.markers[1:]


def _percent(part: int, whole: int) -> int:
    return part * 100 // whole if whole > 0 else 0


def campaign_progress(*, campaign: Campaign) -> Progress:
    """Pledged total, backers and the goal and stretch goals placed on a bar as long as the furthest of them.

    Uses the `pledged` and `backers` annotations when the campaign came from a selector here."""
    pledged = getattr(campaign, "pledged", None)
    backers = getattr(campaign, "backers", None)
    if pledged is None or backers is None:
        counted = Pledge.objects.filter(campaign=campaign, status__in=COUNTED_STATUSES)
        totals = counted.aggregate(total=Sum("amount"), people=Count("backer", distinct=True))
        pledged, backers = totals["total"] or 0, totals["people"]
    stretch = list(campaign.stretch_goals.order_by("threshold", "id"))
    length = max([campaign.goal, pledged, *(goal.threshold for goal in stretch)])
    currency = campaign.currency
    markers = [
        Marker("Goal", Money(campaign.goal, currency), _percent(campaign.goal, length), pledged >= campaign.goal)
    ]
    markers += [
        Marker(goal.title, Money(goal.threshold, currency), _percent(goal.threshold, length),
               pledged >= goal.threshold, goal.description)
        for goal in stretch
    ]  # fmt: skip
    return Progress(
        pledged=Money(pledged, currency),
        goal=Money(campaign.goal, currency),
        backers=backers,
        percent=_percent(pledged, campaign.goal),
        fill=min(100, _percent(pledged, length)),
        scale=Money(length, currency),
        markers=markers,
    )


# --- tiers -------------------------------------------------------------------------------------------------------


def campaign_tiers(*, campaign: Campaign) -> QuerySet[Tier]:
    """The campaign's tiers in order with `places_left` (None when unlimited), their items' designs and their
    shipping rates."""
    free = TierSlot.objects.filter(tier=OuterRef("pk"), pledge__isnull=True).order_by().values("tier")
    return (
        Tier.objects.filter(campaign=campaign)
        .select_related("campaign")
        .annotate(free_slots=Coalesce(Subquery(free.annotate(n=Count("id")).values("n")), 0))
        .prefetch_related(
            Prefetch("items", TierItem.objects.select_related("design_version__design").order_by("id")),
            "shipping_rates",
        )
        .order_by("position", "id")
    )


def tier_places_left(tier: Tier) -> int | None:
    if tier.limit is None:
        return None
    return int(getattr(tier, "free_slots", tier.limit))


def tier_available(tier: Tier, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return not (
        (tier.available_from and now < tier.available_from) or (tier.available_until and now >= tier.available_until)
    )


# --- pledges -------------------------------------------------------------------------------------------------------


def pledges_of(*, backer: User) -> QuerySet[Pledge]:
    """Every pledge of `backer` (declined and cancelled ones too), newest first."""
    return (
        Pledge.objects.filter(backer=backer)
        .select_related("campaign", "tier", "payment")
        .annotate(was_replaced=Exists(Pledge.objects.filter(replaces=OuterRef("pk"), status__in=LIVE_PLEDGE_STATUSES)))
        .order_by("-created_at", "-id")
    )


def pledge_of(*, backer: User, pledge_id: int) -> Pledge:
    """One of `backer`'s pledges with its add-ons; someone else's pledge is NotFound, as a missing one."""
    pledge = (
        Pledge.objects.filter(pk=pledge_id, backer=backer)
        .select_related("campaign", "tier", "payment", "replaces")
        .prefetch_related("addons__addon")
        .first()
    )
    if pledge is None:
        raise NotFound("You have no such pledge.")
    return pledge


def pledge_answer(*, backer: User, pledge: Pledge) -> Pledge:
    """`pledge_of` for a pledge a pledge service has just returned to `backer`: used as it is when it holds what the
    answer shows (its campaign, tier, payment, replaced pledge and add-on lines, as recorded in this request), else
    read again."""
    relations = (Pledge.campaign.field, Pledge.tier.field, Pledge.payment.field, Pledge.replaces.field)
    holds = all(getattr(pledge, field.attname) is None or field.is_cached(pledge) for field in relations)
    lines = getattr(pledge, "_prefetched_objects_cache", {}).get("addons")
    if holds and pledge.backer_id == backer.pk and lines is not None and all(map(PledgeAddOn.addon.is_cached, lines)):
        # Recorded in this request (its lines are those it was recorded with): no pledge replaced it before this
        # answer.
        pledge.live_replacements = []  # type: ignore[attr-defined]
        return pledge
    return pledge_of(backer=backer, pledge_id=pledge.pk)


def pledge_replacement(*, pledge: Pledge) -> Pledge | None:
    """The pledge that replaced `pledge` when its backer changed tier or amount, if any."""
    return Pledge.objects.filter(replaces=pledge, status__in=LIVE_PLEDGE_STATUSES).first()


def pledge_can_change(*, pledge: Pledge, now: datetime | None = None) -> bool:
    """Whether the backer may still change or cancel `pledge`: authorized, and its campaign live before the deadline."""
    now = now or timezone.now()
    campaign = pledge.campaign
    return (
        pledge.status == PledgeStatus.AUTHORIZED and campaign.status == CampaignStatus.LIVE and now < campaign.deadline
    )


def pledge_by_request(*, backer: User, request_key: str) -> Pledge | None:
    """The pledge a request made (its Idempotency-Key), with its payment, e.g. to say why a card was declined."""
    if not request_key:
        return None
    return Pledge.objects.filter(backer=backer, request_key=request_key).select_related("payment").first()


def editable_design_versions(*, user: User) -> QuerySet[DesignVersion]:
    """Versions of the designs `user` may edit (their own and their teams' as owner or maintainer): what they may
    start a campaign for."""
    teams = Membership.objects.filter(user=user, role__in=EDITOR_ROLES).values("team_id")
    return (
        DesignVersion.objects.filter(Q(design__owner_user=user) | Q(design__owner_team_id__in=teams))
        .select_related("design")
        .order_by("design__title", "design_id", "-number")
    )


# --- the JSON API's reads (funding.api) ----------------------------------------------------------------------

# What the API lists: every campaign that was published, whatever became of it (the list is paginated).
PUBLISHED_STATUSES = (CampaignStatus.LIVE, CampaignStatus.SUCCEEDED, CampaignStatus.FAILED, CampaignStatus.CANCELLED)


def campaigns_published(*, status: str | None = None) -> QuerySet[Campaign]:
    """Published campaigns (live and finished) with `pledged` and `backers`; `status` narrows them to one."""
    if status is not None and status not in PUBLISHED_STATUSES:
        raise Invalid(f"Filter by one of: {', '.join(PUBLISHED_STATUSES)}.", code="validation_error", field="status")
    shown = Campaign.objects.filter(status=status) if status else Campaign.objects.filter(status__in=PUBLISHED_STATUSES)
    return _with_totals(shown).select_related("owner_user__profile", "owner_team")


def campaign_visible(*, slug: str, viewer: User | None) -> Campaign:
    """The campaign at `slug`, with its totals; a draft exists only for its editors (NotFound for anyone else)."""
    slug = slug.lower()
    if not re.fullmatch(SLUG_PATTERN, slug):  # cannot be an address; never reaches the database
        raise NotFound("No campaign has this address.")
    campaign = campaign_by_slug(slug=slug)
    if campaign.status == CampaignStatus.DRAFT and not campaign_can_edit(campaign=campaign, user=viewer):
        raise NotFound("No campaign has this address.")
    return campaign


# What pledging reads of a campaign (pledges.pledge_create, its answer's campaign, the draft check): no story, no
# totals. Reading another field of such a campaign costs a query of its own (the API's statement count test sees it).
PLEDGING_FIELDS = ("id", "slug", "title", "status", "starts_at", "deadline", "late_pledges", "currency",
                   "funding_model", "owner_user_id", "owner_team_id")  # fmt: skip


# The tier, its campaign's pledging fields and whether the tier ships anywhere, in one statement kept as text (the
# ORM's compiling of it cost 2 ms of CPU, more than the rest of the read).
TIER_TO_PLEDGE = """
SELECT {tier}, {campaign}, EXISTS (SELECT 1 FROM funding_shippingrate r WHERE r.tier_id = t.id)
FROM funding_tier t JOIN funding_campaign c ON c.id = t.campaign_id WHERE t.id = %s AND c.slug = %s
"""
CAMPAIGN_TO_PLEDGE = "SELECT {campaign} FROM funding_campaign c WHERE c.slug = %s"


def campaign_to_pledge(*, slug: str, viewer: User | None, tier_id: int | None = None) -> tuple[Campaign, Tier | None]:
    """`campaign_visible` and `tier_of_campaign` for a pledge, in one query when the tier is the campaign's: the
    fields pledging reads, without the totals (a pledge needs no progress figures, and they cost a read of the
    campaign's pledges on every pledge of a launch surge), and the tier with its shipping rates known (not read when
    it has none). Refuses as those two do, in the same order."""
    slug = slug.lower()
    if not re.fullmatch(SLUG_PATTERN, slug):  # cannot be an address; never reaches the database
        raise NotFound("No campaign has this address.")
    campaign_columns = sql.columns(Campaign, "c", PLEDGING_FIELDS)
    tier = campaign = None
    ships = True
    with connection.cursor() as cursor:
        if tier_id is not None:
            cursor.execute(TIER_TO_PLEDGE.format(tier=sql.columns(Tier, "t"), campaign=campaign_columns),
                           [tier_id, slug])  # fmt: skip
            row = cursor.fetchone()
            if row is not None:
                tier = sql.instance(Tier, row)
                campaign = sql.instance(Campaign, row, sql.width(Tier), PLEDGING_FIELDS)
                Tier.campaign.field.set_cached_value(tier, campaign)
                ships = row[-1]
        if campaign is None:  # no tier asked, or not one of this campaign's: the campaign alone, then the refusal
            cursor.execute(CAMPAIGN_TO_PLEDGE.format(campaign=campaign_columns), [slug])
            row = cursor.fetchone()
            campaign = sql.instance(Campaign, row, 0, PLEDGING_FIELDS) if row is not None else None
    if campaign is None or (campaign.status == CampaignStatus.DRAFT and not campaign_can_edit(campaign=campaign,
                                                                                            user=viewer)):  # fmt: skip
        raise NotFound("No campaign has this address.")
    if tier_id is not None and tier is None:
        tier = tier_of_campaign(campaign=campaign, tier_id=tier_id)  # refuses it
    if tier is not None:
        if ships:
            prefetch_related_objects([tier], "shipping_rates")
        else:
            _prefetched_empty(tier, "shipping_rates")
    return campaign, tier


def _prefetched_empty(instance: Tier, relation: str) -> None:
    """Mark a relation known to be empty as prefetched, so that reading it sends no query."""
    empty = getattr(instance, relation).none()
    empty._result_cache = []
    empty._prefetch_done = True
    cache = instance.__dict__.setdefault("_prefetched_objects_cache", {})
    cache[relation] = empty


def tier_of_campaign(*, campaign: Campaign, tier_id: int) -> Tier:
    """One of the campaign's tiers; another campaign's tier, or none, is a refusal of the input `tier`."""
    tier = Tier.objects.filter(campaign=campaign, pk=tier_id).first()
    if tier is None:
        raise Invalid(f"This campaign has no tier {tier_id}.", code="tier_unknown", field="tier")
    return tier


def reward_fee(*, price: int, unit_cost: int, currency: str) -> int:
    """The platform fee on one tier or add-on at its price: the configured share of its margin over its declared
    cost (MONEY.md), shown before anyone pledges."""
    return payments.quote_fee(Money(price, currency), Money(unit_cost, currency)).amount


def pledges_listed(*, backer: User, status: str | None = None) -> QuerySet[Pledge]:
    """`pledges_of` with their add-ons and replacements loaded; `status` narrows them to one status."""
    if status is not None and status not in PledgeStatus.values:
        raise Invalid(f"Filter by one of: {', '.join(PledgeStatus.values)}.", code="validation_error", field="status")
    live = Pledge.objects.filter(status__in=LIVE_PLEDGE_STATUSES)
    pledges = pledges_of(backer=backer).prefetch_related(
        "addons__addon", Prefetch("replacements", queryset=live, to_attr="live_replacements")
    )
    return pledges.filter(status=status) if status else pledges


def pledge_fee_quoted(pledge: Pledge) -> int:
    """What the platform keeps if the pledge is settled: fixed on its payment at authorization or, before a payment
    is attached (pending), the same quote from the pledge's amounts."""
    if pledge.payment is not None:
        return pledge.payment.fee_quoted
    currency = pledge.campaign.currency
    unit_cost = Money(pledge.unit_cost, currency) if pledge.tier_id is not None else None
    return payments.quote_fee(Money(pledge.amount, currency), unit_cost).amount


def survey_response_of(*, pledge: Pledge) -> SurveyResponse | None:
    """The pledge's survey row (there is one once the survey of its succeeded campaign is open), if any."""
    return SurveyResponse.objects.filter(pledge=pledge).first()
