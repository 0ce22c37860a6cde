"""Demo campaigns: three live campaigns for demo designs, with rewards (one limited), add-ons, stretch goals and a few
pledges by demo makers paid with the sandbox's `sandbox-card-ok`.

`climate-node-run` (ada, all-or-nothing, EUR) and `lumen-panel-batch` (the Light Lab team, all-or-nothing, EUR)
hold their pledges until the deadline; `workbench-2020-batch` (Workshop Commons, flexible, SEK) captures at once,
so its public ledger has entries. The hardware rewards ship at rates by region, cheaper to the makers' own country
(the heavy workbench kit only within Europe); each has a generated placeholder cover image. Writes go only through
`funding.services`, `funding.pledges` and `funding.images`. Idempotent by natural key: a campaign by its slug, a
pledge by its backer and request key; a campaign no longer open gets no new pledges, one with an image no cover.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from crowdmaker.commons.demo import SMART_HOME, picture
from crowdmaker.commons.models import DesignVersion
from crowdmaker.core.demo import Report, register_demo
from crowdmaker.funding import images, pledges, services
from crowdmaker.funding.models import AddOn, Campaign, FundingModel, Pledge, Tier
from crowdmaker.ledger.gateways import sandbox
from crowdmaker.ledger.money import Money
from crowdmaker.people.models import Team, User


@dataclass(frozen=True)
class DemoTier:
    title: str
    price: int  # minor units
    unit_cost: int
    quantity: int = 1  # of the campaign's design
    limit: int | None = None
    description: str = ""
    delivery_months: int = 6  # after today
    shipping: tuple[tuple[str, int], ...] = ()  # (region or country code, minor units); none: nothing ships


@dataclass(frozen=True)
class DemoPledge:
    backer: str
    tier: str | None  # a tier's title, or None for no reward
    addons: dict[str, int] = field(default_factory=dict)  # add-on title -> quantity
    extra: int = 0
    ship_to: str = ""  # the country a shipped reward goes to


# A small parcel from Berlin (a postal tariff, rounded up): Germany, the rest of Europe, North America, the world.
SMALL_PARCEL_FROM_DE = (("DE", 450), ("europe", 900), ("north-america", 1_900), ("world", 2_400))
# A flat parcel with an aluminium panel, from the Netherlands.
PANEL_PARCEL_FROM_NL = (("NL", 550), ("europe", 1_200), ("world", 3_500))
# 25 kg of aluminium profile on a pallet, from Sweden (öre): the Nordics, the rest of Europe, nowhere else.
PALLET_FROM_SE = (("SE", 39_000), ("NO", 69_000), ("DK", 59_000), ("FI", 59_000), ("europe", 119_000))


@dataclass(frozen=True)
class DemoCampaign:
    slug: str
    title: str
    design: str
    actor: str
    team: str | None
    currency: str
    goal: int
    funding_model: str
    started_days_ago: int
    days_left: int
    summary: str
    story: str
    risks: str
    faq: tuple[tuple[str, str], ...]
    tiers: tuple[DemoTier, ...]
    addons: tuple[tuple[str, int, int, str], ...]  # title, price, unit cost, description
    stretch_goals: tuple[tuple[int, str, str], ...]  # threshold, title, description
    pledges: tuple[DemoPledge, ...]


CAMPAIGNS = (
    DemoCampaign(
        slug="climate-node-run",
        title="Climate Node: the first production run",
        design="climate-node",
        actor="ada",
        team=None,
        currency="EUR",
        goal=150_000,
        funding_model=FundingModel.ALL_OR_NOTHING,
        started_days_ago=9,
        days_left=21,
        summary="Five hundred assembled and tested Climate Nodes, made in a small Berlin PCB shop.",
        story="""Climate Node has been built by hand by a few dozen people since version 1. This campaign pays for a
**real production run**: panelised boards, a pick-and-place job, a test jig that checks every sensor against a
reference, and vented cases printed in PETG.

## What you get
An assembled Climate Node (version 2.1), flashed, calibrated and ready for MQTT discovery.

## Where the money goes
Every reward shows its declared unit cost: components, board and case. The platform's fee is taken only on what
is above it; the rest pays the test jig, the shop's setup and the maker's time.""",
        risks="""- **Sensor supply**: the SHT40 has had long lead times. We reserved the first 600 with our supplier.
