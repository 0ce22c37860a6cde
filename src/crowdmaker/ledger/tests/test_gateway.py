"""The sandbox gateway: each test card behaves as documented, state survives across gateway instances
(processes share the database), retries with the same reference never do anything twice, webhooks verify."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.test import override_settings

from crowdmaker.ledger.gateways import (
    CardInsufficientFunds,
    Declined,
    GatewayUnavailable,
    PaymentGateway,
    WebhookInvalid,
    payment_gateway,
    sandbox,
)
from crowdmaker.ledger.gateways.sandbox import SandboxGateway
from crowdmaker.ledger.models import SandboxCharge, SandboxOperation
from crowdmaker.ledger.money import Money

pytestmark = pytest.mark.django_db


def eur(cents: int) -> Money:
    return Money(cents, "EUR")


def test_the_configured_gateway_is_the_sandbox_by_default() -> None:
    assert isinstance(payment_gateway(), SandboxGateway)


@override_settings(CROWDMAKER_PAYMENT_GATEWAY="crowdmaker.ledger.money.Money")
def test_a_setting_that_names_no_gateway_is_refused() -> None:
    with pytest.raises(TypeError, match="PaymentGateway"):
        payment_gateway()


def test_the_ok_card_authorizes_captures_and_refunds() -> None:
    gateway = SandboxGateway()

    authorization = gateway.authorize(eur(5000), sandbox.CARD_OK, "ref-1")
    capture = gateway.capture(authorization.id, eur(4000), reference="ref-1:capture")
    refund = gateway.refund(capture.id, eur(1500), reference="ref-1:refund:1")

    assert authorization.status == "authorized"
    assert authorization.amount == eur(5000)
    assert capture.amount == eur(4000)
    assert refund.amount == eur(1500)
    charge = SandboxCharge.objects.get(reference="ref-1")
    assert (charge.status, charge.captured_amount, charge.refunded_amount) == ("captured", 4000, 1500)


@pytest.mark.parametrize(
    ("card", "error", "reason"),
    [
        (sandbox.CARD_DECLINED, Declined, "card_declined"),
        (sandbox.CARD_INSUFFICIENT_FUNDS, CardInsufficientFunds, "insufficient_funds"),
        ("no-such-card", Declined, "unknown_payment_method"),
    ],
)
def test_refusing_cards_are_refused_every_time(card: str, error: type[Declined], reason: str) -> None:
    for _ in range(2):
        with pytest.raises(error) as caught:
            SandboxGateway().authorize(eur(100), card, "ref-declined")
        assert caught.value.reason == reason
    assert SandboxCharge.objects.get(reference="ref-declined").attempts == 2


def test_the_flaky_card_fails_once_per_reference_then_succeeds_on_retry_from_another_instance() -> None:
    with pytest.raises(GatewayUnavailable):
        SandboxGateway().authorize(eur(100), sandbox.CARD_NETWORK_ERROR_ONCE, "ref-flaky")

    # A new instance stands for another process: the state lives in the database, not in the object.
    authorization = SandboxGateway().authorize(eur(100), sandbox.CARD_NETWORK_ERROR_ONCE, "ref-flaky")
    again = SandboxGateway().authorize(eur(100), sandbox.CARD_NETWORK_ERROR_ONCE, "ref-flaky")

    assert authorization.status == "authorized"
    assert again.id == authorization.id
    assert SandboxCharge.objects.filter(reference="ref-flaky").count() == 1
    # Another reference meets the network error afresh.
    with pytest.raises(GatewayUnavailable):
        SandboxGateway().authorize(eur(100), sandbox.CARD_NETWORK_ERROR_ONCE, "ref-flaky-2")


def test_the_capture_failing_card_authorizes_but_its_capture_is_declined_and_it_can_be_voided() -> None:
    gateway = SandboxGateway()
    authorization = gateway.authorize(eur(2500), sandbox.CARD_CAPTURE_FAILS, "ref-cf")

    with pytest.raises(Declined) as caught:
        gateway.capture(authorization.id, eur(2500), reference="ref-cf:capture")
    gateway.void(authorization.id, reference="ref-cf:void")

    assert caught.value.reason == "capture_failed"
    assert SandboxCharge.objects.get(reference="ref-cf").status == "voided"
    assert not SandboxOperation.objects.filter(kind="capture").exists()


def test_repeating_a_reference_returns_the_first_result_and_moves_nothing_twice() -> None:
    gateway = SandboxGateway()
    authorization = gateway.authorize(eur(1000), sandbox.CARD_OK, "ref-r")
    assert gateway.authorize(eur(1000), sandbox.CARD_OK, "ref-r") == authorization

    capture = gateway.capture(authorization.id, eur(1000), reference="ref-r:capture")
    assert gateway.capture(authorization.id, eur(1000), reference="ref-r:capture") == capture
    refund = gateway.refund(capture.id, eur(300), reference="ref-r:refund")
    assert gateway.refund(capture.id, eur(300), reference="ref-r:refund") == refund
    payout = gateway.payout("sandbox-bank-1", eur(50), reference="po-1")
    assert gateway.payout("sandbox-bank-1", eur(50), reference="po-1") == payout

    charge = SandboxCharge.objects.get(reference="ref-r")
    assert (charge.attempts, charge.captured_amount, charge.refunded_amount) == (2, 1000, 300)
    assert SandboxOperation.objects.count() == 3


def test_a_reference_reused_for_something_else_is_declined() -> None:
    gateway = SandboxGateway()
    gateway.authorize(eur(1000), sandbox.CARD_OK, "ref-x")

    with pytest.raises(Declined) as caught:
        gateway.authorize(eur(999), sandbox.CARD_OK, "ref-x")

    assert caught.value.reason == "reference_reused"
    assert SandboxCharge.objects.get(reference="ref-x").amount == 1000


def test_captures_and_refunds_stay_within_what_was_authorized_and_captured() -> None:
    gateway = SandboxGateway()
    authorization = gateway.authorize(eur(1000), sandbox.CARD_OK, "ref-l")
    with pytest.raises(Declined):
        gateway.capture(authorization.id, eur(1001), reference="ref-l:c0")
    capture = gateway.capture(authorization.id, eur(800), reference="ref-l:c1")
    with pytest.raises(Declined):  # captured once; a second capture is refused
        gateway.capture(authorization.id, eur(100), reference="ref-l:c2")
    with pytest.raises(Declined):
        gateway.void(authorization.id, reference="ref-l:v")
    gateway.refund(capture.id, eur(500), reference="ref-l:r1")
    with pytest.raises(Declined):
        gateway.refund(capture.id, eur(301), reference="ref-l:r2")

    charge = SandboxCharge.objects.get(reference="ref-l")
    assert (charge.status, charge.captured_amount, charge.refunded_amount) == ("captured", 800, 500)


def test_unknown_authorizations_and_closed_bank_accounts_are_declined() -> None:
    gateway = SandboxGateway()
    with pytest.raises(Declined, match="no authorization"):
        gateway.capture("sandbox-auth-999999", eur(1), reference="c")
    with pytest.raises(Declined, match="no authorization"):
        gateway.void("someone-elses-id", reference="v")
    with pytest.raises(Declined) as caught:
        gateway.payout(sandbox.BANK_CLOSED, eur(100), reference="po-closed")
    assert caught.value.reason == "account_closed"
    assert SandboxOperation.objects.count() == 0


def test_a_webhook_signed_with_the_secret_verifies() -> None:
    payload = json.dumps({"type": "payment.captured", "id": "evt_1"}).encode()

    event = SandboxGateway().verify_webhook(payload, SandboxGateway.sign_webhook(payload))
    prefixed = SandboxGateway().verify_webhook(payload, "sha256=" + SandboxGateway.sign_webhook(payload))

    assert event == prefixed == {"type": "payment.captured", "id": "evt_1"}


@pytest.mark.parametrize(
    "tamper",
    [
        lambda payload, signature: (payload + b" ", signature),
        lambda payload, signature: (payload, signature[:-1] + ("0" if signature[-1] != "0" else "1")),
        lambda payload, signature: (payload, ""),
        lambda payload, signature: (payload, "é" * 64),
    ],
    ids=["payload changed", "signature changed", "no signature", "not hex"],
)
def test_a_webhook_with_a_bad_signature_is_refused(tamper: Callable[[bytes, str], tuple[bytes, str]]) -> None:
    payload = json.dumps({"type": "payment.captured"}).encode()
    payload, signature = tamper(payload, SandboxGateway.sign_webhook(payload))

    with pytest.raises(WebhookInvalid):
        SandboxGateway().verify_webhook(payload, signature)


@override_settings(CROWDMAKER_SANDBOX_WEBHOOK_SECRET="another-secret")
def test_a_webhook_signed_with_another_secret_is_refused() -> None:
    payload = b'{"type": "payment.captured"}'
    with override_settings(CROWDMAKER_SANDBOX_WEBHOOK_SECRET="sandbox-webhook-secret"):
        signature = SandboxGateway.sign_webhook(payload)

    with pytest.raises(WebhookInvalid):
        SandboxGateway().verify_webhook(payload, signature)


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'{"id": 1}', b"\xff\xfe"])
def test_a_correctly_signed_webhook_that_is_no_event_is_refused(payload: bytes) -> None:
    with pytest.raises(WebhookInvalid):
        SandboxGateway().verify_webhook(payload, SandboxGateway.sign_webhook(payload))


def test_the_sandbox_is_a_payment_gateway() -> None:
    assert issubclass(SandboxGateway, PaymentGateway)
    assert SandboxGateway.name == "sandbox"
