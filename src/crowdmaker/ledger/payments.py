"""Payments and payouts through the payment gateway, and their postings in the ledger.

Saleor's rule: the gateway is never called inside a database transaction. Each step records its intent in one
short locked transaction (a pending PaymentOperation or Payout, with the reference the gateway will see), calls
the gateway outside it, and finishes in another. A pending step is resumed with the same reference and every
posting carries an idempotency key, so retrying a GatewayUnavailable or rerunning after a crash never charges,
refunds or pays anyone twice. A decline is recorded (committed) first, then raised as PaymentDeclined. A step
nobody retries is finished by `payments_resume_stale` (the periodic job ledger.payments_resume_stale).

Settlement captures and voids thousands of payments at a time: `payments_capture_many` and `payments_void_many` take
the same steps once per batch (one transaction, one gateway call, one transaction), with the same rows and keys.

The platform fee is fixed when the payment is authorized (Payment.fee_quoted, shown before the payer commits)
and a capture takes that figure. Each posting names the payer: the money passes through the payer's own
`payments` account (netting to zero within the posting), so public ledgers show who paid, pseudonymously unless
they chose to be shown.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from crowdmaker.core import sql
from crowdmaker.core.errors import Conflict, DomainError, Invalid
from crowdmaker.ledger import owners
from crowdmaker.ledger.columns import columns_execute
from crowdmaker.ledger.gateways import (
    Capture,
    CaptureRequest,
    Declined,
    GatewayUnavailable,
    PaymentGateway,
    Void,
    VoidRequest,
    payment_gateway,
)
from crowdmaker.ledger.models import (
    CAPTURED_STATUSES,
    Account,
    Leg,
    OperationStatus,
    Payment,
    PaymentOperation,
    PaymentOperationKind,
    PaymentStatus,
    Payout,
    PayoutStatus,
    Transaction,
)
from crowdmaker.ledger.money import Money, MoneyError, allocate, check_currency, fee_rate, platform_fee
from crowdmaker.ledger.services import (
    AccountKey,
    Posting,
    account_open,
    accounts_open_many,
    transaction_post,
    transaction_reverse,
    transactions_post_many,
)

logger = logging.getLogger(__name__)

# How often one service call tries a gateway that does not answer, at once, before it gives up with 503; the
# step stays pending and the next call (the client's retry with the same Idempotency-Key) resumes it.
GATEWAY_ATTEMPTS = 3

CLEARING = "gateway-clearing"  # the gateway's side: money that came in from cards (goes negative)
PAYOUTS = "payouts"  # the gateway's side: money that left the platform to bank accounts
RECEIVED = "received"  # the payee's: money paid to it
REVENUE = "platform-revenue"
# The payer's: money they paid (or got back) passes through it within one posting, so it stays at zero; it is
# there so the payer is a party to the posting and public ledgers can name them.
PAYER_PAYMENTS = "payments"

# A step (authorization, capture, void, refund, payout) still pending this long after it was recorded is taken
# to be abandoned by its caller (the client gave up retrying, the process died) and is resumed by
# `payments_resume_stale`. Long enough that a request still retrying a slow gateway is not raced.
STALE_AFTER = timedelta(minutes=10)

# Owners that money may be paid to through the API; the platform and the gateways are not payees.
PAYEE_KINDS = ("person", "team", "campaign", "project")

T = TypeVar("T")


class PaymentDeclined(DomainError):
    """The gateway said no (HTTP 402); the payment or payout records it."""

    status = 402
    code = "payment_declined"


class GatewayDown(DomainError):
    """The gateway did not answer after GATEWAY_ATTEMPTS tries (HTTP 503); retry later with the same key."""

    status = 503
    code = "gateway_unavailable"


def _call(step: Callable[[], T]) -> T:
    for attempt in range(1, GATEWAY_ATTEMPTS + 1):
        try:
            return step()
        except GatewayUnavailable as exc:
            logger.warning("payment gateway unavailable (attempt %s of %s): %s", attempt, GATEWAY_ATTEMPTS, exc)
            if attempt == GATEWAY_ATTEMPTS:
                raise GatewayDown(
                    "The payment gateway is not answering; nothing was charged twice. Retry with the same "
                    "Idempotency-Key."
                ) from exc
    raise AssertionError("unreachable")


def _gateway_for(payment_or_payout: Payment | Payout, gateway: PaymentGateway | None) -> PaymentGateway:
    gateway = gateway or payment_gateway()
    if gateway.name != payment_or_payout.gateway:
        raise Conflict(
            f"This was made through the {payment_or_payout.gateway} gateway, not {gateway.name}.",
            code="gateway_mismatch",
        )
    return gateway


def _locked(payment_id: int) -> Payment:
    return Payment.objects.select_for_update().get(pk=payment_id)


def _save(payment: Payment, *fields: str) -> None:
    payment.updated_at = timezone.now()
    payment.save(update_fields=[*fields, "updated_at"])


def _finish_operation(operation: PaymentOperation, *, status: str, gateway_id: str = "", failure: str = "") -> None:
    operation.status = status
    operation.gateway_id = gateway_id
    operation.failure_code = failure
    operation.finished_at = timezone.now()
    operation.save(update_fields=["status", "gateway_id", "failure_code", "finished_at"])


def _declined(payment: Payment, exc: Declined, what: str) -> PaymentDeclined:
    return PaymentDeclined(f"Payment #{payment.pk}: the {what} was declined ({exc.reason}).", code=f"{what}_declined")


def _record_decline(
    payment: Payment,
    operation: PaymentOperation,
    exc: Declined,
    *,
    outcome: str | None,
    failure_code: str | None = None,
    undo: Callable[[Payment, PaymentOperation], None] | None = None,
) -> Payment:
    """Commit a decline once: the operation failed, the payment takes `outcome` (None: keeps its status), and
    `undo` reverses what was posted for the step. A rerun finds the operation finished and changes nothing."""
    with transaction.atomic():
        payment = _locked(payment.pk)
        operation = PaymentOperation.objects.select_for_update().get(pk=operation.pk)
        if operation.status != OperationStatus.PENDING:
            return payment
        if undo is not None:
            undo(payment, operation)
        if outcome is not None:
            payment.status = outcome
            payment.failure_code = (failure_code or exc.reason)[:60]
            payment.failure_message = exc.message[:300]
            _save(payment, "status", "failure_code", "failure_message")
        _finish_operation(operation, status=OperationStatus.FAILED, failure=exc.reason[:60])
    return payment


def quote_fee(amount: Money, unit_cost: Money | None = None) -> Money:
    """The platform fee on the margin of `amount` over the declared `unit_cost` (all of it when none is declared),
    at the configured rate (the system check ledger.E001 vets the setting)."""
    try:
        rate = fee_rate(settings.CROWDMAKER_PLATFORM_FEE_RATE)
    except MoneyError as exc:
        raise ImproperlyConfigured(f"CROWDMAKER_PLATFORM_FEE_RATE: {exc}") from exc
    return platform_fee(amount, unit_cost, rate)


# --- authorize ------------------------------------------------------------------------------------------------


def payment_authorize(
    *,
    payer_id: str,
    payee_kind: str,
    payee_id: str,
    amount: Money,
    payment_method: str,
    reference: str | None = None,
    gateway: PaymentGateway | None = None,
    unit_cost: Money | None = None,
) -> Payment:
    """Record a payment and hold `amount` on the payment method. The same reference resumes the same payment.

    `unit_cost` is the publicly declared cost of what is paid for (a tier's rewards): the platform fee is taken on
    the margin above it (MONEY.md), fixed now and shown before the payer commits.

    The steps are `payment_authorize_start` (its own transaction) and `payment_authorize_finish`; a caller with
    rows of its own to record with the payment calls them itself."""
    started = payment_authorize_start(payer_id=payer_id, payee_kind=payee_kind, payee_id=payee_id, amount=amount,
                                      payment_method=payment_method, reference=reference, gateway=gateway,
                                      unit_cost=unit_cost)  # fmt: skip
    return payment_authorize_finish(started=started)


@dataclass(frozen=True)
class AuthorizationStarted:
    """A payment `payment_authorize_start` recorded (or found), for `payment_authorize_finish` to ask the gateway."""

    payment: Payment
    operation: PaymentOperation | None  # None: the payment's authorization is settled, nothing is left to ask
    amount: Money
    payment_method: str
    gateway: PaymentGateway


def payment_authorize_start(
    *,
    payer_id: str,
    payee_kind: str,
    payee_id: str,
    amount: Money,
    payment_method: str,
    reference: str | None = None,
    gateway: PaymentGateway | None = None,
    unit_cost: Money | None = None,
    payee_known: bool = False,
) -> AuthorizationStarted:
    """Step 1 of `payment_authorize`: check the terms and record the payment and its pending authorize operation,
    or, for a reference already used, find them (the same terms resume the payment, other terms are refused with
    `reference_reused`). Never calls the gateway. It runs in the caller's transaction when there is one, so that a
    caller's own rows (a pledge and its place) and the payment are recorded together or not at all, and a crash
    after the commit leaves a payment that `payment_authorize` with the same reference resumes.

    `payee_known`: the caller's transaction already depends on the payee's row (a pledge refers to its campaign by
    a foreign key), so the payee is not looked up again."""
    gateway = gateway or payment_gateway()
    if not isinstance(amount, Money) or amount.amount <= 0:
        raise Invalid("A payment moves more than zero.", field="amount")
    if payee_kind not in PAYEE_KINDS or (not payee_known and owners.owner_describe(payee_kind, payee_id) is None):
        raise Invalid(f"There is no payee {payee_kind}:{payee_id}.", code="payee_not_found", field="payee")
    if not payment_method or len(payment_method) > 100:
        raise Invalid("A payment method is 1 to 100 characters.", field="payment_method")
    reference = reference or f"payment-{uuid.uuid4().hex}"
    if unit_cost is not None and (not isinstance(unit_cost, Money) or unit_cost.currency != amount.currency
                                  or unit_cost.amount < 0):  # fmt: skip
        raise Invalid("A declared unit cost is an amount of 0 or more in the payment's currency.", field="unit_cost")
    fee = quote_fee(amount, unit_cost)  # before anything is written or charged: a bad rate refuses the payment
    terms = {
        "payer_id": payer_id,
        "payee_kind": payee_kind,
        "payee_id": payee_id,
        "amount": amount.amount,
        "currency": amount.currency,
        "payment_method": payment_method,
        "gateway": gateway.name,
    }
    # No savepoint inside a caller's transaction: the refusal below is raised once the block is left, so that it
    # does not spoil a transaction whose caller handles it.
    with transaction.atomic(savepoint=False):
        # One INSERT ... ON CONFLICT DO NOTHING each (core.sql), where get_or_create sends a SELECT, a SAVEPOINT,
        # the INSERT and a RELEASE.
        payment = Payment(reference=reference, fee_quoted=fee.amount, **terms)
        if sql.insert(payment, unless_conflict_on="reference"):
            operation = PaymentOperation(
                payment=payment, kind=PaymentOperationKind.AUTHORIZE, reference=reference, amount=amount.amount
            )
            sql.insert(operation)
            return AuthorizationStarted(payment, operation, amount, payment_method, gateway)
        # The reference is taken. The fee is not among the terms compared on resume: the payment keeps the fee it
        # was quoted.
        payment = Payment.objects.select_for_update().get(reference=reference)
        reused = any(getattr(payment, name) != value for name, value in terms.items())
        pending: PaymentOperation | None = None
        if not reused and payment.status == PaymentStatus.PENDING:
            pending, _ = PaymentOperation.objects.get_or_create(
                reference=reference,
                defaults={"payment": payment, "kind": PaymentOperationKind.AUTHORIZE, "amount": amount.amount},
            )
    if reused:
        raise Invalid("This reference belongs to a different payment.", code="reference_reused")
    return AuthorizationStarted(payment, pending, amount, payment_method, gateway)


def payment_authorize_finish(
    *, started: AuthorizationStarted, on_authorized: Callable[[Payment], None] | None = None
) -> Payment:
    """Steps 2 and 3 of `payment_authorize`, outside any transaction: ask the gateway to hold the money of the
    started payment, then record its answer. A decline is committed first, then raised as PaymentDeclined.
    `on_authorized(payment)` runs in the transaction that records the authorization, when this call is the one
    that records it, so that what a caller writes about it stands or falls with the payment's own record."""
    payment, operation, gateway = started.payment, started.operation, started.gateway
    if operation is None:
        return _finished_authorization(payment)
    try:
        authorization = _call(lambda: gateway.authorize(started.amount, started.payment_method, operation.reference))
    except Declined as exc:
        return _finished_authorization(_record_decline(payment, operation, exc, outcome=PaymentStatus.FAILED))

    with transaction.atomic():
        # A conditional UPDATE (what a row lock and a check of the status did): of concurrent resumes of one
        # reference, only the first records the authorization.
        now = timezone.now()
        if not sql.update(Payment, payment.pk, where={"status": PaymentStatus.PENDING}, status=PaymentStatus.AUTHORIZED,
                          authorization_id=authorization.id, updated_at=now):  # fmt: skip
            return Payment.objects.get(pk=payment.pk)
        payment.status, payment.authorization_id, payment.updated_at = PaymentStatus.AUTHORIZED, authorization.id, now
        sql.update(PaymentOperation, operation.pk, status=OperationStatus.SUCCEEDED, gateway_id=authorization.id,
                   failure_code="", finished_at=now)  # fmt: skip
        operation.status, operation.gateway_id, operation.failure_code, operation.finished_at = (
            OperationStatus.SUCCEEDED, authorization.id, "", now
        )  # fmt: skip
        if on_authorized is not None:
            on_authorized(payment)
    return payment


def _finished_authorization(payment: Payment) -> Payment:
    """The payment once its authorization is settled; a declined authorization is raised as PaymentDeclined."""
    if payment.status == PaymentStatus.FAILED and not payment.authorization_id:
        raise PaymentDeclined(
            f"Payment #{payment.pk} was declined ({payment.failure_code}).", code=payment.failure_code or "declined"
        )
    return payment


# --- capture and void -----------------------------------------------------------------------------------------


def _begin(payment: Payment, *, kind: str, reference: str, amount: int) -> PaymentOperation:
    """Inside the locked transaction: the pending operation to (re)do, refusing when another is in progress."""
    pending = payment.operations.filter(status=OperationStatus.PENDING).first()
    if pending is not None:
        if pending.reference != reference:
            raise Conflict(f"Payment #{payment.pk} is busy with a {pending.kind}; retry shortly.", code="payment_busy")
        return pending
    return PaymentOperation.objects.create(payment=payment, kind=kind, reference=reference, amount=amount)


def payment_capture(
    *,
    payment: Payment,
    amount: Money | None = None,
    gateway: PaymentGateway | None = None,
    void_on_decline: bool = True,
) -> Payment:
    """Take the authorized money (or less) and post it: gateway clearing -> payer -> payee, then the platform fee
    quoted at authorization (in proportion when less is taken).

    When the gateway declines the capture, PaymentDeclined is raised and nothing is posted; the authorization is
    voided, unless `void_on_decline` is False: then the payment stays authorized for a later attempt (a
    campaign's settlement retries on a schedule while the backer fixes their card), which gets a reference of
    its own. Capturing a captured payment returns it unchanged; resuming a pending capture takes the amount it
    was started with, and asking for another amount is refused (Invalid, capture_amount_mismatch).
    """
    gateway = _gateway_for(payment, gateway)
    with transaction.atomic():
        payment = _locked(payment.pk)
        if payment.status in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED):
            return payment
        if payment.status != PaymentStatus.AUTHORIZED:
            raise Conflict(f"Payment #{payment.pk} is {payment.status}; only an authorized one can be captured.",
                           code="payment_not_authorized")  # fmt: skip
        take = amount if amount is not None else Money(payment.amount, payment.currency)
        if take.currency != payment.currency or not 0 < take.amount <= payment.amount:
            raise Invalid(f"A capture takes more than zero and at most {Money(payment.amount, payment.currency)}.",
                          code="capture_amount_invalid", field="amount")  # fmt: skip
        operation = _begin(payment, kind=PaymentOperationKind.CAPTURE, reference=_capture_reference(payment),
                           amount=take.amount)  # fmt: skip
    if operation.kind != PaymentOperationKind.CAPTURE:
        raise Conflict(f"Payment #{payment.pk} is busy with a {operation.kind}.", code="payment_busy")
    if amount is not None and amount.amount != operation.amount:
        raise Invalid(
            f"A capture of {Money(operation.amount, payment.currency)} is in progress for payment #{payment.pk}; "
            "it is resumed as started, not for another amount.",
            code="capture_amount_mismatch",
            field="amount",
        )
    take = Money(operation.amount, payment.currency)

    try:
        capture = _call(lambda: gateway.capture(payment.authorization_id, take, reference=operation.reference))
    except Declined as exc:
        if not void_on_decline:
            payment = _record_decline(payment, operation, exc, outcome=None)
            raise _declined(payment, exc, "capture") from exc
        # The money cannot be taken: release the hold on the card rather than leave it until it expires.
        try:
            _call(lambda: gateway.void(payment.authorization_id, reference=f"{payment.reference}:void"))
            outcome = PaymentStatus.VOIDED
        except Declined:
            outcome = PaymentStatus.FAILED
        payment = _record_decline(payment, operation, exc, outcome=outcome)
        raise _declined(payment, exc, "capture") from exc

    with transaction.atomic():
        payment = _locked(payment.pk)
        if payment.status == PaymentStatus.AUTHORIZED:
            fee = _fee_taken(payment, take)
            _post_capture(payment, take, fee, gateway)
            payment.status = PaymentStatus.CAPTURED
            payment.captured_amount = take.amount
            payment.fee_amount = fee.amount
            payment.capture_id = capture.id
            _save(payment, "status", "captured_amount", "fee_amount", "capture_id")
            _finish_operation(operation, status=OperationStatus.SUCCEEDED, gateway_id=capture.id)
    return payment


