"""Campaigns, their reward tiers, add-ons and stretch goals, and the pledges backers make, with their invariants
as constraints.

Rows are written only through `funding.services` (campaigns and tiers) and `funding.pledges` (pledges); what the
makers tell backers and ship them through `funding.updates`, `funding.surveys` and `funding.fulfilment`.
A limited tier is never oversold, whatever the concurrency, without a counter every pledge would update (a hot
row): the tier owns `limit` numbered TierSlot rows, a pledge claims a free one with SKIP LOCKED, and a unique
constraint lets a slot hold one live pledge at most. Money is integer minor units in the campaign's currency.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from crowdmaker.commons.models import DesignVersion
from crowdmaker.ledger.models import Payment
from crowdmaker.people.models import SLUG_HELP, SLUG_PATTERN, Team, User

TITLE_MAX_LENGTH = 120
SUMMARY_MAX_LENGTH = 300
STORY_MAX_LENGTH = 50_000
MAX_AMOUNT = 10**12  # minor units: ten billion euros is not a campaign, it is a typo


class FundingModel(models.TextChoices):
    ALL_OR_NOTHING = "all-or-nothing", "All or nothing"
    FLEXIBLE = "flexible", "Flexible"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Campaign(models.Model):
    slug = models.CharField(max_length=50, validators=[RegexValidator(SLUG_PATTERN, SLUG_HELP)])
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    summary = models.CharField(max_length=SUMMARY_MAX_LENGTH, blank=True)
    story = models.TextField(blank=True, help_text="Markdown.")
    risks = models.TextField(blank=True, help_text="Risks and challenges, Markdown.")
    faq = models.JSONField(default=list, blank=True, help_text='[{"question": ..., "answer": ...}]')
    owner_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns")
    owner_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    goal = models.BigIntegerField(help_text="Minor units.")
    funding_model = models.CharField(max_length=20, choices=FundingModel.choices, default=FundingModel.ALL_OR_NOTHING)
    starts_at = models.DateTimeField()
    deadline = models.DateTimeField()
    status = models.CharField(max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    late_pledges = models.BooleanField(default=False, help_text="Accept pledges after a successful deadline.")
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True, help_text="When the deadline's outcome was recorded.")
    settled_at = models.DateTimeField(null=True, blank=True, help_text="When settlement finished.")

    class Meta:
        constraints = [
            models.UniqueConstraint("slug", name="funding_campaign_slug_unique"),
            models.CheckConstraint(condition=Q(slug__regex=SLUG_PATTERN), name="funding_campaign_slug_format"),
            models.CheckConstraint(condition=~Q(title=""), name="funding_campaign_title_set"),
            models.CheckConstraint(
                condition=Q(owner_user__isnull=False, owner_team__isnull=True)
                | Q(owner_user__isnull=True, owner_team__isnull=False),
                name="funding_campaign_one_owner",
            ),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="funding_campaign_currency"),
            models.CheckConstraint(condition=Q(goal__gt=0, goal__lte=MAX_AMOUNT), name="funding_campaign_goal"),
            models.CheckConstraint(
                condition=Q(deadline__gt=F("starts_at")), name="funding_campaign_deadline_after_start"
            ),
            models.CheckConstraint(condition=Q(funding_model__in=FundingModel.values), name="funding_campaign_model"),
            models.CheckConstraint(condition=Q(status__in=CampaignStatus.values), name="funding_campaign_status"),
            models.CheckConstraint(
                condition=Q(status=CampaignStatus.DRAFT) | Q(published_at__isnull=False),
                name="funding_campaign_published_when_not_draft",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[CampaignStatus.DRAFT, CampaignStatus.LIVE, CampaignStatus.CANCELLED])
                | Q(decided_at__isnull=False),
                name="funding_campaign_decided_when_decided",
            ),
            models.CheckConstraint(
                condition=Q(settled_at__isnull=True)
                | Q(status__in=[CampaignStatus.SUCCEEDED, CampaignStatus.FAILED], decided_at__isnull=False),
                name="funding_campaign_settled_when_decided",
            ),
        ]
        indexes = [models.Index(fields=["status", "deadline"], name="funding_campaign_due")]

    def __str__(self) -> str:
        return self.title


class CampaignDesign(models.Model):
    """A design version the campaign funds into production (a bundle has several, from one or several makers)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="designs")
    design_version = models.ForeignKey(DesignVersion, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint("campaign", "design_version", name="funding_campaigndesign_once")]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.design_version_id}"


