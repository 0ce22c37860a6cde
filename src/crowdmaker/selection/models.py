"""Open calls, their submissions, members' votes and buy-intents, with their invariants as constraints.

Rows are written only through `selection.services`. A submission keeps its vote and intent aggregates (count, sum,
value) on its own row, so ranking never scans the votes; the services change them in the same transaction as the
vote or intent with `UPDATE ... SET x = x + delta`, and the checks below keep them within what rows can add up to.
Money is integer minor units in the call's currency. Submissions are never deleted (they stay in the commons).
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from crowdmaker.commons.models import DesignVersion
from crowdmaker.funding.models import Campaign
from crowdmaker.people.models import SLUG_HELP, SLUG_PATTERN, Team, User

TITLE_MAX_LENGTH = 120
BRIEF_MAX_LENGTH = 20_000
PITCH_MAX_LENGTH = 5_000
FAMILY_MAX_LENGTH = 100  # as commons.Design.families
MAX_AMOUNT = 10**12  # minor units: a threshold or a price above this is a typo
MAX_PRIOR_WEIGHT = 10_000
MAX_TOP_N = 100
MIN_SCORE, MAX_SCORE = 1, 5
CURRENCY_PATTERN = r"^[A-Z]{3}$"


class ThresholdKind(models.TextChoices):
    INTENTS_COUNT = "intents-count", "Number of buy-intents"
    INTENTS_VALUE = "intents-value", "Total value of buy-intents"


class OpenCall(models.Model):
    """A call for designs: organized by a team, or by the platform (`organizer_team` empty)."""

    slug = models.CharField(max_length=50, validators=[RegexValidator(SLUG_PATTERN, SLUG_HELP)])
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    brief = models.TextField(blank=True, help_text="Markdown, stored raw; rendered sanitised.")
    organizer_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="open_calls",
        help_text="The organizing team; empty when the platform organizes the call.",
    )  # fmt: skip
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField(help_text="Votes, intents and entries are taken while opens_at <= now < this.")
    required_family = models.CharField(
        max_length=FAMILY_MAX_LENGTH, blank=True,
        help_text="A family (cm:family) every entry's manifest must claim; empty: any design.",
    )  # fmt: skip
    threshold_kind = models.CharField(max_length=20, choices=ThresholdKind.choices)
    threshold = models.BigIntegerField(help_text="Buy-intents, or their total value in minor units of `currency`.")
    currency = models.CharField(max_length=3, help_text="The currency buy-intents in this call are stated in.")
    prior_weight = models.PositiveIntegerField(
        default=10,
        help_text="C in the Bayesian average: how many votes of the call's mean each submission starts with.",
    )
    top_n = models.PositiveIntegerField(default=3, help_text="How many of the best ranked are promoted at the close.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("slug", name="selection_opencall_slug_unique"),
            models.CheckConstraint(condition=Q(slug__regex=SLUG_PATTERN), name="selection_opencall_slug_format"),
            models.CheckConstraint(condition=~Q(title=""), name="selection_opencall_title_set"),
            models.CheckConstraint(condition=Q(closes_at__gt=F("opens_at")), name="selection_opencall_closes_after"),
            models.CheckConstraint(
                condition=Q(threshold_kind__in=ThresholdKind.values), name="selection_opencall_threshold_kind"
            ),
            models.CheckConstraint(
                condition=Q(threshold__gt=0, threshold__lte=MAX_AMOUNT), name="selection_opencall_threshold"
            ),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_PATTERN), name="selection_opencall_currency"),
            models.CheckConstraint(
                condition=Q(prior_weight__gte=1, prior_weight__lte=MAX_PRIOR_WEIGHT),
                name="selection_opencall_prior_weight",
            ),
            models.CheckConstraint(condition=Q(top_n__lte=MAX_TOP_N), name="selection_opencall_top_n"),
        ]
        indexes = [models.Index(fields=["closes_at"], name="selection_opencall_closes")]

    def __str__(self) -> str:
        return self.title


class Submission(models.Model):
    """A design version entered into a call, with its aggregates (kept by the services, never read-modify-write)."""

    call = models.ForeignKey(OpenCall, on_delete=models.PROTECT, related_name="submissions")
    design_version = models.ForeignKey(DesignVersion, on_delete=models.PROTECT, related_name="submissions")
    entered_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    pitch = models.TextField(help_text="Markdown, stored raw; rendered sanitised.")
    created_at = models.DateTimeField(default=timezone.now)
    vote_count = models.PositiveIntegerField(default=0)
    vote_sum = models.PositiveBigIntegerField(default=0, help_text="The sum of the scores of its votes.")
    intent_count = models.PositiveIntegerField(default=0, help_text="Live (not withdrawn) buy-intents.")
    intent_value = models.BigIntegerField(default=0, help_text="The sum of their prices, minor units.")
    campaign = models.OneToOneField(
        Campaign, null=True, blank=True, on_delete=models.PROTECT, related_name="selection_submission",
        help_text="The draft campaign created when the submission was promoted (`selection.promotion`).",
    )  # fmt: skip
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("call", "design_version", name="selection_submission_once_per_call"),
            models.CheckConstraint(
                condition=Q(campaign__isnull=True, promoted_at__isnull=True)
                | Q(campaign__isnull=False, promoted_at__isnull=False),
                name="selection_submission_promoted_with_campaign",
            ),
            models.CheckConstraint(condition=~Q(pitch=""), name="selection_submission_pitch_set"),
            models.CheckConstraint(
                condition=Q(vote_count__gte=0, vote_sum__gte=F("vote_count") * MIN_SCORE)
                & Q(vote_sum__lte=F("vote_count") * MAX_SCORE),
                name="selection_submission_vote_sum_in_range",
            ),
            models.CheckConstraint(
                condition=Q(intent_count__gte=0, intent_value__gte=F("intent_count"))
                & Q(intent_value__lte=F("intent_count") * MAX_AMOUNT),
                name="selection_submission_intent_value_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.call_id}: {self.design_version_id}"


class Vote(models.Model):
    """A member's score of a submission; one per member and submission, changeable while the call is open."""

    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="votes")
    voter = models.ForeignKey(User, on_delete=models.PROTECT, related_name="selection_votes")
    score = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("submission", "voter", name="selection_vote_once"),
            models.CheckConstraint(
                condition=Q(score__gte=MIN_SCORE, score__lte=MAX_SCORE), name="selection_vote_score_range"
            ),
        ]
        indexes = [models.Index(fields=["voter", "submission"], name="selection_vote_voter")]

    def __str__(self) -> str:
        return f"{self.voter_id} scores {self.submission_id}: {self.score}"