def _capture_reference(payment: Payment) -> str:
    """The reference of the next capture attempt: `<payment>:capture` for the first, then `:capture:2`, ... after
    declined ones, so each attempt is a request of its own at the gateway and a pending one resumes as itself."""
    declined = payment.operations.filter(kind=PaymentOperationKind.CAPTURE, status=OperationStatus.FAILED).count()
    return _nth_capture_reference(payment.reference, declined)


def _nth_capture_reference(payment_reference: str, declined: int) -> str:
    return f"{payment_reference}:capture" if declined == 0 else f"{payment_reference}:capture:{declined + 1}"


def _fee_taken(payment: Payment, take: Money) -> Money:
    """The quoted fee, or its share for a capture of less than the authorized amount (largest remainder)."""
    return _fee_share(Money(payment.fee_quoted, payment.currency), payment.amount, take)


def _fee_share(quoted: Money, authorized: int, take: Money) -> Money:
    if take.amount == authorized or not quoted:
        return quoted
    return allocate(quoted, [take.amount, authorized - take.amount])[0]


@dataclass(frozen=True)
class _Accounts:
    clearing: Account  # the gateway's
    payer: Account  # the payer's pass-through
    received: Account  # the payee's
    revenue: Account  # the platform's


def _accounts(payment: Payment, gateway_name: str) -> _Accounts:
    currency = payment.currency
    return _Accounts(
        clearing=account_open(
            owner_kind="gateway", owner_id=gateway_name, purpose=CLEARING, currency=currency, allow_negative=True
        ),
        payer=account_open(owner_kind="person", owner_id=payment.payer_id, purpose=PAYER_PAYMENTS, currency=currency),
        received=account_open(
            owner_kind=payment.payee_kind, owner_id=payment.payee_id, purpose=RECEIVED, currency=currency
        ),
        revenue=account_open(owner_kind="platform", purpose=REVENUE, currency=currency),
    )


