"""The sandbox gateway, the default: deterministic test cards, no real money, state kept in the database.

Payment methods (pass as `payment_method`):

    sandbox-card-ok                    always authorizes, captures, refunds
    sandbox-card-declined              authorization declined (reason "card_declined")
    sandbox-card-insufficient-funds    authorization refused: insufficient funds at the card
    sandbox-card-network-error-once    the first authorize() of a reference fails with GatewayUnavailable;
                                       calling again with the same reference succeeds
    sandbox-card-capture-fails         authorizes, but capture() is declined (reason "capture_failed")

Payout destinations: anything, except `sandbox-bank-closed`, which is declined (reason "account_closed").
Webhooks are signed with HMAC-SHA256 of the raw payload under CROWDMAKER_SANDBOX_WEBHOOK_SECRET, sent as
the lowercase hex digest (optionally prefixed "sha256="). The sandbox never touches the ledger; its tables
(SandboxCharge, SandboxOperation) stand in for the provider's side, so every process sees the same state.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from crowdmaker.ledger.gateways.base import (
    Authorization,
    Capture,
    CardInsufficientFunds,
    Declined,
    GatewayUnavailable,
    PaymentGateway,
    Payout,
    Refund,
    Void,
    WebhookInvalid,
)
from crowdmaker.ledger.models import SandboxCharge, SandboxOperation
from crowdmaker.ledger.money import Money

CARD_OK = "sandbox-card-ok"
CARD_DECLINED = "sandbox-card-declined"
CARD_INSUFFICIENT_FUNDS = "sandbox-card-insufficient-funds"
CARD_NETWORK_ERROR_ONCE = "sandbox-card-network-error-once"
CARD_CAPTURE_FAILS = "sandbox-card-capture-fails"
CARDS = (CARD_OK, CARD_DECLINED, CARD_INSUFFICIENT_FUNDS, CARD_NETWORK_ERROR_ONCE, CARD_CAPTURE_FAILS)
BANK_CLOSED = "sandbox-bank-closed"

_AUTH_PREFIX = "sandbox-auth-"


def _operation_id(operation: SandboxOperation) -> str:
    return f"sandbox-{operation.kind}-{operation.pk}"


class SandboxGateway(PaymentGateway):
    name = "sandbox"

    # --- authorizations --------------------------------------------------------------------------------------

    def authorize(self, amount: Money, payment_method: str, reference: str) -> Authorization:
        with transaction.atomic():
            charge, created = SandboxCharge.objects.select_for_update().get_or_create(
                reference=reference,
                defaults={
                    "payment_method": payment_method,
                    "amount": amount.amount,
                    "currency": amount.currency,
                    "status": self._first_answer(payment_method),
                    "decline_reason": self._decline_reason(payment_method),
                },
            )
            if not created:
                if (charge.payment_method, charge.amount, charge.currency) != (
                    payment_method,
                    amount.amount,
                    amount.currency,
                ):
                    raise Declined("reference_reused", "This reference was used for a different authorization.")
                charge.attempts += 1
                if charge.status == "unreachable":  # the network error happens once per reference
                    charge.status = "authorized"
                charge.save(update_fields=["attempts", "status"])
        if charge.status == "unreachable":
            raise GatewayUnavailable("The sandbox gateway did not answer (simulated network error); retry.")
        if charge.status == "declined":
            if charge.decline_reason == "insufficient_funds":
                raise CardInsufficientFunds()
            raise Declined(charge.decline_reason)
        return Authorization(id=f"{_AUTH_PREFIX}{charge.pk}", status="authorized", amount=amount, reference=reference)

    @staticmethod
    def _first_answer(payment_method: str) -> str:
        if payment_method == CARD_NETWORK_ERROR_ONCE:
            return "unreachable"
        if payment_method in (CARD_OK, CARD_CAPTURE_FAILS):
            return "authorized"
        return "declined"

    @staticmethod
    def _decline_reason(payment_method: str) -> str:
        if payment_method == CARD_DECLINED:
            return "card_declined"
        if payment_method == CARD_INSUFFICIENT_FUNDS:
            return "insufficient_funds"
        if payment_method in CARDS:
            return ""
        return "unknown_payment_method"

    def _charge(self, authorization_id: str) -> SandboxCharge:
        """The charge, locked; call inside a transaction."""
        number = authorization_id.removeprefix(_AUTH_PREFIX)
        if not authorization_id.startswith(_AUTH_PREFIX) or not number.isdigit():
            raise Declined("unknown_authorization", f"The sandbox knows no authorization {authorization_id!r}.")
        charge = SandboxCharge.objects.select_for_update().filter(pk=int(number)).first()
        if charge is None:
            raise Declined("unknown_authorization", f"The sandbox knows no authorization {authorization_id!r}.")
        return charge

    def _repeat(self, kind: str, reference: str, amount: Money) -> SandboxOperation | None:
        """The operation done before under this reference, if any; the same reference for something else is refused."""
        done = SandboxOperation.objects.filter(reference=reference).first()
        if done is not None and (done.kind, done.amount, done.currency) != (kind, amount.amount, amount.currency):
            raise Declined("reference_reused", "This reference was used for a different operation.")
        return done

    def _record(self, **fields: Any) -> SandboxOperation:
        try:
            with transaction.atomic():
                return SandboxOperation.objects.create(**fields)
        except IntegrityError as exc:  # the same reference, at the same moment, from another process
            raise GatewayUnavailable("The sandbox is busy with this reference; retry.") from exc

    # --- captures, voids, refunds ----------------------------------------------------------------------------

    def capture(self, authorization_id: str, amount: Money, *, reference: str) -> Capture:
        with transaction.atomic():
            charge = self._charge(authorization_id)
            done = self._repeat("capture", reference, amount)
            if done is None:
                if charge.payment_method == CARD_CAPTURE_FAILS:
                    raise Declined("capture_failed", "The sandbox declined the capture (test card).")
                if charge.status != "authorized":
                    raise Declined("not_authorized", f"The authorization is {charge.status}, not open for capture.")
                if amount.currency != charge.currency or not 0 < amount.amount <= charge.amount:
                    raise Declined(
                        "amount_invalid", "A capture takes more than zero and at most the authorized amount."
                    )
                charge.status = "captured"
                charge.captured_amount = amount.amount
                charge.save(update_fields=["status", "captured_amount"])
                done = self._record(
                    kind="capture", reference=reference, charge=charge, amount=amount.amount, currency=amount.currency
                )
        return Capture(id=_operation_id(done), authorization_id=authorization_id, amount=amount)

    def void(self, authorization_id: str, *, reference: str) -> Void:
        with transaction.atomic():
            charge = self._charge(authorization_id)
            nothing = Money.zero(charge.currency)
            if self._repeat("void", reference, nothing) is None:
                if charge.status != "authorized":
                    raise Declined("not_authorized", f"The authorization is {charge.status}, it cannot be voided.")
                charge.status = "voided"
                charge.save(update_fields=["status"])
                self._record(kind="void", reference=reference, charge=charge, amount=0, currency=charge.currency)
        return Void(authorization_id=authorization_id)

    def refund(self, capture_id: str, amount: Money, *, reference: str) -> Refund:
        with transaction.atomic():
            capture = SandboxOperation.objects.filter(kind="capture", pk=self._operation_number(capture_id)).first()
            if capture is None or capture.charge_id is None:
                raise Declined("unknown_capture", f"The sandbox knows no capture {capture_id!r}.")
            charge = SandboxCharge.objects.select_for_update().get(pk=capture.charge_id)
            done = self._repeat("refund", reference, amount)
            if done is None:
                refundable = charge.captured_amount - charge.refunded_amount
                if amount.currency != charge.currency or not 0 < amount.amount <= refundable:
                    raise Declined("amount_invalid", f"A refund takes more than zero and at most {refundable}.")
                charge.refunded_amount += amount.amount
                charge.save(update_fields=["refunded_amount"])
                done = self._record(
                    kind="refund", reference=reference, charge=charge, amount=amount.amount, currency=amount.currency
                )
        return Refund(id=_operation_id(done), capture_id=capture_id, amount=amount)

    @staticmethod
    def _operation_number(operation_id: str) -> int:
        number = operation_id.rsplit("-", 1)[-1]
        return int(number) if number.isdigit() else 0

    # --- payouts and webhooks --------------------------------------------------------------------------------

    def payout(self, destination: str, amount: Money, *, reference: str) -> Payout:
        with transaction.atomic():
            done = self._repeat("payout", reference, amount)
            if done is None:
                if destination == BANK_CLOSED:
                    raise Declined("account_closed", "The destination account is closed (test account).")
                if amount.amount <= 0:
                    raise Declined("amount_invalid", "A payout moves more than zero.")
                done = self._record(
                    kind="payout",
                    reference=reference,
                    amount=amount.amount,
                    currency=amount.currency,
                    destination=destination,
                )
        return Payout(id=_operation_id(done), destination=done.destination, amount=amount)

    @staticmethod
    def sign_webhook(payload: bytes) -> str:
        """The signature the sandbox sends with `payload` (what a test or a local tool needs to forge one)."""
        secret = settings.CROWDMAKER_SANDBOX_WEBHOOK_SECRET.encode()
        return hmac.new(secret, payload, hashlib.sha256).hexdigest()

    def verify_webhook(self, payload: bytes, signature: str) -> dict[str, Any]:
        given = signature.strip().removeprefix("sha256=")
        if not hmac.compare_digest(self.sign_webhook(payload).encode(), given.encode()):
            raise WebhookInvalid("The webhook signature does not match.")
        try:
            event = json.loads(payload)
        except (UnicodeDecodeError, ValueError) as exc:
            raise WebhookInvalid("The webhook payload is not JSON.") from exc
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise WebhookInvalid("A webhook event is a JSON object with a 'type'.")
        return event