- **Calibration**: a sensor that fails the reference test is replaced, which may delay a few rewards by weeks.""",
        faq=(
            ("Does it work without Home Assistant?", "Yes: it publishes plain JSON on MQTT, any broker will do."),
            ("Can I build my own instead?", "Of course: the design is open (CERN-OHL-W-2.0), files and BOM included."),
        ),
        tiers=(
            DemoTier(
                "Early bird",
                2_900,
                1_450,
                limit=50,
                description="One Climate Node at the early price.",
                shipping=SMALL_PARCEL_FROM_DE,
            ),
            DemoTier(
                "Climate Node",
                3_500,
                1_450,
                description="One assembled and tested Climate Node.",
                shipping=SMALL_PARCEL_FROM_DE,
            ),
            DemoTier(
                "Three-room pack",
                9_500,
                4_350,
                quantity=3,
                description="Three nodes, for a small flat.",
                shipping=SMALL_PARCEL_FROM_DE,
            ),
        ),
        addons=(
            ("Wall mount", 400, 120, "A printed bracket with two screws."),
            ("Spare vented case", 600, 200, "In another colour: white, grey or black."),
        ),
        stretch_goals=(
            (250_000, "E-ink option", "An e-ink display version for every pack at no extra cost."),
            (400_000, "CO₂ sensor edition", "A second run with a CO₂ sensor, offered to backers first."),
        ),
        pledges=(
            DemoPledge("emil", "Early bird", {"Wall mount": 1}, ship_to="DE"),
            DemoPledge("bruno", "Climate Node", ship_to="SE"),
            DemoPledge("chen", "Three-room pack", {"Spare vented case": 1}, ship_to="CA"),
            DemoPledge("dara", None, extra=1_000),
            DemoPledge("farah", "Early bird", extra=500, ship_to="NL"),
        ),
    ),
    DemoCampaign(
        slug="lumen-panel-batch",
        title="Lumen: a batch of flicker-free panels",
        design="lumen-panel",
        actor="farah",
        team="light-lab",
        currency="EUR",
        goal=200_000,
        funding_model=FundingModel.ALL_OR_NOTHING,
        started_days_ago=4,
        days_left=26,
        summary="Two hundred Lumen panels with CRI 95 LEDs and a 20 kHz driver, dimmable over MQTT.",
        story="""Light Lab has tested Lumen in a dozen homes for a year. Now we want to make a **batch of two hundred**
with a proper aluminium back plate and an opal diffuser that does not yellow.

Every panel is dimmable to 1 % without flicker and runs from any 15 W USB-C charger.""",
        risks="Aluminium prices move; the declared unit cost is our quote today, valid until the deadline.",
        faq=(("Can I mount it on the ceiling?", "Yes, with the ceiling kit add-on."),),
        tiers=(
            DemoTier(
                "Lumen panel",
                7_900,
                3_800,
                description="One Lumen panel and a USB-C cable.",
                shipping=PANEL_PARCEL_FROM_NL,
            ),
            DemoTier(
                "A pair",
                15_000,
                7_600,
                quantity=2,
                limit=100,
                description="Two panels, for a room.",
                shipping=PANEL_PARCEL_FROM_NL,
            ),
        ),
        addons=(("Ceiling kit", 1_200, 450, "Bracket, cable channel and screws."),),
        stretch_goals=((350_000, "Tunable white", "A tunable-white (2200-5000 K) version for every backer."),),
        pledges=(
            DemoPledge("emil", "A pair", {"Ceiling kit": 2}, ship_to="DE"),
            DemoPledge("ada", "Lumen panel", ship_to="GB"),
            DemoPledge("bruno", "Lumen panel", {"Ceiling kit": 1}, ship_to="SE"),
        ),
    ),
    DemoCampaign(
        slug="workbench-2020-batch",
        title="Commons workbench: cut-to-size kits",
        design="workbench-2020",
        actor="bruno",
        team="workshop-commons",
        currency="SEK",
        goal=500_000,
        funding_model=FundingModel.FLEXIBLE,
        started_days_ago=12,
        days_left=18,
        summary="Kits of cut and tapped 2020 profile for the Commons workbench, for shared workshops.",
        story="""We cut and tap the profile, bag the brackets and print the assembly guide: you bring a hex key.