def _capture_postings(payment_id: int, take: Money, fee: Money, accounts: _Accounts) -> list[Posting]:
    """What a capture posts (payment_capture one by one, payments_capture_many for a batch): the capture, and the
    platform fee when there is one, each keyed by the payment."""
    clearing, payer, received, revenue = accounts.clearing, accounts.payer, accounts.received, accounts.revenue
    subject = ("payment", str(payment_id))
    out = -take  # one Money for the two legs that take the amount out of an account
    postings = [
        Posting(
            kind="payment-capture",
            # The payer's account takes the money in and passes it on within the posting: it nets to zero (the
            # overdraft check judges the net effect at commit) and makes the payer a party of the payment.
            legs=[(clearing, out), (payer, take), (payer, out), (received, take)],
            memo=f"Payment #{payment_id} captured",
            subject=subject,
            idempotency_key=f"payment:{payment_id}:capture",
        )
    ]
    if fee:
        postings.append(
            Posting(
                kind="platform-fee",
                legs=[(received, -fee), (revenue, fee)],
                memo=f"Platform fee on payment #{payment_id}",
                subject=subject,
                idempotency_key=f"payment:{payment_id}:fee",
            )
        )
    return postings


def _post_capture(payment: Payment, take: Money, fee: Money, gateway: PaymentGateway) -> None:
    for posting in _capture_postings(payment.pk, take, fee, _accounts(payment, gateway.name)):
        transaction_post(kind=posting.kind, legs=posting.legs, memo=posting.memo, subject=posting.subject,
                         idempotency_key=posting.idempotency_key)  # fmt: skip