class BeneficiaryKind(models.TextChoices):
    PERSON = "person", "Person"
    TEAM = "team", "Team"


class CampaignShare(models.Model):
    """Who receives the campaign's net funds, and in what proportion (weights; split by largest remainder)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="shares")
    beneficiary_kind = models.CharField(max_length=10, choices=BeneficiaryKind.choices)
    beneficiary_id = models.CharField(max_length=64)
    weight = models.PositiveIntegerField(help_text="Relative share, e.g. 60 and 40.")

    class Meta:
        constraints = [
            models.UniqueConstraint("campaign", "beneficiary_kind", "beneficiary_id", name="funding_share_once"),
            models.CheckConstraint(condition=Q(weight__gt=0, weight__lte=1_000_000), name="funding_share_weight"),
            models.CheckConstraint(condition=Q(beneficiary_kind__in=BeneficiaryKind.values), name="funding_share_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.beneficiary_kind}:{self.beneficiary_id} x{self.weight}"


class Tier(models.Model):
    """A reward: what a backer gets for at least `price`, with its declared unit cost (the fee's basis)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="tiers")
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    description = models.TextField(blank=True)
    price = models.BigIntegerField(help_text="Minor units.")
    unit_cost = models.BigIntegerField(default=0, help_text="Declared cost of making it (public), minor units.")
    limit = models.PositiveIntegerField(null=True, blank=True, help_text="At most this many backers; empty: no limit.")
    available_from = models.DateTimeField(null=True, blank=True)
    available_until = models.DateTimeField(null=True, blank=True)
    delivery_month = models.DateField(null=True, blank=True, help_text="Estimated delivery (first of the month).")
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("position", "id")
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="funding_tier_title_set"),
            models.CheckConstraint(condition=Q(price__gt=0, price__lte=MAX_AMOUNT), name="funding_tier_price"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0, unit_cost__lte=MAX_AMOUNT), name="funding_tier_cost"),
            models.CheckConstraint(condition=Q(limit__isnull=True) | Q(limit__gt=0), name="funding_tier_limit"),
            models.CheckConstraint(
                condition=Q(available_from__isnull=True)
                | Q(available_until__isnull=True)
                | Q(available_until__gt=F("available_from")),
                name="funding_tier_window",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class TierItem(models.Model):
    """What a tier delivers: design versions and quantities."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="items")
    design_version = models.ForeignKey(DesignVersion, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint("tier", "design_version", name="funding_tieritem_once"),
            models.CheckConstraint(condition=Q(quantity__gte=1, quantity__lte=10_000), name="funding_tieritem_qty"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.design_version_id}"


class TierSlot(models.Model):
    """One of a limited tier's `limit` places. A live pledge holds one; cancelling or dropping frees it."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="slots")
    number = models.PositiveIntegerField()
    pledge = models.OneToOneField("Pledge", null=True, blank=True, on_delete=models.SET_NULL, related_name="slot")

    class Meta:
        constraints = [
            models.UniqueConstraint("tier", "number", name="funding_tierslot_number_once"),
            models.CheckConstraint(condition=Q(number__gte=1), name="funding_tierslot_number_positive"),
        ]
        indexes = [
            models.Index(fields=["tier", "number"], condition=Q(pledge__isnull=True), name="funding_tierslot_free"),
        ]

    def __str__(self) -> str:
        return f"slot {self.number} of tier {self.tier_id}"


class AddOn(models.Model):
    """Something a backer can put on top of a tier (a spare part, a second unit)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="addons")
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    description = models.TextField(blank=True)
    price = models.BigIntegerField()
    unit_cost = models.BigIntegerField(default=0)
    design_version = models.ForeignKey(DesignVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("position", "id")
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="funding_addon_title_set"),
            models.CheckConstraint(condition=Q(price__gt=0, price__lte=MAX_AMOUNT), name="funding_addon_price"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0, unit_cost__lte=MAX_AMOUNT), name="funding_addon_cost"),
        ]

    def __str__(self) -> str:
        return self.title


class StretchGoal(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="stretch_goals")
    threshold = models.BigIntegerField(help_text="Pledged total (minor units) that unlocks it.")
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ("threshold", "id")
        constraints = [
            models.UniqueConstraint("campaign", "threshold", name="funding_stretchgoal_threshold_once"),
            models.CheckConstraint(
                condition=Q(threshold__gt=0, threshold__lte=MAX_AMOUNT), name="funding_stretch_threshold"
            ),
        ]

    def __str__(self) -> str:
        return self.title


MAX_CAMPAIGN_IMAGE_BYTES = 5 * 1024 * 1024
MAX_CAMPAIGN_IMAGES = 12


class CampaignImage(models.Model):
    """A picture on a campaign's page (the first by position is its cover), stored through Django's storage API
    as design images are, and served under MEDIA_URL."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(max_length=200, db_index=True)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    alt = models.CharField(max_length=200, blank=True, help_text="Text for people who cannot see the image.")
    position = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("position", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(content_type__in=["image/png", "image/jpeg", "image/webp"]),
                name="funding_campaignimage_type_known",
            ),
            models.CheckConstraint(
                condition=Q(size__gt=0, size__lte=MAX_CAMPAIGN_IMAGE_BYTES), name="funding_campaignimage_size_limit"
            ),
        ]

    def __str__(self) -> str:
        return self.file.name or ""