Flexible funding: each kit ordered is made, whatever the total.""",
        risks="None beyond our saw: a kit may take two weeks longer in busy months.",
        faq=(),
        tiers=(DemoTier("Workbench kit", 180_000, 95_000, delivery_months=3, shipping=PALLET_FROM_SE),),
        addons=(),
        stretch_goals=(),
        pledges=(DemoPledge("emil", "Workbench kit", ship_to="DE"), DemoPledge("chen", None, extra=25_000)),
    ),
)


def _latest_version(slug: str) -> DesignVersion | None:
    return DesignVersion.objects.filter(design__slug=slug).order_by("-number").first()


def _months_ahead(months: int) -> date:
    today = timezone.now().date()
    month = today.month - 1 + months
    return date(today.year + month // 12, month % 12 + 1, 1)


def _rates(tier: DemoTier) -> list[services.ShippingRateIn]:
    """A two-letter destination is a country, a longer one a region."""
    return [
        services.ShippingRateIn(amount=amount, country=to)
        if len(to) == 2
        else services.ShippingRateIn(amount=amount, region=to)
        for to, amount in tier.shipping
    ]


def _create(spec: DemoCampaign, actor: User, team: Team | None, version: DesignVersion) -> int:
    now = timezone.now()
    campaign = services.campaign_create(
        actor=actor, slug=spec.slug, title=spec.title, design_versions=[version], goal=spec.goal,
        currency=spec.currency, starts_at=now - timedelta(days=spec.started_days_ago),
        deadline=now + timedelta(days=spec.days_left), summary=spec.summary, story=spec.story, risks=spec.risks,
        faq=[{"question": q, "answer": a} for q, a in spec.faq], funding_model=spec.funding_model, team=team,
    )  # fmt: skip
    for tier in spec.tiers:
        services.tier_add(
            actor=actor, campaign=campaign, title=tier.title, price=tier.price, unit_cost=tier.unit_cost,
            description=tier.description, limit=tier.limit, items=[(version, tier.quantity)],
            delivery_month=_months_ahead(tier.delivery_months),
            shipping=_rates(tier),
        )  # fmt: skip
    for title, price, unit_cost, description in spec.addons:
        services.addon_add(actor=actor, campaign=campaign, title=title, price=price, unit_cost=unit_cost,
                           description=description)  # fmt: skip
    for threshold, title, description in spec.stretch_goals:
        services.stretch_goal_add(actor=actor, campaign=campaign, threshold=threshold, title=title,
                                  description=description)  # fmt: skip
    services.campaign_publish(actor=actor, campaign=campaign)
    return 1 + len(spec.tiers) + len(spec.addons) + len(spec.stretch_goals)


def _pledge(spec: DemoCampaign, campaign: Campaign, wanted: DemoPledge, backer: User) -> bool:
    """Make one demo pledge unless it exists or the campaign no longer takes pledges; whether it was made."""
    key = f"demo-{spec.slug}-{wanted.backer}"
    if Pledge.objects.filter(backer=backer, request_key=key).exists():
        return False
    now = timezone.now()
    if not (campaign.starts_at <= now < campaign.deadline):
        return False
    tier = Tier.objects.get(campaign=campaign, title=wanted.tier) if wanted.tier else None
    addons = {AddOn.objects.get(campaign=campaign, title=title).pk: n for title, n in wanted.addons.items()}
    pledges.pledge_create(backer=backer, campaign=campaign, tier=tier, addons=addons, extra=wanted.extra,
                          payment_method=sandbox.CARD_OK, request_key=key, shipping_country=wanted.ship_to)  # fmt: skip
    return True


def _cover(spec: DemoCampaign, campaign: Campaign, actor: User, version: DesignVersion, report: Report) -> int:
    """A generated placeholder cover (the design's family's colours, as the demo designs' pictures), unless the
    campaign has images already or no longer takes them."""
    if campaign.images.exists() or campaign.status not in images.IMAGES_EDITABLE:
        return 0
    family = (version.design.families or [SMART_HOME])[0]
    upload = SimpleUploadedFile(f"{spec.slug}.png", picture(spec.slug, family), "image/png")
    images.campaign_image_add(actor=actor, campaign=campaign, upload=upload,
                              alt=f"{spec.title}: a generated placeholder picture")  # fmt: skip
    report(f"cover image of {spec.slug}")
    return 1


def load(report: Report) -> int:
    handles = {spec.actor for spec in CAMPAIGNS} | {p.backer for spec in CAMPAIGNS for p in spec.pledges}
    makers = {user.handle: user for user in User.objects.filter(handle__in=handles)}
    if len(makers) < len(handles):
        report(f"skipped: the demo makers {sorted(handles - set(makers))} are missing")
        return 0
    created = 0
    for spec in CAMPAIGNS:
        version = _latest_version(spec.design)
        team = Team.objects.filter(slug=spec.team).first() if spec.team else None
        if version is None or (spec.team and team is None):
            report(f"skipped campaign {spec.slug}: the design {spec.design} or the team {spec.team} is missing")
            continue
        if not Campaign.objects.filter(slug=spec.slug).exists():
            created += _create(spec, makers[spec.actor], team, version)
            report(f"campaign {spec.slug} ({spec.team or spec.actor}, {spec.funding_model}, "
                   f"goal {Money(spec.goal, spec.currency)}, {len(spec.tiers)} reward(s))")  # fmt: skip
        campaign = Campaign.objects.get(slug=spec.slug)
        created += _cover(spec, campaign, makers[spec.actor], version, report)
        made = sum(_pledge(spec, campaign, wanted, makers[wanted.backer]) for wanted in spec.pledges)
        if made:
            report(f"{made} pledge(s) to {spec.slug} with {sandbox.CARD_OK}")
        created += made
    return created


register_demo(name="funding: campaigns", order=30, load=load)