class BuyIntent(models.Model):
    """'I would buy this at `price`' (non-binding); one live (not withdrawn) per member and submission."""

    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="intents")
    member = models.ForeignKey(User, on_delete=models.PROTECT, related_name="buy_intents")
    price = models.BigIntegerField(help_text="Minor units of `currency` (the call's).")
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "submission", "member", condition=Q(withdrawn_at__isnull=True), name="selection_buyintent_one_live"
            ),
            models.CheckConstraint(condition=Q(price__gt=0, price__lte=MAX_AMOUNT), name="selection_buyintent_price"),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_PATTERN), name="selection_buyintent_currency"),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gte=F("created_at")),
                name="selection_buyintent_withdrawn_after_created",
            ),
        ]
        indexes = [models.Index(fields=["member", "submission"], name="selection_buyintent_member")]

    def __str__(self) -> str:
        return f"{self.member_id} would buy {self.submission_id} at {self.price} {self.currency}"


class IntentInvitation(models.Model):
    """That a buy-intent's member was invited to pledge to the promoted submission's live campaign: one per intent,
    claimed (created) before the e-mail is sent, so no member is mailed twice for one intent."""

    intent = models.OneToOneField(BuyIntent, on_delete=models.PROTECT, related_name="invitation")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="+")
    invited_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"intent {self.intent_id} invited to {self.campaign_id}"
