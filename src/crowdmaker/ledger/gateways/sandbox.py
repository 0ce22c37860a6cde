"""The sandbox gateway, the default: deterministic test cards, no real money, state kept in the database.

Payment methods (pass as `payment_method`):

    sandbox-card-ok                    always authorizes, captures, refunds
    sandbox-card-declined              authorization declined (reason "card_declined")
    sandbox-card-insufficient-funds    authorization refused: insufficient funds at the card
    sandbox-card-network-error-once    the first authorize() of a reference fails with GatewayUnavailable;
                                       calling again with the same reference succeeds
    sandbox-card-capture-fails         authorizes, but capture() is declined (reason "capture_failed")
    sandbox-card-refund-fails-once     authorizes and captures; the first refund() of the charge is declined
                                       (reason "refund_failed", again if that reference is asked again); a
                                       refund under another reference after it succeeds

Payout destinations: anything, except `sandbox-bank-closed`, which is declined (reason "account_closed").
Webhooks are signed with HMAC-SHA256 of the raw payload under CROWDMAKER_SANDBOX_WEBHOOK_SECRET, sent as
the lowercase hex digest (optionally prefixed "sha256="). The sandbox never touches the ledger; its tables
(SandboxCharge, SandboxOperation) stand in for the provider's side, so every process sees the same state.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from crowdmaker.ledger.columns import columns_execute
from crowdmaker.ledger.gateways.base import (
    Authorization,
    Capture,
    CaptureRequest,
    CardInsufficientFunds,
    Declined,
    GatewayUnavailable,
    PaymentGateway,
    Payout,
    Refund,
    Void,
    VoidRequest,
    WebhookInvalid,
)
from crowdmaker.ledger.models import SandboxCharge, SandboxOperation
from crowdmaker.ledger.money import Money

CARD_OK = "sandbox-card-ok"
CARD_DECLINED = "sandbox-card-declined"
CARD_INSUFFICIENT_FUNDS = "sandbox-card-insufficient-funds"
CARD_NETWORK_ERROR_ONCE = "sandbox-card-network-error-once"
CARD_CAPTURE_FAILS = "sandbox-card-capture-fails"
CARD_REFUND_FAILS_ONCE = "sandbox-card-refund-fails-once"
CARDS = (CARD_OK, CARD_DECLINED, CARD_INSUFFICIENT_FUNDS, CARD_NETWORK_ERROR_ONCE, CARD_CAPTURE_FAILS,
         CARD_REFUND_FAILS_ONCE)  # fmt: skip
# The record of a refund the sandbox declined (CARD_REFUND_FAILS_ONCE), kept under its reference.
_REFUND_DECLINED = "refund-declined"
BANK_CLOSED = "sandbox-bank-closed"

_AUTH_PREFIX = "sandbox-auth-"


def _operation_id(operation: SandboxOperation) -> str:
    return f"sandbox-{operation.kind}-{operation.pk}"


def _capture_refusal(
    payment_method: str, status: str, authorized: int, currency: str, amount: Money
) -> Declined | None:
    if payment_method == CARD_CAPTURE_FAILS:
        return Declined("capture_failed", "The sandbox declined the capture (test card).")
    if status != "authorized":
        return Declined("not_authorized", f"The authorization is {status}, not open for capture.")
    if amount.currency != currency or not 0 < amount.amount <= authorized:
        return Declined("amount_invalid", "A capture takes more than zero and at most the authorized amount.")
    return None


def _void_refusal(status: str) -> Declined | None:
    if status != "authorized":
        return Declined("not_authorized", f"The authorization is {status}, it cannot be voided.")
    return None


@dataclass
class _Charge:
    """A charge as a batch sees it: read locked at the start, changed in memory, written once at the end."""

    pk: int
    payment_method: str
    status: str
    amount: int
    currency: str
    captured_amount: int


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
        if payment_method in (CARD_OK, CARD_CAPTURE_FAILS, CARD_REFUND_FAILS_ONCE):
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
                refusal = _capture_refusal(charge.payment_method, charge.status, charge.amount, charge.currency, amount)
                if refusal is not None:
                    raise refusal
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
                refusal = _void_refusal(charge.status)
                if refusal is not None:
                    raise refusal
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
            refusal = self._refund_fails_once(charge, reference, amount)
            if refusal is None:
                done = self._repeat("refund", reference, amount)
                if done is None:
                    refundable = charge.captured_amount - charge.refunded_amount
                    if amount.currency != charge.currency or not 0 < amount.amount <= refundable:
                        raise Declined("amount_invalid", f"A refund takes more than zero and at most {refundable}.")
                    charge.refunded_amount += amount.amount
                    charge.save(update_fields=["refunded_amount"])
                    done = self._record(kind="refund", reference=reference, charge=charge, amount=amount.amount,
                                        currency=amount.currency)  # fmt: skip
        if refusal is not None:  # raised after the commit that remembers it
            raise refusal
        assert done is not None
        return Refund(id=_operation_id(done), capture_id=capture_id, amount=amount)

    def _refund_fails_once(self, charge: SandboxCharge, reference: str, amount: Money) -> Declined | None:
        """CARD_REFUND_FAILS_ONCE: the charge's first refund is declined, and so is that reference whenever it is
        asked again (recorded, as a provider remembers what it answered); any other refund goes ahead."""
        if charge.payment_method != CARD_REFUND_FAILS_ONCE:
            return None
        declined = SandboxOperation.objects.filter(kind=_REFUND_DECLINED, charge=charge)
        if not declined.filter(reference=reference).exists():
            if declined.exists() or SandboxOperation.objects.filter(kind="refund", charge=charge).exists():
                return None
            self._record(kind=_REFUND_DECLINED, reference=reference, charge=charge, amount=amount.amount,
                         currency=amount.currency)  # fmt: skip
        return Declined("refund_failed", "The sandbox declined the refund (test card); a later refund succeeds.")

    @staticmethod
    def _operation_number(operation_id: str) -> int:
        number = operation_id.rsplit("-", 1)[-1]
        return int(number) if number.isdigit() else 0

    # --- batches: the whole batch in one transaction of the sandbox's own, as a provider's batch API answers ----

    def capture_many(self, requests: Sequence[CaptureRequest]) -> list[Capture | Declined | GatewayUnavailable]:
        """Each capture answered exactly as `capture` answers it, all of them in one database transaction."""
        answers = self._batch("capture", [(r.authorization_id, r.reference, r.amount) for r in requests])
        return [
            Capture(id=answer, authorization_id=r.authorization_id, amount=r.amount)
            if isinstance(answer, str)
            else answer
            for r, answer in zip(requests, answers, strict=True)
        ]

    def void_many(self, requests: Sequence[VoidRequest]) -> list[Void | Declined | GatewayUnavailable]:
        """Each void answered exactly as `void` answers it, all of them in one database transaction."""
        answers = self._batch("void", [(r.authorization_id, r.reference, None) for r in requests])
        return [
            Void(authorization_id=r.authorization_id) if isinstance(answer, str) else answer
            for r, answer in zip(requests, answers, strict=True)
        ]

    def _batch(
        self, kind: str, requests: Sequence[tuple[str, str, Money | None]]
    ) -> list[str | Declined | GatewayUnavailable]:
        """Captures (amount given) or voids (None) of a batch: for each, the operation id, or the error `capture` or
        `void` would raise for it. A set of statements, not a round trip per request."""
        answers: list[str | Declined | GatewayUnavailable] = []
        try:
            with transaction.atomic():
                numbers = [self._charge_number(authorization_id) for authorization_id, _, _ in requests]
                charges = {
                    row[0]: _Charge(*row)
                    for row in columns_execute(
                        "SELECT c.id, c.payment_method, c.status, c.amount, c.currency, c.captured_amount "
                        "FROM unnest(%s::bigint[]) AS x(id) CROSS JOIN LATERAL ("
                        "    SELECT * FROM ledger_sandboxcharge WHERE id = x.id LIMIT 1 FOR UPDATE"
                        ") c",
                        [sorted({n for n in numbers if n is not None})],
                    )
                }
                done = {
                    reference: (pk, done_kind, amount, currency)
                    for pk, reference, done_kind, amount, currency in columns_execute(
                        "SELECT o.id, o.reference, o.kind, o.amount, o.currency FROM unnest(%s::text[]) AS x(ref) "
                        "CROSS JOIN LATERAL (SELECT * FROM ledger_sandboxoperation WHERE reference = x.ref LIMIT 1) o",
                        [[reference for _, reference, _ in requests]],
                    )
                }
                new: dict[str, tuple[_Charge, Money]] = {}  # by reference: a reference repeated in the batch is one
                for number, (authorization_id, reference, asked) in zip(numbers, requests, strict=True):
                    charge = charges.get(number) if number is not None else None
                    if charge is None:
                        answers.append(Declined("unknown_authorization",
                                                f"The sandbox knows no authorization {authorization_id!r}."))  # fmt: skip
                        continue
                    amount = asked if asked is not None else Money.zero(charge.currency)
                    earlier = done.get(reference)
                    if earlier is None and reference in new:
                        earlier = (0, kind, new[reference][1].amount, new[reference][1].currency)
                    if earlier is not None:
                        if earlier[1:] != (kind, amount.amount, amount.currency):
                            answers.append(
                                Declined("reference_reused", "This reference was used for a different operation.")
                            )
                        else:
                            answers.append(reference)  # its id, once the new ones are recorded
                        continue
                    refusal = (
                        _capture_refusal(charge.payment_method, charge.status, charge.amount, charge.currency, amount)
                        if kind == "capture"
                        else _void_refusal(charge.status)
                    )
                    if refusal is not None:
                        answers.append(refusal)
                        continue
                    charge.status = "captured" if kind == "capture" else "voided"
                    charge.captured_amount = amount.amount if kind == "capture" else 0
                    new[reference] = (charge, amount)
                    answers.append(reference)
                recorded = self._record_many(kind, new)
        except IntegrityError:  # a reference recorded at the same moment by another process
            return [GatewayUnavailable("The sandbox is busy with this batch; retry.") for _ in requests]
        ids = {reference: f"sandbox-{kind}-{pk}" for reference, (pk, *_) in done.items()} | recorded
        return [ids[answer] if isinstance(answer, str) else answer for answer in answers]

    @staticmethod
    def _charge_number(authorization_id: str) -> int | None:
        number = authorization_id.removeprefix(_AUTH_PREFIX)
        if not authorization_id.startswith(_AUTH_PREFIX) or not number.isdigit():
            return None
        return int(number)

    @staticmethod
    def _record_many(kind: str, new: dict[str, tuple[_Charge, Money]]) -> dict[str, str]:
        """Write the batch's changed charges and its new operations; their ids by reference."""
        if not new:
            return {}
        charges = [charge for charge, _ in new.values()]
        columns_execute(
            """
            UPDATE ledger_sandboxcharge c SET status = v.status, captured_amount = v.captured_amount
            FROM unnest(%s::bigint[], %s::text[], %s::bigint[]) AS v(id, status, captured_amount)
            WHERE c.id = v.id
            """,
            [[c.pk for c in charges], [c.status for c in charges], [c.captured_amount for c in charges]],
        )
        recorded = columns_execute(
            """
            INSERT INTO ledger_sandboxoperation
                (kind, reference, charge_id, amount, currency, destination, created_at)
            SELECT %s, reference, charge_id, amount, currency, '', %s
            FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::text[])
                WITH ORDINALITY AS o(reference, charge_id, amount, currency, position)
            ORDER BY position
            RETURNING reference, id
            """,
            [kind, timezone.now(), list(new), [c.pk for c in charges], [m.amount for _, m in new.values()],
             [m.currency for _, m in new.values()]],
        )  # fmt: skip
        return {reference: f"sandbox-{kind}-{pk}" for reference, pk in recorded}

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