class ShippingRate(models.Model):
    """What shipping a tier's reward costs to a region (a group of countries, `funding.countries.REGIONS`) or to
    one country; a country's rate overrides its region's. A tier without rates ships nothing (no address asked);
    a tier with rates ships only where one applies."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="shipping_rates")
    region = models.CharField(max_length=30, blank=True, help_text="A region code; empty when `country` is set.")
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2; empty when `region` is set.")
    amount = models.BigIntegerField(help_text="Minor units of the campaign's currency; 0: free shipping.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(region="") & Q(country__regex=r"^[A-Z]{2}$"))
                | (Q(country="") & Q(region__regex=r"^[a-z][a-z-]*$")),
                name="funding_shippingrate_region_or_country",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0, amount__lte=MAX_AMOUNT), name="funding_shippingrate_amount"
            ),
            models.UniqueConstraint("tier", "region", condition=~Q(region=""), name="funding_shippingrate_region_once"),
            models.UniqueConstraint(
                "tier", "country", condition=~Q(country=""), name="funding_shippingrate_country_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.region or self.country}: {self.amount}"


class PledgeStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # recorded, the authorization not answered yet
    AUTHORIZED = "authorized", "Authorized"  # money held on the card until the deadline
    DECLINED = "declined", "Declined"  # the card said no at pledge time
    CANCELLED = "cancelled", "Cancelled"  # by the backer before the deadline (authorization voided)
    CAPTURED = "captured", "Captured"  # the campaign succeeded and the money was taken
    VOIDED = "voided", "Voided"  # the campaign failed: nobody is charged
    DROPPED = "dropped", "Dropped"  # the capture kept failing past the grace period
    REFUNDED = "refunded", "Refunded"  # entirely refunded by the maker
    REPLACED = "replaced", "Replaced"  # the backer changed it: the pledge that `replaces` it holds instead


LIVE_PLEDGE_STATUSES = (PledgeStatus.PENDING, PledgeStatus.AUTHORIZED, PledgeStatus.CAPTURED)


class Pledge(models.Model):
    """A backer's pledge: a tier (or no reward), add-ons and an optional extra, paid through one Payment."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="pledges")
    backer = models.ForeignKey(User, on_delete=models.PROTECT, related_name="pledges")
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="pledges")
    reward_amount = models.BigIntegerField(default=0, help_text="The tier's price and the add-ons, minor units.")
    extra_amount = models.BigIntegerField(default=0, help_text="What the backer adds on top, minor units.")
    shipping_amount = models.BigIntegerField(default=0, help_text="Shipping to `shipping_country`, minor units.")
    shipping_country = models.CharField(
        max_length=2, blank=True, help_text="ISO 3166-1 alpha-2: where the reward ships (empty: nothing to ship)."
    )
    amount = models.BigIntegerField(help_text="reward_amount + extra_amount + shipping_amount: what is authorized.")
    unit_cost = models.BigIntegerField(
        default=0, help_text="Declared cost of the rewards plus the shipping (no fee on shipping): the fee's basis."
    )
    referrer = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="referred_pledges",
        help_text="The member whose share link brought the backer (first touch), if any.",
    )  # fmt: skip
    status = models.CharField(max_length=20, choices=PledgeStatus.choices, default=PledgeStatus.PENDING)
    payment = models.OneToOneField(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="pledge")
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replacements",
        help_text="The pledge this one replaces (the backer changed tier or amount); a declined attempt to change "
        "it stays on record, at most one live replacement.",
    )  # fmt: skip
    late = models.BooleanField(default=False, help_text="Made after a successful deadline (captured at once).")
    request_key = models.CharField(
        max_length=255, blank=True, help_text="The client's Idempotency-Key: a retry resumes this pledge."
    )
    capture_attempts = models.PositiveIntegerField(default=0, help_text="Declined captures at settlement so far.")
    next_capture_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When settlement tries a declined capture again; empty after a decline: it gives up (drops it).",
    )  # fmt: skip
    capture_grace_until = models.DateTimeField(
        null=True, blank=True, help_text="Set at the first declined capture: the backer has until then to fix it."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0, amount__lte=MAX_AMOUNT), name="funding_pledge_amount"),
            models.CheckConstraint(
                condition=Q(
                    reward_amount__gte=0,
                    extra_amount__gte=0,
                    shipping_amount__gte=0,
                    amount=F("reward_amount") + F("extra_amount") + F("shipping_amount"),
                ),
                name="funding_pledge_amount_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(shipping_country__regex=r"^([A-Z]{2})?$"), name="funding_pledge_shipping_country"
            ),
            models.CheckConstraint(
                condition=Q(shipping_amount=0) | ~Q(shipping_country=""), name="funding_pledge_shipping_needs_country"
            ),
            models.CheckConstraint(
                condition=Q(referrer__isnull=True) | ~Q(referrer=F("backer")), name="funding_pledge_not_self_referred"
            ),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="funding_pledge_cost"),
            models.CheckConstraint(condition=Q(status__in=PledgeStatus.values), name="funding_pledge_status"),
            models.CheckConstraint(
                condition=Q(tier__isnull=False) | Q(reward_amount=0), name="funding_pledge_reward_needs_tier"
            ),
            models.UniqueConstraint(
                "backer", "request_key", condition=~Q(request_key=""), name="funding_pledge_request_once"
            ),
            models.UniqueConstraint(
                "replaces",
                condition=Q(status__in=["pending", "authorized", "captured"]),
                name="funding_pledge_one_live_replacement",
            ),
            models.CheckConstraint(
                condition=Q(capture_attempts=0, next_capture_at__isnull=True, capture_grace_until__isnull=True)
                | Q(capture_attempts__gt=0, capture_grace_until__isnull=False),
                name="funding_pledge_capture_retries",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="funding_pledge_campaign"),
            # Settlement walks a campaign's open pledges in id order, a batch at a time (keyset pagination).
            models.Index(
                fields=["campaign", "id"],
                condition=Q(status__in=[PledgeStatus.PENDING, PledgeStatus.AUTHORIZED]),
                name="funding_pledge_open",
            ),
            models.Index(fields=["backer", "-created_at"], name="funding_pledge_backer"),
        ]

    def __str__(self) -> str:
        return f"pledge #{self.pk}"


