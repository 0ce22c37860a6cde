"""Accounts, transactions and legs. Rows are created only by `ledger.services.transaction_post`.

The database holds the invariants (see sql/0001_double_entry.sql): each transaction's legs sum to zero per
currency (checked at commit), legs are non-zero and in their account's currency, transactions and legs are
append-only, and an account's cached balance is maintained from its legs and never goes below zero unless
the account allows it.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class OwnerKind(models.TextChoices):
    PLATFORM = "platform", "Platform"
    PERSON = "person", "Person"
    TEAM = "team", "Team"
    CAMPAIGN = "campaign", "Campaign"
    PROJECT = "project", "Project"
    GATEWAY = "gateway", "Payment gateway"


class Account(models.Model):
    """Money held for one owner and purpose, in one currency. Owners are (kind, id) pairs, not foreign keys."""

    owner_kind = models.CharField(max_length=20, choices=OwnerKind.choices)
    owner_id = models.CharField(max_length=64, blank=True, help_text="Empty for the platform itself.")
    purpose = models.CharField(max_length=40, help_text="e.g. campaign-escrow, platform-revenue, payouts")
    currency = models.CharField(max_length=3)
    allow_negative = models.BooleanField(
        default=False, help_text="Only accounts that mirror money outside the platform (gateways) may go negative."
    )
    balance = models.BigIntegerField(default=0, help_text="Cached sum of the legs, kept by the database.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "owner_kind", "owner_id", "purpose", "currency", name="ledger_account_one_per_owner_purpose"
            ),
            models.CheckConstraint(
                condition=models.Q(allow_negative=True) | models.Q(balance__gte=0), name="ledger_account_no_overdraft"
            ),
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="ledger_account_currency"),
            models.CheckConstraint(condition=models.Q(owner_kind__in=OwnerKind.values), name="ledger_account_owner"),
            models.CheckConstraint(
                condition=models.Q(purpose__regex=r"^[a-z][a-z0-9-]*$"), name="ledger_account_purpose_format"
            ),
        ]

    def __str__(self) -> str:
        owner = f"{self.owner_kind}:{self.owner_id}" if self.owner_id else self.owner_kind
        return f"{owner}/{self.purpose} ({self.currency})"


class Transaction(models.Model):
    """Why money moved: a kind, the object it belongs to, and the key that makes posting it idempotent."""

    kind = models.CharField(max_length=40, help_text="e.g. pledge-capture, platform-fee, refund, payout")
    memo = models.CharField(max_length=200, blank=True)
    subject_kind = models.CharField(max_length=30, blank=True, help_text="What it belongs to, e.g. campaign")
    subject_id = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True, help_text="Empty when posted without one.")
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    posted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "idempotency_key",
                condition=~models.Q(idempotency_key=""),
                name="ledger_transaction_idempotency_key_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__regex=r"^[a-z][a-z0-9-]*$"), name="ledger_transaction_kind"
            ),
            models.CheckConstraint(
                condition=~models.Q(reverses=models.F("id")), name="ledger_transaction_not_self_reversing"
            ),
        ]
        indexes = [
            models.Index(fields=["subject_kind", "subject_id"], name="ledger_txn_subject"),
            models.Index(fields=["posted_at"], name="ledger_txn_posted_at"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"


class Leg(models.Model):
    """A signed amount into one account: positive adds to its balance, negative takes from it."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="legs")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="legs")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [models.CheckConstraint(condition=~models.Q(amount=0), name="ledger_leg_nonzero")]
        indexes = [models.Index(fields=["account", "transaction"], name="ledger_leg_account_txn")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} into {self.account_id}"
