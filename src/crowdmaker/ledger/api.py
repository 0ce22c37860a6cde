"""JSON API of `ledger`: payments through the payment gateway (the public ledger lives in `api_public`).

Handlers validate input and call one service from `ledger.payments`. Every POST here moves money and needs an
`Idempotency-Key` (see core.idempotency). A payment is visible to its payer, to the people who may see the
payee's detail (a team's owners and maintainers) and to operators; to anyone else it does not exist (404).
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from crowdmaker.core.api import Cursor, ErrorOut, InputSchema
from crowdmaker.core.errors import Forbidden, Invalid, NotFound
from crowdmaker.core.idempotency import idempotency_reference, idempotent
from crowdmaker.ledger import owners, payments
from crowdmaker.ledger.models import Payment
from crowdmaker.ledger.money import CURRENCIES, Money

router = Router(tags=["payments"])

ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    402: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
    503: ErrorOut,
}
# The largest amount one payment may carry, in minor units (ten billion of a two-digit currency's units).
MAX_PAYMENT_MINOR_UNITS = 10**12


# --- schemas -------------------------------------------------------------------------------------------------


class PayeeIn(InputSchema):
    kind: str = Field(
        ...,
        min_length=1,
        max_length=20,
        description="Owner kind: team or person (a campaign is backed by pledging, through /campaigns/{slug}/pledges).",
    )
    id: str = Field(..., min_length=1, max_length=64, description="The owner's id, e.g. a team's id.")


class PaymentIn(InputSchema):
    payee: PayeeIn
    amount: int = Field(..., gt=0, le=MAX_PAYMENT_MINOR_UNITS, description="In minor units (cents).")
    currency: str = Field(..., pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR.")
    payment_method: str = Field(
        ..., min_length=1, max_length=100, description="A payment method token, e.g. the sandbox's sandbox-card-ok."
    )


class RefundIn(InputSchema):
    amount: int = Field(..., gt=0, le=MAX_PAYMENT_MINOR_UNITS, description="In minor units; at most what is left.")


class PayeeOut(Schema):
    kind: str
    id: str
    label: str


class PaymentOut(Schema):
    id: int
    status: str
    payee: PayeeOut
    amount: int
    currency: str
    captured_amount: int
    fee_quoted: int = Field(
        ...,
        description="The platform fee on the whole amount, fixed when the payment is authorized (shown before "
        "the payer commits to a capture).",
    )
    fee_amount: int = Field(..., description="The platform fee taken at capture: the quoted fee, or its share.")
    refunded_amount: int
    payment_method: str
    failure_code: str
    failure_message: str
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_payee(payment: Payment) -> dict[str, str]:
        info = owners.owner_describe(payment.payee_kind, payment.payee_id)
        return {"kind": payment.payee_kind, "id": payment.payee_id, "label": info.label if info else ""}


# --- helpers --------------------------------------------------------------------------------------------------


def _may_see(payment: Payment, request: HttpRequest) -> bool:
    user = request.user
    return payment.payer_id == str(user.pk) or owners.owner_can_see_detail(payment.payee_kind, payment.payee_id, user)


def _visible(request: HttpRequest, payment_id: int) -> Payment:
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or not _may_see(payment, request):
        raise NotFound("No such payment.", code="payment_not_found")
    return payment


# Owners that may be paid directly through this API. Money for a campaign moves only through its own workflow
# (pledges, settlement, refunds in `funding`), which keeps its pledges and its public ledger in step (MONEY.md
# invariants 4 and 6): a payment to a campaign is never captured, voided or refunded from here.
DIRECT_PAYEE_KINDS = ("person", "team")


def _direct(payment: Payment, action: str) -> None:
    if payment.payee_kind not in DIRECT_PAYEE_KINDS:
        raise Forbidden(f"This payment belongs to a {payment.payee_kind}'s own workflow; it cannot be {action}d "
                        "here (cancel or change the pledge instead).", code="payment_managed")  # fmt: skip


def _payer_or_operator(request: HttpRequest, payment: Payment, action: str) -> None:
    _direct(payment, action)
    if payment.payer_id != str(request.user.pk) and not request.user.is_staff:
        raise Forbidden(f"Only the payer or an operator may {action} this payment.")


# --- endpoints ------------------------------------------------------------------------------------------------


@router.post(
    "/payments",
    response={201: PaymentOut, **ERRORS},
    summary="Pay an owner: record the payment and authorize it on the payment method",
)
@idempotent
def payment_create(request: HttpRequest, payload: PaymentIn) -> Status:
    """Authorizes the amount and fixes the platform fee (`fee_quoted`) that its capture will take; capture it with
    `/payments/{id}/capture`. A declined card answers 402 and the failed payment stays visible in `/payments`.
    503 means the gateway did not answer: retry with the same key (or the platform finishes it later)."""
    if payload.currency not in CURRENCIES:
        raise Invalid(f"Unsupported currency {payload.currency}.", field="currency")
    if payload.payee.kind not in DIRECT_PAYEE_KINDS:
        raise Invalid("Pay a person or a team here; back a campaign by pledging to it.", code="payee_not_direct",
                      field="payee")  # fmt: skip
    payment = payments.payment_authorize(
        payer_id=str(request.user.pk),
        payee_kind=payload.payee.kind,
        payee_id=payload.payee.id,
        amount=Money(payload.amount, payload.currency),
        payment_method=payload.payment_method,
        reference=idempotency_reference(request, "payment"),
    )
    return Status(201, payment)


@router.get("/payments", response={200: list[PaymentOut], **ERRORS}, summary="The caller's payments, newest first")
@paginate(Cursor, ordering=("-id",))
def payment_list(request: HttpRequest) -> object:
    return Payment.objects.filter(payer_id=str(request.user.pk))


@router.get("/payments/{payment_id}", response={200: PaymentOut, **ERRORS}, summary="One payment")
def payment_detail(request: HttpRequest, payment_id: int) -> Payment:
    return _visible(request, payment_id)


@router.post(
    "/payments/{payment_id}/capture",
    response={200: PaymentOut, **ERRORS},
    summary="Capture an authorized payment (payer or operator)",
)
@idempotent
def payment_capture(request: HttpRequest, payment_id: int) -> Payment:
    """Takes the authorized amount and posts it from the payer to the payee, less the platform fee quoted at
    authorization. When the gateway declines the capture, the authorization is voided and the answer is 402
    `capture_declined`."""
    payment = _visible(request, payment_id)
    _payer_or_operator(request, payment, "capture")
    return payments.payment_capture(payment=payment)


@router.post(
    "/payments/{payment_id}/void",
    response={200: PaymentOut, **ERRORS},
    summary="Release an authorization that will not be captured (payer or operator)",
)
@idempotent
def payment_void(request: HttpRequest, payment_id: int) -> Payment:
    payment = _visible(request, payment_id)
    _payer_or_operator(request, payment, "void")
    return payments.payment_void(payment=payment)


@router.post(
    "/payments/{payment_id}/refund",
    response={200: PaymentOut, **ERRORS},
    summary="Refund part or all of a captured payment (the payee's managers or an operator)",
)
@idempotent
def payment_refund(request: HttpRequest, payment_id: int, payload: RefundIn) -> Payment:
    """Takes the amount back from the payee and the platform fee in proportion and returns it to the payer."""
    payment = _visible(request, payment_id)
    _direct(payment, "refund")
    if not owners.owner_can_see_detail(payment.payee_kind, payment.payee_id, request.user):
        raise Forbidden("Only the payee's managers or an operator may refund this payment.")
    return payments.payment_refund(
        payment=payment,
        amount=Money(payload.amount, payment.currency),
        reference=idempotency_reference(request, "refund"),
    )