class PledgeAddOn(models.Model):
    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="addons")
    addon = models.ForeignKey(AddOn, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    price = models.BigIntegerField(help_text="The add-on's price when pledged, minor units.")

    class Meta:
        constraints = [
            models.UniqueConstraint("pledge", "addon", name="funding_pledgeaddon_once"),
            models.CheckConstraint(condition=Q(quantity__gte=1, quantity__lte=100), name="funding_pledgeaddon_qty"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.addon_id}"


class RefundStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # posted to the ledger, the gateway not answered yet
    SUCCEEDED = "succeeded", "Refunded"
    FAILED = "failed", "Failed"  # the gateway declined it: the ledger posting is reversed; it can be retried


REFUND_REASON_MAX_LENGTH = 200
REFUND_MESSAGE_MAX_LENGTH = 5_000


class Refund(models.Model):
    """Money a campaign's editors give back on a captured pledge: all of it or some of its items (the reward, an
    add-on, the shipping, the extra), with a reason and a message to the backer, through the gateway and the
    ledger (`funding.refunds`). A failed refund stays visible and is retried as a new `attempt` with a new
    gateway reference."""

    pledge = models.ForeignKey(Pledge, on_delete=models.PROTECT, related_name="refunds")
    amount = models.BigIntegerField(help_text="Minor units of the campaign's currency.")
    items = models.JSONField(
        default=list, blank=True,
        help_text='What is refunded: [{"item": "reward"|"addon"|"shipping"|"extra", "addon": <id>, "quantity": n, '
        '"amount": minor units}]; empty for a refund of an amount.',
    )  # fmt: skip
    reason = models.CharField(max_length=REFUND_REASON_MAX_LENGTH)
    message = models.TextField(blank=True, help_text="To the backer, plain text; e-mailed with the refund.")
    status = models.CharField(max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    attempt = models.PositiveIntegerField(default=1)
    reference = models.CharField(max_length=255, help_text="The gateway reference of the current attempt.")
    failure = models.CharField(max_length=200, blank=True, help_text="Why the gateway declined the last attempt.")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0, amount__lte=MAX_AMOUNT), name="funding_refund_amount"),
            models.CheckConstraint(condition=~Q(reason=""), name="funding_refund_reason_set"),
            models.CheckConstraint(
                condition=Q(message__length__lte=REFUND_MESSAGE_MAX_LENGTH), name="funding_refund_message_length"
            ),
            models.CheckConstraint(condition=Q(status__in=RefundStatus.values), name="funding_refund_status"),
            models.CheckConstraint(condition=Q(attempt__gte=1), name="funding_refund_attempt_positive"),
            models.CheckConstraint(
                condition=Q(status=RefundStatus.SUCCEEDED, succeeded_at__isnull=False)
                | (~Q(status=RefundStatus.SUCCEEDED) & Q(succeeded_at__isnull=True)),
                name="funding_refund_succeeded_at",
            ),
            models.UniqueConstraint("reference", name="funding_refund_reference_once"),
        ]
        indexes = [models.Index(fields=["status"], condition=~Q(status="succeeded"), name="funding_refund_open")]

    def __str__(self) -> str:
        return f"refund #{self.pk} of pledge {self.pledge_id}"


