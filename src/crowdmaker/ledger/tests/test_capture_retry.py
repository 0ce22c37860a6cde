"""A declined capture that keeps the authorization (`void_on_decline=False`), as a campaign's settlement asks:
nothing is posted, the payment stays authorized, each later attempt is a request of its own at the gateway, and
a voiding at the end still works. The default (void on decline) is covered in test_payments."""

from __future__ import annotations

from typing import Any

import pytest

from crowdmaker.ledger import payments
from crowdmaker.ledger.gateways import Declined, GatewayUnavailable, sandbox
from crowdmaker.ledger.gateways.sandbox import SandboxGateway
from crowdmaker.ledger.models import Leg, Payment, SandboxCharge, SandboxOperation, Transaction
from crowdmaker.ledger.money import Money
from crowdmaker.people import services as people
from crowdmaker.people.models import Team, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(user: User) -> Team:
    return people.team_create(actor=user, slug="lamp-makers", name="Lamp makers")


def authorize(payer: User, team: Team, card: str) -> Payment:
    return payments.payment_authorize(payer_id=str(payer.pk), payee_kind="team", payee_id=str(team.pk),
                                      amount=Money(10_000, "EUR"), payment_method=card)  # fmt: skip


def operations(payment: Payment) -> list[tuple[str, str, str]]:
    return list(payment.operations.order_by("pk").values_list("kind", "reference", "status"))


class DeclinesFirstCapture(SandboxGateway):
    """The sandbox, except that the first capture it is asked for is declined (a card fixed in between)."""

    declined: list[str] = []

    def capture(self, authorization_id: str, amount: Money, *, reference: str) -> Any:
        if not DeclinesFirstCapture.declined:
            DeclinesFirstCapture.declined.append(reference)
            raise Declined("capture_failed", "declined once")
        return super().capture(authorization_id, amount, reference=reference)


def test_a_declined_capture_can_keep_the_authorization_and_posts_nothing(other_user: User, team: Team) -> None:
    payment = authorize(other_user, team, sandbox.CARD_CAPTURE_FAILS)
    ref = payment.reference

    for _ in range(2):
        with pytest.raises(payments.PaymentDeclined) as caught:
            payments.payment_capture(payment=payment, void_on_decline=False)
        assert caught.value.code == "capture_declined"

    payment.refresh_from_db()
    assert (payment.status, payment.captured_amount, payment.failure_code) == ("authorized", 0, "")
    assert operations(payment) == [
        ("authorize", ref, "succeeded"),
        ("capture", f"{ref}:capture", "failed"),
        ("capture", f"{ref}:capture:2", "failed"),
    ]
    assert SandboxCharge.objects.get().status == "authorized"  # the hold stays on the card
    assert Transaction.objects.count() == Leg.objects.count() == 0

    voided = payments.payment_void(payment=payment)  # given up at last: the hold is released
    assert voided.status == "voided"
    assert SandboxCharge.objects.get().status == "voided"
    assert Transaction.objects.count() == 0


def test_a_later_attempt_captures_once_under_its_own_reference(other_user: User, team: Team) -> None:
    payment = authorize(other_user, team, sandbox.CARD_OK)
    DeclinesFirstCapture.declined = []
    with pytest.raises(payments.PaymentDeclined):
        payments.payment_capture(payment=payment, gateway=DeclinesFirstCapture(), void_on_decline=False)

    captured = payments.payment_capture(payment=payment, gateway=DeclinesFirstCapture(), void_on_decline=False)
    again = payments.payment_capture(payment=payment, void_on_decline=False)

    assert DeclinesFirstCapture.declined == [f"{payment.reference}:capture"]
    assert (captured.status, captured.captured_amount, captured.fee_amount) == ("captured", 10_000, 1_000)
    assert (again.pk, again.status) == (captured.pk, "captured")
    assert list(SandboxOperation.objects.values_list("kind", "reference")) == [
        ("capture", f"{payment.reference}:capture:2")
    ]
    assert sorted(Transaction.objects.values_list("kind", flat=True)) == ["payment-capture", "platform-fee"]


def test_a_pending_retry_resumes_under_the_reference_it_started_with(other_user: User, team: Team) -> None:
    payment = authorize(other_user, team, sandbox.CARD_OK)
    DeclinesFirstCapture.declined = []
    with pytest.raises(payments.PaymentDeclined):
        payments.payment_capture(payment=payment, gateway=DeclinesFirstCapture(), void_on_decline=False)

    class Unreachable(SandboxGateway):
        def capture(self, authorization_id: str, amount: Money, *, reference: str) -> Any:
            raise GatewayUnavailable("down")

    with pytest.raises(payments.GatewayDown):
        payments.payment_capture(payment=payment, gateway=Unreachable(), void_on_decline=False)
    resumed = payments.payment_capture(payment=payment, void_on_decline=False)

    assert resumed.status == "captured"
    assert operations(payment)[1:] == [
        ("capture", f"{payment.reference}:capture", "failed"),
        ("capture", f"{payment.reference}:capture:2", "succeeded"),
    ]
    assert SandboxOperation.objects.filter(kind="capture").count() == 1