def payment_void(*, payment: Payment, gateway: PaymentGateway | None = None) -> Payment:
    """Release an authorization that will not be captured. Voiding a voided payment returns it unchanged."""
    gateway = _gateway_for(payment, gateway)
    with transaction.atomic():
        payment = _locked(payment.pk)
        if payment.status == PaymentStatus.VOIDED:
            return payment
        if payment.status != PaymentStatus.AUTHORIZED:
            raise Conflict(f"Payment #{payment.pk} is {payment.status}; only an authorized one can be voided.",
                           code="payment_not_authorized")  # fmt: skip
        operation = _begin(payment, kind=PaymentOperationKind.VOID, reference=f"{payment.reference}:void", amount=0)
    if operation.kind != PaymentOperationKind.VOID:
        raise Conflict(f"Payment #{payment.pk} is busy with a {operation.kind}.", code="payment_busy")

    try:
        _call(lambda: gateway.void(payment.authorization_id, reference=operation.reference))
    except Declined as exc:
        payment = _record_decline(
            payment, operation, exc, outcome=PaymentStatus.FAILED, failure_code=f"void_{exc.reason}"
        )
        raise _declined(payment, exc, "void") from exc

    with transaction.atomic():
        payment = _locked(payment.pk)
        if payment.status == PaymentStatus.AUTHORIZED:
            payment.status = PaymentStatus.VOIDED
            _save(payment, "status")
            _finish_operation(operation, status=OperationStatus.SUCCEEDED)
    return payment


# --- many captures and voids at once --------------------------------------------------------------------------
#
# payment_capture and payment_void for a batch (settlement's thousands of pledges), in the same three steps with the
# same rows, but each step once for the whole batch: one transaction records every pending operation, the gateway
# is asked for all of them at once outside any transaction (capture_many, void_many), and one transaction records
# the answers and posts every capture and fee (two keyed postings per payment, as payment_capture posts them).
# A crash between the steps is resumed like a single payment's: the next call finds each operation pending and asks
# the gateway again under the same reference (which does nothing twice), and the postings' keys and the payments'
# statuses keep the ledger from posting twice.


@dataclass
class BatchOutcome:
    """What payments_capture_many or payments_void_many did, payment by payment (ids)."""

    done: list[int] = field(default_factory=list)  # captured (voided) by this call, or before it
    declined: dict[int, str] = field(default_factory=dict)  # the gateway said no (recorded): its reason
    # The gateway did not answer: the operation stays pending under its reference; a later call resumes it.
    waiting: list[int] = field(default_factory=list)
    # Not in a state for this step: the Conflict code payment_capture or payment_void would raise
    # (payment_not_authorized, payment_busy, gateway_mismatch, payment_not_found).
    refused: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Step:
    """One payment's operation in a batch, with what recording it needs (read under the payment's lock)."""

    payment_id: int
    operation_id: int
    reference: str  # the operation's, which the gateway sees
    amount: int  # what a capture takes
    payment_reference: str
    authorization_id: str
    authorized: int
    currency: str
    fee_quoted: int
    payer_id: str
    payee_kind: str
    payee_id: str


_BATCH_COLUMNS = ("id", "status", "gateway", "reference", "authorization_id", "amount", "currency", "fee_quoted",
                  "payer_id", "payee_kind", "payee_id")  # fmt: skip
# The batch's payments locked in id order (the ids are sorted), each found by its key: never a scan of the table,
# whatever the planner's statistics say (the same holds for every look-up of the batch paths).
_LOCK_PAYMENTS = (
    f"SELECT {', '.join(f'p.{column}' for column in _BATCH_COLUMNS)} FROM unnest(%s::bigint[]) AS x(id) "  # noqa: S608
    "CROSS JOIN LATERAL (SELECT * FROM ledger_payment WHERE id = x.id LIMIT 1 FOR UPDATE) p"
)


def _begin_many(
    payment_ids: Sequence[int], *, kind: str, gateway: PaymentGateway, outcome: BatchOutcome
) -> list[_Step]:
    """Step 1, one transaction: lock the payments in id order and record a pending operation of `kind` for each
    one ready for it, or take the pending one to resume; the others go to `outcome` (done or refused)."""
    finished = CAPTURED_STATUSES if kind == PaymentOperationKind.CAPTURE else [PaymentStatus.VOIDED]
    with transaction.atomic():
        rows = columns_execute(_LOCK_PAYMENTS, [sorted(payment_ids)])
        pending = {
            payment_id: (pk, op_kind, reference, amount)
            for payment_id, pk, op_kind, reference, amount in columns_execute(
                "SELECT x.id, o.id, o.kind, o.reference, o.amount FROM unnest(%s::bigint[]) AS x(id) "
                "CROSS JOIN LATERAL (SELECT * FROM ledger_paymentoperation "
                "                    WHERE payment_id = x.id AND status = %s LIMIT 1) o",
                [list(payment_ids), OperationStatus.PENDING],
            )
        }
        declined: dict[int, int] = {}
        if kind == PaymentOperationKind.CAPTURE:
            declined = dict(
                columns_execute(
                    "SELECT x.id, o.n FROM unnest(%s::bigint[]) AS x(id) "
                    "CROSS JOIN LATERAL (SELECT count(*) AS n FROM ledger_paymentoperation "
                    "                    WHERE payment_id = x.id AND kind = %s AND status = %s) o "
                    "WHERE o.n > 0",
                    [list(payment_ids), kind, OperationStatus.FAILED],
                )
            )
        found = {row[0] for row in rows}
        outcome.refused.update({pk: "payment_not_found" for pk in payment_ids if pk not in found})
        steps: list[_Step] = []
        new: list[tuple[tuple[Any, ...], str, int]] = []
        for row in rows:
            pk, status, gateway_name, reference, _, amount = row[:6]
            if gateway_name != gateway.name:
                outcome.refused[pk] = "gateway_mismatch"
            elif status in finished:
                outcome.done.append(pk)
            elif status != PaymentStatus.AUTHORIZED:
                outcome.refused[pk] = "payment_not_authorized"
            else:
                wanted = (
                    _nth_capture_reference(reference, declined.get(pk, 0))
                    if kind == PaymentOperationKind.CAPTURE
                    else f"{reference}:void"
                )
                if pk not in pending:
                    new.append((row, wanted, amount if kind == PaymentOperationKind.CAPTURE else 0))
                elif pending[pk][1:3] == (kind, wanted):  # resumed as started (a capture keeps its amount)
                    steps.append(_Step(pk, pending[pk][0], wanted, pending[pk][3], *row[3:]))
                else:
                    outcome.refused[pk] = "payment_busy"
        if new:
            operation_ids = dict(
                columns_execute(
                    """
                    INSERT INTO ledger_paymentoperation
                        (payment_id, kind, amount, reference, status, gateway_id, failure_code, created_at)
                    SELECT payment_id, %s, amount, reference, %s, '', '', %s
                    FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS o(payment_id, amount, reference)
                    RETURNING payment_id, id
                    """,
                    [kind, OperationStatus.PENDING, timezone.now(), [row[0] for row, _, _ in new],
                     [amount for _, _, amount in new], [wanted for _, wanted, _ in new]],
                )
            )  # fmt: skip
            steps += [_Step(row[0], operation_ids[row[0]], wanted, amount, *row[3:]) for row, wanted, amount in new]
    return steps