# --- talking to backers, surveys and fulfilment (funding.updates, funding.surveys, funding.fulfilment) ----------

UPDATE_BODY_MAX_LENGTH = 50_000
COMMENT_MAX_LENGTH = 5_000
MESSAGE_BODY_MAX_LENGTH = 20_000
SURVEY_CHOICE_MAX_LENGTH = 100
SURVEY_TEXT_MAX_LENGTH = 200  # one line of an address


class UpdateAudience(models.TextChoices):
    PUBLIC = "public", "Everyone"
    BACKERS = "backers", "Backers only"


class Update(models.Model):
    """A maker's news of a campaign, in Markdown. Public or for backers only; `tiers` (none: every backer) say
    which backers it addresses: they are e-mailed it and, for a backers-only update, only they (and the campaign's
    editors) may read it."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="updates")
    number = models.PositiveIntegerField(help_text="1, 2, ... within the campaign: the update's address.")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    body = models.TextField(help_text="Markdown.")
    audience = models.CharField(max_length=10, choices=UpdateAudience.choices, default=UpdateAudience.PUBLIC)
    tiers = models.ManyToManyField(Tier, blank=True, related_name="+", help_text="Empty: every backer.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-number",)
        constraints = [
            models.UniqueConstraint("campaign", "number", name="funding_update_number_once"),
            models.CheckConstraint(condition=Q(number__gte=1), name="funding_update_number_positive"),
            models.CheckConstraint(condition=~Q(title=""), name="funding_update_title_set"),
            models.CheckConstraint(condition=~Q(body=""), name="funding_update_body_set"),
            models.CheckConstraint(condition=Q(audience__in=UpdateAudience.values), name="funding_update_audience"),
        ]

    def __str__(self) -> str:
        return f"update {self.number} of campaign {self.campaign_id}"


class UpdateDelivery(models.Model):
    """The e-mail of an update to one backer, recorded with the update for exactly the backers it addresses; once
    per (update, backer), `sent_at` claimed before the mail goes out, so nobody gets it twice."""

    update = models.ForeignKey(Update, on_delete=models.CASCADE, related_name="deliveries")
    backer = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint("update", "backer", name="funding_updatedelivery_once")]
        indexes = [models.Index(fields=["update"], condition=Q(sent_at__isnull=True), name="funding_update_unsent")]

    def __str__(self) -> str:
        return f"update {self.update_id} to {self.backer_id}"


class Comment(models.Model):
    """A backer's or an editor's comment on a campaign; a reply (`parent` set) is an editor's answer to one."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    hidden_at = models.DateTimeField(null=True, blank=True, help_text="Hidden by a moderator: shown to nobody else.")
    hidden_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    hidden_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(hidden_at__isnull=True, hidden_by__isnull=True, hidden_reason="")
                | Q(hidden_at__isnull=False, hidden_by__isnull=False),
                name="funding_comment_hidden_by_someone",
            ),
            models.CheckConstraint(condition=~Q(body=""), name="funding_comment_body_set"),
            models.CheckConstraint(
                condition=Q(body__length__lte=COMMENT_MAX_LENGTH), name="funding_comment_body_length"
            ),
        ]
        indexes = [models.Index(fields=["campaign", "created_at"], name="funding_comment_campaign")]

    def __str__(self) -> str:
        return f"comment #{self.pk}"


