"""Accounts, transactions and legs. Rows are created only by `ledger.services.transaction_post`.

The database holds the invariants (see sql/0001_double_entry.sql): each transaction's legs sum to zero per
currency (checked at commit), legs are non-zero and in their account's currency, transactions and legs are
append-only, and an account's cached balance is maintained from its legs and, once a transaction's legs are
all in, never below zero unless the account allows it (checked at commit, so the order of a posting's legs
does not matter).
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

    # Both references are checked by the legs' statement trigger when a leg is inserted (sql/0010: once per
    # statement, not one foreign-key query per leg at commit); accounts and transactions are never deleted.
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="legs", db_constraint=False)
    # No index of its own: ledger_leg_account_txn (account, transaction) serves every look-up by account.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="legs", db_index=False, db_constraint=False
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [models.CheckConstraint(condition=~models.Q(amount=0), name="ledger_leg_nonzero")]
        indexes = [models.Index(fields=["account", "transaction"], name="ledger_leg_account_txn")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} into {self.account_id}"


# --- payments -------------------------------------------------------------------------------------------------


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # recorded; the gateway has not answered the authorization yet
    AUTHORIZED = "authorized", "Authorized"
    CAPTURED = "captured", "Captured"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"
    VOIDED = "voided", "Voided"
    FAILED = "failed", "Failed"


# Statuses in which nothing has been captured, and those in which something has.
UNCAPTURED_STATUSES = ["pending", "authorized", "voided", "failed"]
CAPTURED_STATUSES = ["captured", "partially_refunded", "refunded"]


class Payment(models.Model):
    """Money a person pays to an owner through the payment gateway: authorized, then captured or voided.

    Written only by `ledger.payments`. The database refuses impossible states (captured and voided, refunded
    beyond the capture) and, by trigger (sql/0002_payments.sql), status changes that go backwards.
    """

    payer_id = models.CharField(max_length=64, help_text="Owner id of the paying person (the user's id).")
    payee_kind = models.CharField(max_length=20, choices=OwnerKind.choices)
    payee_id = models.CharField(max_length=64, blank=True)
    amount = models.BigIntegerField(help_text="Authorized amount, in minor units.")
    currency = models.CharField(max_length=3)
    payment_method = models.CharField(max_length=100)
    gateway = models.CharField(max_length=40, help_text="Name of the gateway that holds the authorization.")
    reference = models.CharField(max_length=255, help_text="What the gateway knows the authorization by.")
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    authorization_id = models.CharField(max_length=100, blank=True)
    capture_id = models.CharField(max_length=100, blank=True)
    captured_amount = models.BigIntegerField(default=0)
    fee_quoted = models.BigIntegerField(
        default=0,
        help_text="Platform fee on the whole amount, fixed and shown at authorization; a capture takes it "
        "(in proportion when it takes less than the amount).",
    )
    fee_amount = models.BigIntegerField(default=0, help_text="Platform fee taken at capture.")
    refunded_amount = models.BigIntegerField(default=0)
    failure_code = models.CharField(max_length=60, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("reference", name="ledger_payment_reference_unique"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="ledger_payment_amount_positive"),
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="ledger_payment_currency"),
            models.CheckConstraint(condition=models.Q(status__in=PaymentStatus.values), name="ledger_payment_status"),
            models.CheckConstraint(
                condition=models.Q(captured_amount__gte=0, captured_amount__lte=models.F("amount")),
                name="ledger_payment_captured_within_authorized",
            ),
            models.CheckConstraint(
                condition=models.Q(fee_quoted__gte=0, fee_quoted__lte=models.F("amount")),
                name="ledger_payment_fee_quoted_within_amount",
            ),
            models.CheckConstraint(
                condition=models.Q(fee_amount__gte=0, fee_amount__lte=models.F("captured_amount"))
                & models.Q(fee_amount__lte=models.F("fee_quoted")),
                name="ledger_payment_fee_within_captured",
            ),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__gte=0, refunded_amount__lte=models.F("captured_amount")),
                name="ledger_payment_refunded_within_captured",
            ),
            # Never both captured and voided: an uncaptured status has nothing captured or refunded ...
            models.CheckConstraint(
                condition=~models.Q(status__in=UNCAPTURED_STATUSES)
                | models.Q(captured_amount=0, refunded_amount=0, capture_id=""),
                name="ledger_payment_uncaptured_holds_nothing",
            ),
            # ... and a captured one has a capture.
            models.CheckConstraint(
                condition=~models.Q(status__in=CAPTURED_STATUSES)
                | (models.Q(captured_amount__gt=0) & ~models.Q(capture_id="")),
                name="ledger_payment_captured_has_capture",
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=["authorized", *CAPTURED_STATUSES]) | ~models.Q(authorization_id=""),
                name="ledger_payment_authorized_has_authorization",
            ),
            models.CheckConstraint(
                condition=(~models.Q(status="captured") | models.Q(refunded_amount=0))
                & (
                    ~models.Q(status="partially_refunded")
                    | models.Q(refunded_amount__gt=0, refunded_amount__lt=models.F("captured_amount"))
                )
                & (~models.Q(status="refunded") | models.Q(refunded_amount=models.F("captured_amount"))),
                name="ledger_payment_refund_status",
            ),
        ]
        indexes = [
            models.Index(fields=["payer_id", "id"], name="ledger_payment_payer"),
            models.Index(fields=["payee_kind", "payee_id"], name="ledger_payment_payee"),
        ]

    def __str__(self) -> str:
        return f"payment #{self.pk} {self.amount} {self.currency} ({self.status})"


class PaymentOperationKind(models.TextChoices):
    AUTHORIZE = "authorize", "Authorize"
    CAPTURE = "capture", "Capture"
    VOID = "void", "Void"
    REFUND = "refund", "Refund"


class OperationStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # recorded, the gateway call may or may not have happened: resume it
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class PaymentOperation(models.Model):
    """One gateway call for a payment, recorded before it is made and finished after it returns.

    At most one operation per payment is pending at a time; a pending one is resumed with the same
    reference, so the gateway never does it twice.
    """

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="operations")
    kind = models.CharField(max_length=20, choices=PaymentOperationKind.choices)
    amount = models.BigIntegerField()
    reference = models.CharField(max_length=255)
    status = models.CharField(max_length=20, choices=OperationStatus.choices, default=OperationStatus.PENDING)
    gateway_id = models.CharField(max_length=100, blank=True, help_text="The gateway's id of what it did.")
    failure_code = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("reference", name="ledger_payment_operation_reference_unique"),
            models.UniqueConstraint(
                "payment", condition=models.Q(status="pending"), name="ledger_payment_one_pending_operation"
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="ledger_payment_operation_amount"),
            models.CheckConstraint(
                condition=models.Q(kind__in=PaymentOperationKind.values), name="ledger_payment_operation_kind"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=OperationStatus.values), name="ledger_payment_operation_status"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of payment #{self.payment_id} ({self.status})"


class PayoutStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # money reserved in the ledger; the gateway has not confirmed it
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"  # the gateway refused; the reservation was reversed


class Payout(models.Model):
    """Money leaving the platform from one owner's account to a destination outside (a bank account)."""

    owner_kind = models.CharField(max_length=20, choices=OwnerKind.choices)
    owner_id = models.CharField(max_length=64, blank=True)
    purpose = models.CharField(max_length=40, help_text="The owner's account the money comes from.")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    destination = models.CharField(max_length=200)
    gateway = models.CharField(max_length=40)
    reference = models.CharField(max_length=255)
    status = models.CharField(max_length=20, choices=PayoutStatus.choices, default=PayoutStatus.PENDING)
    gateway_id = models.CharField(max_length=100, blank=True)
    failure_code = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("reference", name="ledger_payout_reference_unique"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="ledger_payout_amount_positive"),
            models.CheckConstraint(condition=models.Q(status__in=PayoutStatus.values), name="ledger_payout_status"),
            models.CheckConstraint(
                condition=~models.Q(status="paid") | ~models.Q(gateway_id=""), name="ledger_payout_paid_has_id"
            ),
        ]

    def __str__(self) -> str:
        return f"payout #{self.pk} {self.amount} {self.currency} ({self.status})"


# --- the sandbox gateway's own side ---------------------------------------------------------------------------


class SandboxCharge(models.Model):
    """An authorization as the sandbox gateway remembers it, shared by every process of the platform."""

    reference = models.CharField(max_length=255, unique=True)
    payment_method = models.CharField(max_length=100)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, help_text="unreachable, declined, authorized, captured or voided")
    decline_reason = models.CharField(max_length=60, blank=True)
    attempts = models.PositiveIntegerField(default=1, help_text="Calls of authorize() with this reference.")
    captured_amount = models.BigIntegerField(default=0)
    refunded_amount = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"sandbox charge {self.reference} ({self.status})"


class SandboxOperation(models.Model):
    """A capture, void, refund or payout done by the sandbox gateway, found again by its reference."""

    kind = models.CharField(max_length=20)
    reference = models.CharField(max_length=255, unique=True)
    charge = models.ForeignKey(SandboxCharge, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    destination = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"sandbox {self.kind} {self.reference}"