A = TypeVar("A")
R = TypeVar("R")


def _ask_many(ask: Callable[[list[R]], list[A | Declined | GatewayUnavailable]], requests: list[R]) -> list[A | Declined | GatewayUnavailable]:  # fmt: skip
    """Step 2, outside any transaction: the gateway's answer to each request, asking again (GATEWAY_ATTEMPTS
    times in all) for those it did not answer."""
    answers: list[A | Declined | GatewayUnavailable] = [GatewayUnavailable("not asked")] * len(requests)
    todo = list(range(len(requests)))
    for attempt in range(1, GATEWAY_ATTEMPTS + 1):
        try:
            got = ask([requests[i] for i in todo])
        except GatewayUnavailable as exc:  # the whole batch went unanswered
            got = [exc] * len(todo)
        if len(got) != len(todo):
            raise RuntimeError(f"The gateway answered {len(got)} of a batch of {len(todo)}.")
        for i, answer in zip(todo, got, strict=True):
            answers[i] = answer
        todo = [i for i in todo if isinstance(answers[i], GatewayUnavailable)]
        if not todo:
            break
        logger.warning("payment gateway did not answer %s of a batch (attempt %s of %s)", len(todo), attempt,
                       GATEWAY_ATTEMPTS)  # fmt: skip
    return answers


def _update_operations(rows: Sequence[tuple[int, str, str, str]]) -> None:
    """Finish operations: (id, status, gateway id, failure code)."""
    if not rows:
        return
    columns_execute(
        """
        UPDATE ledger_paymentoperation o
        SET status = v.status, gateway_id = v.gateway_id, failure_code = v.failure_code, finished_at = %s
        FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) AS v(id, status, gateway_id, failure_code)
        WHERE o.id = v.id
        """,
        [timezone.now(), *map(list, zip(*rows, strict=True))],
    )


def _record_statuses(rows: Sequence[tuple[int, str, str, str]]) -> None:
    """Record the outcome of steps on their payments: (id, status, failure code, failure message)."""
    if not rows:
        return
    columns_execute(
        """
        UPDATE ledger_payment p
        SET status = v.status, failure_code = v.failure_code, failure_message = v.failure_message, updated_at = %s
        FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[])
            AS v(id, status, failure_code, failure_message)
        WHERE p.id = v.id
        """,
        [timezone.now(), *map(list, zip(*rows, strict=True))],
    )


def _locked_states(steps: Sequence[_Step]) -> tuple[dict[int, str], set[int]]:
    """Inside step 3's transaction: the payments' statuses (locked in id order) and which operations are pending."""
    statuses = {row[0]: row[1] for row in columns_execute(_LOCK_PAYMENTS, [sorted(s.payment_id for s in steps)])}
    # By primary key alone: with `AND status = 'pending'` the planner may take the partial index of pending
    # operations and read all of them for each one (measured: 0.2 s a batch of 1,000).
    pending = {
        row[0]
        for row in columns_execute(
            "SELECT o.id, o.status FROM unnest(%s::bigint[]) AS x(id) "
            "CROSS JOIN LATERAL (SELECT id, status FROM ledger_paymentoperation WHERE id = x.id LIMIT 1) o",
            [[step.operation_id for step in steps]],
        )
        if row[1] == OperationStatus.PENDING
    }
    return statuses, pending


def _post_captures(captured: Sequence[tuple[_Step, Capture]], gateway: PaymentGateway) -> None:
    """Post every capture and fee of the batch (one keyed posting each) and mark the payments captured."""
    # The gateway's, payee's and platform's accounts are the same for a whole batch (one campaign, one currency, as
    # a rule); only the payer's is each payment's own.
    shared: dict[tuple[str, str, str], tuple[AccountKey, AccountKey, AccountKey]] = {}
    payers: list[AccountKey] = []
    for step, _ in captured:
        group = (step.currency, step.payee_kind, step.payee_id)
        if group not in shared:
            shared[group] = (AccountKey("gateway", gateway.name, CLEARING, step.currency, allow_negative=True),
                             AccountKey(step.payee_kind, step.payee_id, RECEIVED, step.currency),
                             AccountKey("platform", "", REVENUE, step.currency))  # fmt: skip
        payers.append(AccountKey("person", step.payer_id, PAYER_PAYMENTS, step.currency))
    accounts = accounts_open_many(keys=[*(key for three in shared.values() for key in three), *payers])
    postings: list[Posting] = []
    rows: list[tuple[int, int, int, str]] = []
    for (step, capture), payer in zip(captured, payers, strict=True):
        clearing, received, revenue = shared[step.currency, step.payee_kind, step.payee_id]
        take = Money(step.amount, step.currency)
        fee = _fee_share(Money(step.fee_quoted, step.currency), step.authorized, take)
        postings += _capture_postings(
            step.payment_id, take, fee, _Accounts(accounts[clearing], accounts[payer], accounts[received],
                                                  accounts[revenue])
        )  # fmt: skip
        rows.append((step.payment_id, take.amount, fee.amount, capture.id))
    transactions_post_many(postings=postings)
    columns_execute(
        """
        UPDATE ledger_payment p
        SET status = %s, captured_amount = v.taken, fee_amount = v.fee, capture_id = v.capture_id, updated_at = %s
        FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[]) AS v(id, taken, fee, capture_id)
        WHERE p.id = v.id
        """,
        [PaymentStatus.CAPTURED, timezone.now(), *map(list, zip(*rows, strict=True))],
    )
    _update_operations([(step.operation_id, OperationStatus.SUCCEEDED, capture.id, "") for step, capture in captured])