class MessageAudience(models.TextChoices):
    ALL = "all", "Every backer"
    TIER = "tier", "The backers of one reward"
    SURVEY_UNANSWERED = "survey-unanswered", "Backers who have not answered the survey"
    NOT_SENT = "not-sent", "Backers whose reward is not sent yet"


class BackerMessage(models.Model):
    """An e-mail from the campaign's editors to a filtered group of its backers (not shown on the campaign)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(max_length=TITLE_MAX_LENGTH)
    body = models.TextField()
    audience = models.CharField(max_length=20, choices=MessageAudience.choices)
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(subject=""), name="funding_message_subject_set"),
            models.CheckConstraint(condition=~Q(body=""), name="funding_message_body_set"),
            models.CheckConstraint(condition=Q(audience__in=MessageAudience.values), name="funding_message_audience"),
            models.CheckConstraint(
                condition=Q(audience=MessageAudience.TIER, tier__isnull=False)
                | (~Q(audience=MessageAudience.TIER) & Q(tier__isnull=True)),
                name="funding_message_tier_iff_tier_audience",
            ),
        ]

    def __str__(self) -> str:
        return f"message #{self.pk}"


class MessageDelivery(models.Model):
    """A message's e-mail to one backer: once per (message, backer), as `UpdateDelivery`."""

    message = models.ForeignKey(BackerMessage, on_delete=models.CASCADE, related_name="deliveries")
    backer = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint("message", "backer", name="funding_messagedelivery_once")]
        indexes = [models.Index(fields=["message"], condition=Q(sent_at__isnull=True), name="funding_message_unsent")]

    def __str__(self) -> str:
        return f"message {self.message_id} to {self.backer_id}"


