"""The `PaymentGateway` interface every payment provider plugs in behind, with its results and typed errors.

A gateway moves money outside the platform; it never touches the ledger or the database rows of payments.
Every call that moves money takes a `reference`: calling again with the same reference returns the first
result instead of moving money twice, which is what makes retrying a `GatewayUnavailable` safe. Captures and voids
also come in batches (`capture_many`, `void_many`), for settlement's thousands of pledges: by default one call per
request; a gateway with a batch API, or that can make its calls in parallel, overrides them.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crowdmaker.ledger.money import Money


class GatewayError(Exception):
    """Something the gateway refused or could not do."""

    code = "gateway_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Declined(GatewayError):
    """The gateway said no for good (card declined, capture refused); retrying will not help."""

    code = "declined"

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or f"The payment was declined ({reason}).")
        self.reason = reason


class CardInsufficientFunds(Declined):
    """The card's account does not hold enough money (not to be confused with the ledger's InsufficientFunds)."""

    code = "card_insufficient_funds"

    def __init__(self, message: str = "The card has insufficient funds.") -> None:
        super().__init__("insufficient_funds", message)


class GatewayUnavailable(GatewayError):
    """The gateway could not be reached or answered with an error of its own: retry with the same reference."""

    code = "gateway_unavailable"


class WebhookInvalid(GatewayError):
    """A webhook whose signature does not match, or whose payload is not an event."""

    code = "webhook_invalid"


@dataclass(frozen=True)
class Authorization:
    id: str
    status: str  # "authorized"
    amount: Money
    reference: str


@dataclass(frozen=True)
class Capture:
    id: str
    authorization_id: str
    amount: Money


@dataclass(frozen=True)
class Void:
    authorization_id: str


@dataclass(frozen=True)
class Refund:
    id: str
    capture_id: str
    amount: Money


@dataclass(frozen=True)
class Payout:
    id: str
    destination: str
    amount: Money


@dataclass(frozen=True)
class CaptureRequest:
    """One capture of a batch: `capture`'s arguments."""

    authorization_id: str
    amount: Money
    reference: str


@dataclass(frozen=True)
class VoidRequest:
    """One void of a batch: `void`'s arguments."""

    authorization_id: str
    reference: str


class PaymentGateway(abc.ABC):
    """A payment provider. Implementations must be safe to call again with the same reference."""

    #: Short name; the ledger keeps this gateway's accounts under the owner ("gateway", name).
    name: str

    @abc.abstractmethod
    def authorize(self, amount: Money, payment_method: str, reference: str) -> Authorization:
        """Hold `amount` on the payment method. Raises Declined, CardInsufficientFunds or GatewayUnavailable."""

    @abc.abstractmethod
    def capture(self, authorization_id: str, amount: Money, *, reference: str) -> Capture:
        """Take up to the authorized amount. Raises Declined or GatewayUnavailable."""

    @abc.abstractmethod
    def void(self, authorization_id: str, *, reference: str) -> Void:
        """Release an authorization that was not captured."""

    def capture_many(self, requests: Sequence[CaptureRequest]) -> list[Capture | Declined | GatewayUnavailable]:
        """Capture each request, answering each in order with its Capture, or with the Declined or
        GatewayUnavailable it met alone: one request's trouble does not stop the others. Repeating a request (its
        reference) is as safe as repeating `capture`. This default calls `capture` once per request."""
        answers: list[Capture | Declined | GatewayUnavailable] = []
        for request in requests:
            try:
                answers.append(self.capture(request.authorization_id, request.amount, reference=request.reference))
            except (Declined, GatewayUnavailable) as exc:
                answers.append(exc)
        return answers

    def void_many(self, requests: Sequence[VoidRequest]) -> list[Void | Declined | GatewayUnavailable]:
        """Void each request, answering each in order as `capture_many` does. This default calls `void` once per
        request."""
        answers: list[Void | Declined | GatewayUnavailable] = []
        for request in requests:
            try:
                answers.append(self.void(request.authorization_id, reference=request.reference))
            except (Declined, GatewayUnavailable) as exc:
                answers.append(exc)
        return answers

    @abc.abstractmethod
    def refund(self, capture_id: str, amount: Money, *, reference: str) -> Refund:
        """Give back up to the captured amount, in one or several refunds."""

    @abc.abstractmethod
    def payout(self, destination: str, amount: Money, *, reference: str) -> Payout:
        """Send money to a bank account or wallet outside the platform."""

    @abc.abstractmethod
    def verify_webhook(self, payload: bytes, signature: str) -> dict[str, Any]:
        """The event a webhook carries, once its signature is proven. Raises WebhookInvalid otherwise."""