def payments_capture_many(
    *,
    payments: Sequence[Payment] = (),
    payment_ids: Sequence[int] = (),
    gateway: PaymentGateway | None = None,
    void_on_decline: bool = True,
) -> BatchOutcome:
    """Capture each payment's authorized amount and post it, as payment_capture does, for a whole batch at once
    (see above): three transactions and one gateway call (capture_many) whatever the batch's size. Pass batches
    of a few thousand at most: the first and last transactions lock every payment of the batch.

    Each payment ends in one part of the outcome: done (captured now or before), declined (the decline recorded;
    the authorization voided, unless `void_on_decline` is False: then it is kept for a later attempt under a
    reference of its own, as payment_capture keeps it), waiting (the gateway did not answer: pending, resumed by
    the next call under the same reference) or refused (as payment_capture would refuse it; nothing done). A
    pending capture is resumed for the amount it was started with. The payments are given as Payment objects or by
    id (`payment_ids`, a batch read without building 1,000 Payment objects), or both.
    """
    gateway = gateway or payment_gateway()
    outcome = BatchOutcome()
    steps = _begin_many(sorted({p.pk for p in payments}.union(payment_ids)), kind=PaymentOperationKind.CAPTURE,
                        gateway=gateway, outcome=outcome)  # fmt: skip
    if not steps:
        return outcome
    answers = _ask_many(
        gateway.capture_many,
        [CaptureRequest(s.authorization_id, Money(s.amount, s.currency), s.reference) for s in steps],
    )
    # The holds on cards whose capture was declined are released before anything is recorded, as payment_capture
    # does: a void left unanswered leaves its payment pending, and the next call asks for both again.
    voids: dict[int, Void | Declined | GatewayUnavailable] = {}
    if void_on_decline:
        declined = [step for step, answer in zip(steps, answers, strict=True) if isinstance(answer, Declined)]
        void_answers = _ask_many(
            gateway.void_many, [VoidRequest(s.authorization_id, f"{s.payment_reference}:void") for s in declined]
        )
        voids = {step.payment_id: answer for step, answer in zip(declined, void_answers, strict=True)}

    with transaction.atomic():
        statuses, pending = _locked_states(steps)
        captured: list[tuple[_Step, Capture]] = []
        failed_operations: list[tuple[int, str, str, str]] = []
        failed_payments: list[tuple[int, str, str, str]] = []
        for step, answer in zip(steps, answers, strict=True):
            status, open_step = statuses.get(step.payment_id), step.operation_id in pending
            if isinstance(answer, Capture):
                if status == PaymentStatus.AUTHORIZED and open_step:
                    captured.append((step, answer))
                    outcome.done.append(step.payment_id)
                elif status in CAPTURED_STATUSES:
                    outcome.done.append(step.payment_id)  # finished meanwhile by a resumed payment_capture
                else:
                    outcome.waiting.append(step.payment_id)
            elif isinstance(answer, Declined):
                void = voids.get(step.payment_id)
                if isinstance(void, GatewayUnavailable):
                    outcome.waiting.append(step.payment_id)
                    continue
                outcome.declined[step.payment_id] = answer.reason
                if not open_step:
                    continue  # recorded meanwhile by a resumed payment_capture
                failed_operations.append((step.operation_id, OperationStatus.FAILED, "", answer.reason[:60]))
                if void is not None:
                    after = PaymentStatus.VOIDED if isinstance(void, Void) else PaymentStatus.FAILED
                    failed_payments.append((step.payment_id, after, answer.reason[:60], answer.message[:300]))
            else:
                outcome.waiting.append(step.payment_id)
        if captured:
            _post_captures(captured, gateway)
        _update_operations(failed_operations)
        _record_statuses(failed_payments)
    return outcome


def payments_void_many(
    *, payments: Sequence[Payment] = (), payment_ids: Sequence[int] = (), gateway: PaymentGateway | None = None
) -> BatchOutcome:
    """Release each payment's authorization, as payment_void does, for a whole batch at once (see above): three
    transactions and one gateway call (void_many). Done: voided now or before; declined: the gateway no longer
    holds it (the payment recorded failed, as payment_void records it); waiting and refused as for
    payments_capture_many (the payments as objects or by id)."""
    gateway = gateway or payment_gateway()
    outcome = BatchOutcome()
    steps = _begin_many(sorted({p.pk for p in payments}.union(payment_ids)), kind=PaymentOperationKind.VOID,
                        gateway=gateway, outcome=outcome)  # fmt: skip
    if not steps:
        return outcome
    answers = _ask_many(gateway.void_many, [VoidRequest(s.authorization_id, s.reference) for s in steps])

    with transaction.atomic():
        statuses, pending = _locked_states(steps)
        finished_operations: list[tuple[int, str, str, str]] = []
        voided: list[tuple[int, str, str, str]] = []
        failed_payments: list[tuple[int, str, str, str]] = []
        for step, answer in zip(steps, answers, strict=True):
            status, open_step = statuses.get(step.payment_id), step.operation_id in pending
            if isinstance(answer, Void):
                if status == PaymentStatus.AUTHORIZED and open_step:
                    finished_operations.append((step.operation_id, OperationStatus.SUCCEEDED, "", ""))
                    voided.append((step.payment_id, PaymentStatus.VOIDED, "", ""))
                    outcome.done.append(step.payment_id)
                elif status == PaymentStatus.VOIDED:
                    outcome.done.append(step.payment_id)
                else:
                    outcome.waiting.append(step.payment_id)
            elif isinstance(answer, Declined):
                outcome.declined[step.payment_id] = answer.reason
                if open_step:
                    finished_operations.append((step.operation_id, OperationStatus.FAILED, "", answer.reason[:60]))
                    failed_payments.append((step.payment_id, PaymentStatus.FAILED, f"void_{answer.reason}"[:60],
                                            answer.message[:300]))  # fmt: skip
            else:
                outcome.waiting.append(step.payment_id)
        _update_operations(finished_operations)
        _record_statuses(voided + failed_payments)
    return outcome


# --- refund ---------------------------------------------------------------------------------------------------


def _fee_refunded(payment: Payment, refunded: int) -> int:
    """The part of the first `refunded` minor units that was fee, split exactly like the capture was.

    Computed on the running total, so partial refunds that add up to the whole give back exactly the fee.
    """
    if refunded == 0 or payment.fee_amount == 0:
        return 0
    total = Money(refunded, payment.currency)
    return allocate(total, [payment.captured_amount - payment.fee_amount, payment.fee_amount])[1].amount


def refund_fee_part(*, payment: Payment, amount: int) -> int:
    """The part of a refund of `amount` minor units, made now, that the platform gives back of its fee (the rest is
    taken from the payee's received account): the fee share of the refunds up to this one less that of the refunds
    before it, so partial refunds that add up to the whole give back exactly the fee."""
    return _fee_refunded(payment, payment.refunded_amount + amount) - _fee_refunded(payment, payment.refunded_amount)