class Survey(models.Model):
    """A succeeded campaign's survey: every backer with a reward gives a shipping address and chooses the options
    of their reward, until `address_lock_at`."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="survey")
    opened_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    address_lock_at = models.DateTimeField(help_text="Backers may answer and change their answer until then.")
    intro = models.TextField(blank=True, help_text="What the makers tell backers on the survey, plain text.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(address_lock_at__gt=F("opened_at")), name="funding_survey_lock_after_opening"
            )
        ]

    def __str__(self) -> str:
        return f"survey of campaign {self.campaign_id}"


class SurveyQuestion(models.Model):
    """An option of a reward the backer chooses (a colour, a plug), one of `choices`."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=TITLE_MAX_LENGTH)
    choices = ArrayField(models.CharField(max_length=SURVEY_CHOICE_MAX_LENGTH), size=20)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("position", "id")
        constraints = [
            models.CheckConstraint(condition=~Q(label=""), name="funding_surveyquestion_label_set"),
            models.CheckConstraint(condition=Q(choices__len__gte=2), name="funding_surveyquestion_two_choices"),
        ]

    def __str__(self) -> str:
        return self.label


class SurveyResponse(models.Model):
    """A captured pledge's answer to the survey: where to ship it and the options chosen. The row exists from the
    survey's opening (or the pledge's capture) so that reminders and the report find who has not answered."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    pledge = models.OneToOneField(Pledge, on_delete=models.CASCADE, related_name="survey_response")
    answered_at = models.DateTimeField(null=True, blank=True, help_text="First answer.")
    updated_at = models.DateTimeField(null=True, blank=True, help_text="Latest change of the answer.")
    ship_to = models.CharField(max_length=SURVEY_TEXT_MAX_LENGTH, blank=True, help_text="Recipient's name.")
    address_line1 = models.CharField(max_length=SURVEY_TEXT_MAX_LENGTH, blank=True)
    address_line2 = models.CharField(max_length=SURVEY_TEXT_MAX_LENGTH, blank=True)
    city = models.CharField(max_length=SURVEY_TEXT_MAX_LENGTH, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    region = models.CharField(max_length=SURVEY_TEXT_MAX_LENGTH, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2.")
    phone = models.CharField(max_length=40, blank=True, help_text="For the carrier, optional.")
    answers = models.JSONField(default=dict, blank=True, help_text='{"<question id>": "<choice>"}')
    invited_at = models.DateTimeField(null=True, blank=True, help_text="When the backer was e-mailed the survey.")
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    last_reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(country__regex=r"^([A-Z]{2})?$"), name="funding_response_country"),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True)
                | (~Q(ship_to="") & ~Q(address_line1="") & ~Q(city="") & ~Q(country="")),
                name="funding_response_answered_has_address",
            ),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True, updated_at__isnull=True)
                | Q(answered_at__isnull=False, updated_at__gte=F("answered_at")),
                name="funding_response_updated_after_answered",
            ),
        ]
        indexes = [
            models.Index(fields=["survey"], condition=Q(answered_at__isnull=True), name="funding_response_unanswered")
        ]

    def __str__(self) -> str:
        return f"survey response of pledge {self.pledge_id}"


class FulfilmentStatus(models.TextChoices):
    NOT_SENT = "not-sent", "Not sent"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"


class Fulfilment(models.Model):
    """Where a captured pledge's reward is: not sent, sent (with the carrier's tracking number, if any) or
    delivered. No row means not sent."""

    pledge = models.OneToOneField(Pledge, on_delete=models.CASCADE, related_name="fulfilment")
    status = models.CharField(max_length=10, choices=FulfilmentStatus.choices, default=FulfilmentStatus.NOT_SENT)
    carrier = models.CharField(max_length=80, blank=True)
    tracking = models.CharField(max_length=100, blank=True, help_text="The carrier's tracking number.")
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(status__in=FulfilmentStatus.values), name="funding_fulfilment_status"),
            models.CheckConstraint(
                condition=Q(status=FulfilmentStatus.NOT_SENT, sent_at__isnull=True, delivered_at__isnull=True)
                | Q(status=FulfilmentStatus.SENT, sent_at__isnull=False, delivered_at__isnull=True)
                | Q(status=FulfilmentStatus.DELIVERED, sent_at__isnull=False, delivered_at__isnull=False),
                name="funding_fulfilment_dates",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status}: pledge {self.pledge_id}"