# Called inside the locked transaction that starts a refund, before its posting, with the payment and the part of
# the refund taken from the payee's received account: it may write what must stand or fall with the refund.
RefundCover = Callable[[Payment, Money], None]
# Called inside the transaction that records a declined refund and reverses its posting, with the decline's reason.
RefundDeclined = Callable[[str], None]


def payment_refund(
    *,
    payment: Payment,
    amount: Money,
    reference: str | None = None,
    gateway: PaymentGateway | None = None,
    cover: RefundCover | None = None,
    on_decline: RefundDeclined | None = None,
    fee_part: Money | None = None,
) -> Payment:
    """Give back part or all of a captured payment, taking it back from the payee and the fee (in proportion, or
    `fee_part`), to the payer (through their payments account) and out through the gateway.

    The ledger posting is made first, in the locked transaction (so a payee that has paid the money on is
    refused with InsufficientFunds before the gateway moves anything); a declined refund is reversed. The same
    reference resumes a pending refund.

    `cover` runs in that locked transaction, once, when the refund starts (not when a pending one is resumed):
    a payee whose received money has been passed on (a campaign's proceeds distributed to its makers) moves it
    back there first, and records what the refund is for, all or nothing with the refund's operation and posting.
    `on_decline` runs in the transaction that records a decline and reverses the posting (when this call is the
    one that learns of the decline), to undo what `cover` wrote.

    `fee_part`: what of a new refund the platform gives back of its fee, when the caller knows which part of the
    payment it refunds (a pledge's items: the fee was taken on their margins); without it the fee is given back in
    proportion (`refund_fee_part`). Refused (Invalid, refund_fee_invalid) below zero, above the refund or above the
    fee the platform still keeps of the payment.
    """
    gateway = _gateway_for(payment, gateway)
    reference = reference or f"{payment.reference}:refund:{uuid.uuid4().hex}"
    with transaction.atomic():
        payment = _locked(payment.pk)
        operation = PaymentOperation.objects.filter(reference=reference).first()
        if operation is not None:
            if (operation.payment_id, operation.kind, operation.amount) != (
                payment.pk,
                PaymentOperationKind.REFUND,
                amount.amount,
            ):
                raise Invalid("This reference belongs to a different refund.", code="reference_reused")
            if operation.status == OperationStatus.SUCCEEDED:
                return payment
            if operation.status == OperationStatus.FAILED:
                raise PaymentDeclined(f"Payment #{payment.pk}: the refund was declined ({operation.failure_code}).",
                                      code="refund_declined")  # fmt: skip
        else:
            if payment.status not in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
                raise Conflict(f"Payment #{payment.pk} is {payment.status}; only captured money can be refunded.",
                               code="payment_not_captured")  # fmt: skip
            refundable = payment.captured_amount - payment.refunded_amount
            if amount.currency != payment.currency or not 0 < amount.amount <= refundable:
                raise Invalid(f"A refund gives back more than zero and at most {Money(refundable, payment.currency)}.",
                              code="refund_amount_invalid", field="amount")  # fmt: skip
            fee = _refund_fee(payment, amount, fee_part)
            operation = _begin(payment, kind=PaymentOperationKind.REFUND, reference=reference, amount=amount.amount)
            if cover is not None:
                cover(payment, Money(amount.amount - fee, payment.currency))
            _post_refund(payment, operation, gateway, fee)

    try:
        refund = _call(lambda: gateway.refund(payment.capture_id, amount, reference=reference))
    except Declined as exc:
        reason = exc.reason

        def undo(payment: Payment, operation: PaymentOperation) -> None:
            _reverse_refund(payment, operation)
            if on_decline is not None:
                on_decline(reason)

        payment = _record_decline(payment, operation, exc, outcome=None, undo=undo)
        raise _declined(payment, exc, "refund") from exc

    with transaction.atomic():
        payment = _locked(payment.pk)
        operation = PaymentOperation.objects.select_for_update().get(pk=operation.pk)
        if operation.status == OperationStatus.PENDING:
            payment.refunded_amount += amount.amount
            payment.status = (
                PaymentStatus.REFUNDED
                if payment.refunded_amount == payment.captured_amount
                else PaymentStatus.PARTIALLY_REFUNDED
            )
            _save(payment, "status", "refunded_amount")
            _finish_operation(operation, status=OperationStatus.SUCCEEDED, gateway_id=refund.id)
    return payment


def _refund_fee(payment: Payment, amount: Money, fee_part: Money | None) -> int:
    """What of a new refund of `amount` the platform gives back of its fee: `fee_part` when the caller names it
    (checked against the refund and the fee still kept of the payment), else in proportion."""
    if fee_part is None:
        return refund_fee_part(payment=payment, amount=amount.amount)
    kept = Leg.objects.filter(
        transaction__subject_kind="payment", transaction__subject_id=str(payment.pk), account__owner_kind="platform",
        account__purpose=REVENUE, account__currency=payment.currency,
    ).aggregate(total=Coalesce(Sum("amount"), 0))["total"]  # fmt: skip
    if fee_part.currency != payment.currency or not 0 <= fee_part.amount <= min(amount.amount, kept):
        raise Invalid(f"A refund's fee part is from 0 to the refund and to the fee still kept of payment #{payment.pk} "
                      f"({Money(kept, payment.currency)}).", code="refund_fee_invalid", field="fee_part")  # fmt: skip
    return fee_part.amount


def _post_refund(payment: Payment, operation: PaymentOperation, gateway: PaymentGateway, fee_part: int) -> None:
    accounts = _accounts(payment, gateway.name)
    amount = Money(operation.amount, payment.currency)
    legs = []
    if amount.amount - fee_part:
        legs.append((accounts.received, Money(-(amount.amount - fee_part), payment.currency)))
    if fee_part:
        legs.append((accounts.revenue, Money(-fee_part, payment.currency)))
    # Back to the payer and on out through the gateway: the payer's account nets to zero, as at capture.
    legs += [(accounts.payer, amount), (accounts.payer, -amount), (accounts.clearing, amount)]
    transaction_post(
        kind="refund",
        legs=legs,
        memo=f"Refund on payment #{payment.pk}",
        subject=("payment", str(payment.pk)),
        idempotency_key=f"payment:{payment.pk}:refund:{operation.pk}",
    )


def _reverse_refund(payment: Payment, operation: PaymentOperation) -> None:
    transaction_reverse(
        original=Transaction.objects.get(idempotency_key=f"payment:{payment.pk}:refund:{operation.pk}"),
        memo=f"Refund of payment #{payment.pk} declined by the gateway",
        idempotency_key=f"payment:{payment.pk}:refund:{operation.pk}:reversal",
    )


# --- payouts --------------------------------------------------------------------------------------------------


def payout_create(
    *,
    owner_kind: str,
    owner_id: str,
    amount: Money,
    destination: str,
    purpose: str = RECEIVED,
    reference: str | None = None,
    gateway: PaymentGateway | None = None,
) -> Payout:
    """Send money from an owner's account to a destination outside the platform.

    The money is taken from the account into the gateway's payouts account first (refused with
    InsufficientFunds when it is not there), then the gateway pays; a declined payout is reversed.
    """
    gateway = gateway or payment_gateway()
    try:
        check_currency(amount.currency)
    except MoneyError as exc:
        raise Invalid(str(exc), field="currency") from exc
    if amount.amount <= 0:
        raise Invalid("A payout moves more than zero.", field="amount")
    if not destination or len(destination) > 200:
        raise Invalid("A payout destination is 1 to 200 characters.", field="destination")
    reference = reference or f"payout-{uuid.uuid4().hex}"
    terms = {
        "owner_kind": owner_kind,
        "owner_id": owner_id,
        "purpose": purpose,
        "amount": amount.amount,
        "currency": amount.currency,
        "destination": destination,
        "gateway": gateway.name,
    }
    with transaction.atomic():
        payout, created = Payout.objects.get_or_create(reference=reference, defaults=terms)
        if not created:
            payout = Payout.objects.select_for_update().get(pk=payout.pk)
            if any(getattr(payout, name) != value for name, value in terms.items()):
                raise Invalid("This reference belongs to a different payout.", code="reference_reused")
        if payout.status == PayoutStatus.PAID:
            return payout
        if payout.status == PayoutStatus.FAILED:
            raise PaymentDeclined(f"Payout #{payout.pk} was declined ({payout.failure_code}).", code="payout_declined")
        source = account_open(owner_kind=owner_kind, owner_id=owner_id, purpose=purpose, currency=amount.currency)
        sent = account_open(owner_kind="gateway", owner_id=gateway.name, purpose=PAYOUTS, currency=amount.currency)
        transaction_post(
            kind="payout",
            legs=[(source, -amount), (sent, amount)],
            memo=f"Payout #{payout.pk} to {destination}",
            subject=("payout", str(payout.pk)),
            idempotency_key=f"payout:{payout.pk}",
        )

    try:
        paid = _call(lambda: gateway.payout(destination, amount, reference=reference))
    except Declined as exc:
        with transaction.atomic():
            payout = Payout.objects.select_for_update().get(pk=payout.pk)
            if payout.status == PayoutStatus.PENDING:
                transaction_reverse(
                    original=Transaction.objects.get(idempotency_key=f"payout:{payout.pk}"),
                    memo=f"Payout #{payout.pk} declined by the gateway",
                    idempotency_key=f"payout:{payout.pk}:reversal",
                )
                payout.status = PayoutStatus.FAILED
                payout.failure_code = exc.reason[:60]
                payout.updated_at = timezone.now()
                payout.save(update_fields=["status", "failure_code", "updated_at"])
        raise PaymentDeclined(f"Payout #{payout.pk} was declined ({exc.reason}).", code="payout_declined") from exc

    with transaction.atomic():
        payout = Payout.objects.select_for_update().get(pk=payout.pk)
        if payout.status == PayoutStatus.PENDING:
            payout.status = PayoutStatus.PAID
            payout.gateway_id = paid.id
            payout.updated_at = timezone.now()
            payout.save(update_fields=["status", "gateway_id", "updated_at"])
    return payout


# --- resuming abandoned steps ---------------------------------------------------------------------------------


def _resume_operation(operation: PaymentOperation, gateway: PaymentGateway | None) -> None:
    payment = operation.payment
    gateway = _gateway_for(payment, gateway)
    if operation.kind == PaymentOperationKind.AUTHORIZE:
        payment_authorize(
            payer_id=payment.payer_id,
            payee_kind=payment.payee_kind,
            payee_id=payment.payee_id,
            amount=Money(payment.amount, payment.currency),
            payment_method=payment.payment_method,
            reference=payment.reference,
            gateway=gateway,
        )
    elif operation.kind == PaymentOperationKind.CAPTURE:
        # A capture started by a workflow that retries declines (campaign settlement) is resumed the same way:
        # voiding here would cut its retries and grace period short.
        keep = owners.retries_declined_captures(payment.payee_kind)
        payment_capture(payment=payment, gateway=gateway, void_on_decline=not keep)
    elif operation.kind == PaymentOperationKind.VOID:
        payment_void(payment=payment, gateway=gateway)
    else:
        # The payee's owner undoes what it wrote with the refund in the same transaction as the decline (owners).
        hook = owners.refund_declined_hook(payment.payee_kind)
        payment_refund(
            payment=payment,
            amount=Money(operation.amount, payment.currency),
            reference=operation.reference,
            gateway=gateway,
            on_decline=partial(hook, operation.reference) if hook is not None else None,
        )


def _resume_payout(payout: Payout, gateway: PaymentGateway | None) -> None:
    payout_create(
        owner_kind=payout.owner_kind,
        owner_id=payout.owner_id,
        amount=Money(payout.amount, payout.currency),
        destination=payout.destination,
        purpose=payout.purpose,
        reference=payout.reference,
        gateway=_gateway_for(payout, gateway),
    )


def _resume(what: str, step: Callable[[], None]) -> str:
    try:
        step()
    except PaymentDeclined:
        return "declined"  # recorded (and any posting reversed) by the step itself
    except GatewayDown:
        logger.warning("%s: the gateway is still not answering; the next run tries again", what)
        return "unavailable"
    except DomainError:
        logger.exception("%s could not be resumed; it stays pending for an operator", what)
        return "refused"
    return "finished"


def payments_resume_stale(*, gateway: PaymentGateway | None = None) -> dict[str, int]:
    """Finish every payment step and payout left pending for longer than STALE_AFTER, oldest first.

    Each is resumed through its own service with the reference it was started with, so the gateway sees the
    same request again and does it at most once, and the ledger postings are keyed: running this twice (or
    alongside a client's own retry) charges, refunds and pays nobody twice. Returns how many steps finished,
    were declined, found the gateway still unavailable, or were refused (logged).
    """
    cutoff = timezone.now() - STALE_AFTER
    outcomes = {"finished": 0, "declined": 0, "unavailable": 0, "refused": 0}
    stale_operations = (
        PaymentOperation.objects.filter(status=OperationStatus.PENDING, created_at__lt=cutoff)
        .select_related("payment")
        .order_by("created_at", "pk")
    )
    for operation in stale_operations:
        outcomes[_resume(str(operation), partial(_resume_operation, operation, gateway))] += 1
    stale_payouts = Payout.objects.filter(status=PayoutStatus.PENDING, created_at__lt=cutoff).order_by(
        "created_at", "pk"
    )
    for payout in stale_payouts:
        outcomes[_resume(str(payout), partial(_resume_payout, payout, gateway))] += 1
    return outcomes
