"""Payments through the ledger: authorize, capture (with the fee), void, refund, payout; the sandbox's cards;
the database refusing impossible payment states; and the API with its visibility rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from crowdmaker.conftest import ApiClient
from crowdmaker.core.errors import Conflict, Invalid
from crowdmaker.ledger import payments
from crowdmaker.ledger.gateways import Authorization, GatewayUnavailable, sandbox
from crowdmaker.ledger.gateways.sandbox import SandboxGateway
from crowdmaker.ledger.models import (
    Account,
    Leg,
    Payment,
    PaymentOperation,
    Payout,
    SandboxCharge,
    SandboxOperation,
    Transaction,
)
from crowdmaker.ledger.money import Money
from crowdmaker.ledger.services import InsufficientFunds, account_open, transaction_post
from crowdmaker.people import services as people
from crowdmaker.people.models import Team, User

pytestmark = pytest.mark.django_db


def eur(cents: int) -> Money:
    return Money(cents, "EUR")


def balances() -> dict[str, int]:
    return {str(account): account.balance for account in Account.objects.all()}


def ledger_state() -> tuple[int, int, dict[str, int]]:
    return Transaction.objects.count(), Leg.objects.count(), balances()


@pytest.fixture
def team(user: User) -> Team:
    return people.team_create(actor=user, slug="lamp-makers", name="Lamp makers")


def authorize(payer: User, team: Team, cents: int = 10_000, card: str = sandbox.CARD_OK, **kw: Any) -> Payment:
    return payments.payment_authorize(
        payer_id=str(payer.pk), payee_kind="team", payee_id=str(team.pk), amount=eur(cents), payment_method=card, **kw
    )


class UnreachableGateway(SandboxGateway):
    """The sandbox behind a network that drops every call, counting them."""

    calls = 0

    def _down(self) -> Any:
        UnreachableGateway.calls += 1
        raise GatewayUnavailable("down")

    def authorize(self, amount: Money, payment_method: str, reference: str) -> Authorization:
        return self._down()

    def capture(self, authorization_id: str, amount: Money, *, reference: str) -> Any:
        return self._down()

    def void(self, authorization_id: str, *, reference: str) -> Any:
        return self._down()

    def refund(self, capture_id: str, amount: Money, *, reference: str) -> Any:
        return self._down()

    def payout(self, destination: str, amount: Money, *, reference: str) -> Any:
        return self._down()


# --- authorize ------------------------------------------------------------------------------------------------


def test_the_ok_card_authorizes_and_nothing_is_posted_yet(other_user: User, team: Team) -> None:
    payment = authorize(other_user, team)

    assert payment.status == "authorized"
    assert payment.authorization_id.startswith("sandbox-auth-")
    assert (payment.payer_id, payment.payee_kind, payment.payee_id) == (str(other_user.pk), "team", str(team.pk))
    assert Transaction.objects.count() == 0


@pytest.mark.parametrize(
    ("card", "code"),
    [
        (sandbox.CARD_DECLINED, "card_declined"),
        (sandbox.CARD_INSUFFICIENT_FUNDS, "insufficient_funds"),
        ("made-up-card", "unknown_payment_method"),
    ],
)
def test_a_refused_card_fails_the_payment_and_posts_nothing(other_user: User, team: Team, card: str, code: str) -> None:
    with pytest.raises(payments.PaymentDeclined) as caught:
        authorize(other_user, team, card=card)

    assert caught.value.code == code
    assert caught.value.status == 402
    payment = Payment.objects.get()
    assert (payment.status, payment.failure_code, payment.authorization_id) == ("failed", code, "")
    assert Transaction.objects.count() == 0


def test_the_flaky_card_is_retried_with_the_same_reference_and_authorized(other_user: User, team: Team) -> None:
    payment = authorize(other_user, team, card=sandbox.CARD_NETWORK_ERROR_ONCE)

    assert payment.status == "authorized"
    charge = SandboxCharge.objects.get()
    assert (charge.reference, charge.attempts) == (payment.reference, 2)


def test_a_gateway_that_stays_down_leaves_the_payment_pending_and_a_rerun_resumes_it(
    other_user: User, team: Team
) -> None:
    UnreachableGateway.calls = 0
    with pytest.raises(payments.GatewayDown):
        authorize(other_user, team, reference="ref-down", gateway=UnreachableGateway())

    assert UnreachableGateway.calls == payments.GATEWAY_ATTEMPTS
    pending = Payment.objects.get()
    assert pending.status == "pending"
    assert pending.operations.get().status == "pending"

    resumed = authorize(other_user, team, reference="ref-down")

    assert resumed.pk == pending.pk
    assert resumed.status == "authorized"
    assert Payment.objects.count() == 1
    assert list(pending.operations.values_list("kind", "status")) == [("authorize", "succeeded")]


def test_the_same_reference_for_other_terms_is_refused(other_user: User, team: Team) -> None:
    authorize(other_user, team, reference="ref-1")

    with pytest.raises(Invalid) as caught:
        authorize(other_user, team, cents=9_999, reference="ref-1")

    assert caught.value.code == "reference_reused"
    assert Payment.objects.get().amount == 10_000


@pytest.mark.parametrize(("kind", "owner_id"), [("team", "999999"), ("platform", ""), ("gateway", "sandbox")])
def test_a_payee_that_does_not_exist_or_may_not_be_paid_is_refused(other_user: User, kind: str, owner_id: str) -> None:
    with pytest.raises(Invalid) as caught:
        payments.payment_authorize(
            payer_id=str(other_user.pk), payee_kind=kind, payee_id=owner_id, amount=eur(100),
            payment_method=sandbox.CARD_OK,
        )  # fmt: skip

    assert caught.value.code == "payee_not_found"
    assert Payment.objects.count() == SandboxCharge.objects.count() == 0


# --- the platform fee: fixed at authorization ------------------------------------------------------------------


def test_the_fee_is_quoted_at_authorization_and_the_capture_takes_that_figure_whatever_the_rate_is_then(
    other_user: User, team: Team, settings: Any
) -> None:
    settings.CROWDMAKER_PLATFORM_FEE_RATE = "0.10"
    payment = authorize(other_user, team, cents=10_005)
    assert (payment.fee_quoted, payment.fee_amount) == (1_001, 0)

    settings.CROWDMAKER_PLATFORM_FEE_RATE = "25%"
    payment = payments.payment_capture(payment=payment)

    assert (payment.fee_quoted, payment.fee_amount) == (1_001, 1_001)
    assert balances()["platform/platform-revenue (EUR)"] == 1_001


def test_a_partial_capture_takes_the_quoted_fee_in_proportion(other_user: User, team: Team) -> None:
    payment = authorize(other_user, team, cents=10_005)  # quoted 1 001

    payment = payments.payment_capture(payment=payment, amount=eur(3_335))  # a third: 333.67 -> 334

    assert (payment.captured_amount, payment.fee_quoted, payment.fee_amount) == (3_335, 1_001, 334)
    assert balances()[f"team:{team.pk}/received (EUR)"] == 3_335 - 334


@pytest.mark.parametrize("rate", ["ten percent", "1.5", "-0.1", "150%", None])
def test_a_malformed_fee_rate_refuses_the_payment_before_the_card_is_charged(
    other_user: User, team: Team, settings: Any, rate: Any
) -> None:
    settings.CROWDMAKER_PLATFORM_FEE_RATE = rate

    with pytest.raises(ImproperlyConfigured, match="CROWDMAKER_PLATFORM_FEE_RATE"):
        authorize(other_user, team)

    assert Payment.objects.count() == SandboxCharge.objects.count() == Transaction.objects.count() == 0


@pytest.mark.parametrize("rate", ["ten percent", "1.5", "-0.1", "150%", "", None, 0.1])
def test_the_system_check_refuses_a_malformed_or_out_of_range_fee_rate(rate: Any) -> None:
    with override_settings(CROWDMAKER_PLATFORM_FEE_RATE=rate):
        errors = [message for message in run_checks() if message.id == "ledger.E001"]
        with pytest.raises(SystemCheckError, match=r"ledger\.E001"):
            call_command("check", stdout=StringIO(), stderr=StringIO())

    assert len(errors) == 1
    assert "CROWDMAKER_PLATFORM_FEE_RATE" in errors[0].msg
    assert "PLATFORM_FEE_RATE" in (errors[0].hint or "")


@pytest.mark.parametrize("rate", ["0.10", "10%", "0", "1", " 7.5% "])
def test_the_system_check_accepts_a_rate_between_0_and_1(rate: str) -> None:
    with override_settings(CROWDMAKER_PLATFORM_FEE_RATE=rate):
        assert [message for message in run_checks() if (message.id or "").startswith("ledger.")] == []


# --- capture and void ------------------------------------------------------------------------------------------


def test_capture_posts_the_payment_from_the_payer_to_the_payee_and_the_fee_to_the_platform(
    other_user: User, team: Team
) -> None:
    payment = payments.payment_capture(payment=authorize(other_user, team, cents=10_005))

    assert (payment.status, payment.captured_amount, payment.fee_quoted, payment.fee_amount) == (
        "captured", 10_005, 1_001, 1_001,
    )  # fmt: skip
    assert balances() == {
        "gateway:sandbox/gateway-clearing (EUR)": -10_005,
        f"person:{other_user.pk}/payments (EUR)": 0,  # the payer's pass-through
        f"team:{team.pk}/received (EUR)": 9_004,
        "platform/platform-revenue (EUR)": 1_001,
    }
    assert sorted(Transaction.objects.values_list("kind", "idempotency_key")) == [
        ("payment-capture", f"payment:{payment.pk}:capture"),
        ("platform-fee", f"payment:{payment.pk}:fee"),
    ]
    capture = Transaction.objects.get(kind="payment-capture")
    assert sorted((str(leg.account), leg.amount) for leg in capture.legs.select_related("account")) == sorted([
        ("gateway:sandbox/gateway-clearing (EUR)", -10_005),
        (f"person:{other_user.pk}/payments (EUR)", 10_005),
        (f"person:{other_user.pk}/payments (EUR)", -10_005),
        (f"team:{team.pk}/received (EUR)", 10_005),
    ])  # fmt: skip


def test_the_payers_pass_through_account_at_zero_does_not_trip_the_overdraft_check_whatever_the_leg_order(
    other_user: User, team: Team
) -> None:
    """The no-overdraft trigger judges a posting's net effect at commit: an account at zero that pays out
    first and is paid within the same posting is fine; one that only pays out is still refused."""
    clearing = account_open(owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="EUR",
                            allow_negative=True)  # fmt: skip
    payer = account_open(owner_kind="person", owner_id=str(other_user.pk), purpose="payments", currency="EUR")
    received = account_open(owner_kind="team", owner_id=str(team.pk), purpose="received", currency="EUR")

    transaction_post(kind="payment-capture", legs=[(payer, eur(-500)), (received, eur(500)), (clearing, eur(-500)),
                                                   (payer, eur(500))])  # fmt: skip
    before = ledger_state()
    with pytest.raises(InsufficientFunds):
        transaction_post(kind="payment-capture", legs=[(payer, eur(-500)), (received, eur(500))])

    assert ledger_state() == before
    payer.refresh_from_db()
    assert payer.balance == 0


def test_capturing_twice_captures_and_posts_once(other_user: User, team: Team) -> None:
    payment = payments.payment_capture(payment=authorize(other_user, team))
    before = ledger_state()

    again = payments.payment_capture(payment=payment)

    assert again.status == "captured"
    assert ledger_state() == before
    assert SandboxOperation.objects.filter(kind="capture").count() == 1


def test_a_capture_the_gateway_declines_voids_the_authorization_and_posts_nothing(other_user: User, team: Team) -> None:
    payment = authorize(other_user, team, card=sandbox.CARD_CAPTURE_FAILS)

    with pytest.raises(payments.PaymentDeclined) as caught:
        payments.payment_capture(payment=payment)

    assert caught.value.code == "capture_declined"
    payment.refresh_from_db()
    assert (payment.status, payment.failure_code, payment.captured_amount) == ("voided", "capture_failed", 0)
    assert SandboxCharge.objects.get().status == "voided"
    assert Transaction.objects.count() == Leg.objects.count() == 0
    assert balances() == {}


def test_void_releases_the_authorization_and_a_voided_payment_cannot_be_captured(other_user: User, team: Team) -> None:
    payment = payments.payment_void(payment=authorize(other_user, team))
    assert payment.status == "voided"
    assert payments.payment_void(payment=payment).status == "voided"

    with pytest.raises(Conflict) as caught:
        payments.payment_capture(payment=payment)

    assert caught.value.code == "payment_not_authorized"
    assert Transaction.objects.count() == 0
    assert SandboxCharge.objects.get().status == "voided"


def payment_state(payment: Payment) -> tuple[Any, ...]:
    payment.refresh_from_db()
    operations = list(payment.operations.order_by("pk").values_list("kind", "reference", "status", "amount"))
    return payment.status, payment.captured_amount, payment.fee_amount, payment.updated_at, operations


def test_another_operation_in_progress_makes_the_payment_busy(other_user: User, team: Team) -> None:
    payment = authorize(other_user, team)
    PaymentOperation.objects.create(payment=payment, kind="void", reference="someone-elses-void", amount=0)
    before, gateway_before = payment_state(payment), list(SandboxOperation.objects.values_list("kind", "reference"))
    WatchingGateway.seen = []

    with pytest.raises(Conflict) as caught:
        payments.payment_capture(payment=payment, gateway=WatchingGateway())

    assert caught.value.code == "payment_busy"
    assert WatchingGateway.seen == []  # the gateway was never asked
    assert list(SandboxOperation.objects.values_list("kind", "reference")) == gateway_before
    assert payment_state(payment) == before
    assert Transaction.objects.count() == 0


def test_resuming_a_capture_for_another_amount_is_refused_and_changes_nothing(other_user: User, team: Team) -> None:
    payment = authorize(other_user, team)
    with pytest.raises(payments.GatewayDown):
        payments.payment_capture(payment=payment, amount=eur(6_000), gateway=UnreachableGateway())
    before = payment_state(payment)

    with pytest.raises(Invalid) as caught:
        payments.payment_capture(payment=payment, amount=eur(7_000))

    assert (caught.value.code, caught.value.status, caught.value.field) == ("capture_amount_mismatch", 422, "amount")
    assert payment_state(payment) == before
    assert Transaction.objects.count() == 0
    assert not SandboxOperation.objects.filter(kind="capture").exists()

    resumed = payments.payment_capture(payment=payment, amount=eur(6_000))

    assert (resumed.status, resumed.captured_amount, resumed.fee_amount) == ("captured", 6_000, 600)


# --- refund ---------------------------------------------------------------------------------------------------


def test_partial_refunds_take_back_fee_and_payee_parts_in_proportion_and_add_up_exactly(
    other_user: User, team: Team
) -> None:
    payment = payments.payment_capture(payment=authorize(other_user, team, cents=999))  # fee 100, payee 899
    payment = payments.payment_refund(payment=payment, amount=eur(333))
    assert (payment.status, payment.refunded_amount) == ("partially_refunded", 333)
    assert balances()["platform/platform-revenue (EUR)"] == 100 - 33

    payment = payments.payment_refund(payment=payment, amount=eur(333))
    payment = payments.payment_refund(payment=payment, amount=eur(333))

    assert (payment.status, payment.refunded_amount) == ("refunded", 999)
    assert set(balances().values()) == {0}
    assert SandboxCharge.objects.get().refunded_amount == 999
    for refund in Transaction.objects.filter(kind="refund"):  # each goes back through the payer's account
        payer_legs = refund.legs.filter(account__owner_kind="person", account__owner_id=str(other_user.pk))
        assert sorted(payer_legs.values_list("amount", flat=True)) == [-333, 333]


@pytest.mark.parametrize("cents", [0, 10_001, -5])
def test_a_refund_beyond_what_was_captured_is_refused_and_changes_nothing(
    other_user: User, team: Team, cents: int
) -> None:
    payment = payments.payment_capture(payment=authorize(other_user, team))
    before = ledger_state()

    with pytest.raises(Invalid):
        payments.payment_refund(payment=payment, amount=Money(cents, "EUR"))

    assert ledger_state() == before
    assert not SandboxOperation.objects.filter(kind="refund").exists()
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("captured", 0)


def test_a_refund_of_money_the_payee_has_paid_on_is_refused_before_the_gateway_moves_anything(
    other_user: User, team: Team
) -> None:
    payment = payments.payment_capture(payment=authorize(other_user, team))
    received = Account.objects.get(owner_kind="team", purpose="received")
    elsewhere = account_open(owner_kind="person", owner_id=str(other_user.pk), purpose="received", currency="EUR")
    transaction_post(kind="distribution", legs=[(received, eur(-9_000)), (elsewhere, eur(9_000))])
    before = ledger_state()

    with pytest.raises(InsufficientFunds):
        payments.payment_refund(payment=payment, amount=eur(5_000))

    assert ledger_state() == before
    assert not SandboxOperation.objects.filter(kind="refund").exists()
    assert not PaymentOperation.objects.filter(kind="refund").exists()


def test_an_uncaptured_payment_cannot_be_refunded(other_user: User, team: Team) -> None:
    with pytest.raises(Conflict) as caught:
        payments.payment_refund(payment=authorize(other_user, team), amount=eur(100))
    assert caught.value.code == "payment_not_captured"


# --- payouts --------------------------------------------------------------------------------------------------


def _funded_team(other_user: User, team: Team) -> None:
    payments.payment_capture(payment=authorize(other_user, team))  # team receives 9 000


def test_a_payout_moves_money_from_the_owner_to_the_gateways_payouts(other_user: User, team: Team) -> None:
    _funded_team(other_user, team)

    payout = payments.payout_create(owner_kind="team", owner_id=str(team.pk), amount=eur(4_000),
                                    destination="sandbox-bank-lamp", reference="po-1")  # fmt: skip
    again = payments.payout_create(owner_kind="team", owner_id=str(team.pk), amount=eur(4_000),
                                   destination="sandbox-bank-lamp", reference="po-1")  # fmt: skip

    assert (payout.status, again.pk, again.status) == ("paid", payout.pk, "paid")
    assert balances()[f"team:{team.pk}/received (EUR)"] == 5_000
    assert balances()["gateway:sandbox/payouts (EUR)"] == 4_000
    assert SandboxOperation.objects.filter(kind="payout").count() == 1


def test_a_declined_payout_is_reversed_and_the_money_stays_with_the_owner(other_user: User, team: Team) -> None:
    _funded_team(other_user, team)
    before = balances()

    with pytest.raises(payments.PaymentDeclined) as caught:
        payments.payout_create(owner_kind="team", owner_id=str(team.pk), amount=eur(4_000),
                               destination=sandbox.BANK_CLOSED)  # fmt: skip

    assert caught.value.code == "payout_declined"
    assert {name: value for name, value in balances().items() if value or name in before} == before
    assert Payout.objects.get().status == "failed"
    assert Transaction.objects.filter(kind="reversal").count() == 1


def test_a_payout_beyond_the_balance_is_refused_and_changes_nothing(other_user: User, team: Team) -> None:
    _funded_team(other_user, team)
    before = ledger_state()

    with pytest.raises(InsufficientFunds):
        payments.payout_create(owner_kind="team", owner_id=str(team.pk), amount=eur(9_001), destination="bank")

    assert ledger_state()[:2] == before[:2]
    assert Payout.objects.count() == 0
    assert not SandboxOperation.objects.filter(kind="payout").exists()


# --- the database holds the rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE ledger_payment SET status = 'authorized'",  # backwards
        "UPDATE ledger_payment SET status = 'voided', captured_amount = 10000",  # captured and voided
        "UPDATE ledger_payment SET refunded_amount = 10001, status = 'refunded'",  # beyond the capture
        "UPDATE ledger_payment SET amount = 1",  # terms never change
        "UPDATE ledger_payment SET fee_quoted = fee_quoted + 1",  # the quoted fee never changes
        "UPDATE ledger_payment SET captured_amount = 5000",  # captures only grow
        "DELETE FROM ledger_payment",
    ],
)
def test_the_database_refuses_impossible_payment_changes_even_in_raw_sql(
    other_user: User, team: Team, change: str
) -> None:
    payment = payments.payment_capture(payment=authorize(other_user, team))
    quoted = payment.fee_quoted

    PaymentOperation.objects.all().delete()  # so that only the payment's own rules can refuse the DELETE

    with (
        pytest.raises(IntegrityError, match="payment"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(change)

    payment.refresh_from_db()
    assert (payment.status, payment.amount, payment.captured_amount) == ("captured", 10_000, 10_000)
    assert payment.fee_quoted == quoted


# --- the gateway is called outside database transactions ----------------------------------------------------------


class WatchingGateway(SandboxGateway):
    seen: list[tuple[str, bool]] = []

    def authorize(self, amount: Money, payment_method: str, reference: str) -> Authorization:
        self.seen.append(("authorize", connection.in_atomic_block))
        return super().authorize(amount, payment_method, reference)

    def capture(self, authorization_id: str, amount: Money, *, reference: str) -> Any:
        self.seen.append(("capture", connection.in_atomic_block))
        return super().capture(authorization_id, amount, reference=reference)

    def void(self, authorization_id: str, *, reference: str) -> Any:
        self.seen.append(("void", connection.in_atomic_block))
        return super().void(authorization_id, reference=reference)

    def refund(self, capture_id: str, amount: Money, *, reference: str) -> Any:
        self.seen.append(("refund", connection.in_atomic_block))
        return super().refund(capture_id, amount, reference=reference)

    def payout(self, destination: str, amount: Money, *, reference: str) -> Any:
        self.seen.append(("payout", connection.in_atomic_block))
        return super().payout(destination, amount, reference=reference)


@pytest.mark.django_db(transaction=True)
def test_no_gateway_call_happens_inside_a_database_transaction(other_user: User, team: Team) -> None:
    WatchingGateway.seen = []
    gateway = WatchingGateway()
    payment = authorize(other_user, team, gateway=gateway)
    payment = payments.payment_capture(payment=payment, gateway=gateway)
    payments.payment_refund(payment=payment, amount=eur(1_000), gateway=gateway)
    payments.payout_create(owner_kind="team", owner_id=str(team.pk), amount=eur(500), destination="bank",
                           gateway=gateway)  # fmt: skip

    assert WatchingGateway.seen == [("authorize", False), ("capture", False), ("refund", False), ("payout", False)]


@pytest.mark.django_db(transaction=True)
def test_no_void_happens_inside_a_database_transaction_neither_direct_nor_after_a_declined_capture(
    other_user: User, team: Team
) -> None:
    WatchingGateway.seen = []
    gateway = WatchingGateway()
    payments.payment_void(payment=authorize(other_user, team, gateway=gateway), gateway=gateway)
    declined = authorize(other_user, team, card=sandbox.CARD_CAPTURE_FAILS, gateway=gateway)
    with pytest.raises(payments.PaymentDeclined):
        payments.payment_capture(payment=declined, gateway=gateway)

    assert WatchingGateway.seen == [
        ("authorize", False), ("void", False),  # direct
        ("authorize", False), ("capture", False), ("void", False),  # after the declined capture
    ]  # fmt: skip
    assert sorted(Payment.objects.values_list("status", flat=True)) == ["voided", "voided"]


# --- the API ---------------------------------------------------------------------------------------------------

KEYS = iter(f"key-{n}" for n in range(10_000))


def call(client: ApiClient, path: str, body: Any = None, key: str | None = None) -> Any:
    return client.post(path, body, headers={"Idempotency-Key": key or next(KEYS)})


def pay_body(team: Team, cents: int = 2_500, card: str = sandbox.CARD_OK) -> dict[str, Any]:
    return {"payee": {"kind": "team", "id": str(team.pk)}, "amount": cents, "currency": "EUR", "payment_method": card}


@pytest.fixture
def payer(other_user: User, api_for: Callable[..., ApiClient]) -> ApiClient:
    return api_for(other_user)


def test_api_pay_capture_and_read(payer: ApiClient, team: Team) -> None:
    created = call(payer, "/api/v1/payments", pay_body(team))
    assert created.status_code == 201, created.json()
    body = created.json()
    assert {
        key: body[key] for key in ("status", "amount", "currency", "captured_amount", "fee_quoted", "fee_amount")
    } == {
        "status": "authorized", "amount": 2_500, "currency": "EUR", "captured_amount": 0, "fee_quoted": 250,
        "fee_amount": 0,
    }  # fmt: skip
    assert payer.get(f"/api/v1/payments/{body['id']}").json()["fee_quoted"] == 250
    assert body["payee"] == {"kind": "team", "id": str(team.pk), "label": "Lamp makers"}

    captured = call(payer, f"/api/v1/payments/{body['id']}/capture")
    assert captured.status_code == 200
    assert (captured.json()["status"], captured.json()["fee_quoted"], captured.json()["fee_amount"]) == (
        "captured", 250, 250,
    )  # fmt: skip

    assert payer.get(f"/api/v1/payments/{body['id']}").json() == captured.json()
    listed = payer.get("/api/v1/payments").json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]


def test_api_a_declined_card_answers_402_and_the_failed_payment_is_listed(payer: ApiClient, team: Team) -> None:
    answer = call(payer, "/api/v1/payments", pay_body(team, card=sandbox.CARD_DECLINED))

    assert answer.status_code == 402
    assert answer.json()["error"]["code"] == "card_declined"
    assert [item["status"] for item in payer.get("/api/v1/payments").json()["results"]] == ["failed"]
    assert Transaction.objects.count() == 0


def test_api_a_failing_capture_answers_402_and_leaves_the_payment_voided(payer: ApiClient, team: Team) -> None:
    payment_id = call(payer, "/api/v1/payments", pay_body(team, card=sandbox.CARD_CAPTURE_FAILS)).json()["id"]

    answer = call(payer, f"/api/v1/payments/{payment_id}/capture")

    assert answer.status_code == 402
    assert answer.json()["error"]["code"] == "capture_declined"
    assert payer.get(f"/api/v1/payments/{payment_id}").json()["status"] == "voided"
    assert Transaction.objects.count() == 0


def test_api_who_sees_and_who_may_act(
    payer: ApiClient, team: Team, user: User, make_user: Callable[..., User], api_for: Callable[..., ApiClient]
) -> None:
    payment_id = call(payer, "/api/v1/payments", pay_body(team)).json()["id"]
    stranger = api_for(make_user("carol"))
    team_owner = api_for(user)
    olga = make_user("olga")
    User.objects.filter(pk=olga.pk).update(is_staff=True)
    operator = api_for(olga)

    assert stranger.get(f"/api/v1/payments/{payment_id}").status_code == 404
    assert call(stranger, f"/api/v1/payments/{payment_id}/capture").status_code == 404
    assert stranger.get("/api/v1/payments").json()["results"] == []
    assert team_owner.get(f"/api/v1/payments/{payment_id}").status_code == 200
    assert call(team_owner, f"/api/v1/payments/{payment_id}/capture").status_code == 403
    assert Payment.objects.get().status == "authorized"

    assert call(payer, f"/api/v1/payments/{payment_id}/capture").status_code == 200
    refused = call(payer, f"/api/v1/payments/{payment_id}/refund", {"amount": 100})
    assert refused.status_code == 403
    assert Payment.objects.get().refunded_amount == 0
    refunded = call(team_owner, f"/api/v1/payments/{payment_id}/refund", {"amount": 100})
    assert (refunded.status_code, refunded.json()["status"]) == (200, "partially_refunded")
    assert operator.get(f"/api/v1/payments/{payment_id}").status_code == 200
    assert call(operator, f"/api/v1/payments/{payment_id}/refund", {"amount": 100}).status_code == 200


def test_api_void(payer: ApiClient, team: Team) -> None:
    payment_id = call(payer, "/api/v1/payments", pay_body(team)).json()["id"]

    answer = call(payer, f"/api/v1/payments/{payment_id}/void")

    assert (answer.status_code, answer.json()["status"]) == (200, "voided")
    conflict = call(payer, f"/api/v1/payments/{payment_id}/capture")
    assert (conflict.status_code, conflict.json()["error"]["code"]) == (409, "payment_not_authorized")


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"payee": {"kind": "team", "id": "999999"}}, 422, "payee"),
        ({"payee": {"kind": "platform", "id": "x"}}, 422, "payee"),
        ({"amount": 0}, 422, "amount"),
        ({"amount": 10**13}, 422, "amount"),
        ({"currency": "XXX"}, 422, "currency"),
        ({"currency": "eur"}, 422, "currency"),
        ({"tip": 5}, 422, "tip"),
    ],
)
def test_api_refuses_a_bad_payment_and_records_nothing(
    payer: ApiClient, team: Team, change: dict[str, Any], status: int, field: str
) -> None:
    answer = call(payer, "/api/v1/payments", {**pay_body(team), **change})

    assert answer.status_code == status
    assert answer.json()["error"]["field"] == field
    assert Payment.objects.count() == SandboxCharge.objects.count() == 0


def test_api_documents_the_idempotency_key_on_every_money_post(client: Any) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/payments", "/api/v1/payments/{payment_id}/capture", "/api/v1/payments/{payment_id}/refund"):
        parameters = schema["paths"][path]["post"].get("parameters", [])
        assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" and p["required"] for p in parameters), path


# --- steps left pending are finished by the periodic job ------------------------------------------------------


def age(*rows: Any, by: timedelta = payments.STALE_AFTER + timedelta(minutes=1)) -> None:
    """Make pending rows look abandoned: recorded longer ago than STALE_AFTER."""
    for row in rows:
        type(row).objects.filter(pk=row.pk).update(created_at=timezone.now() - by)


def money_moved() -> tuple[Any, ...]:
    return (
        ledger_state(),
        sorted(SandboxOperation.objects.values_list("kind", "reference", "amount")),
        sorted(PaymentOperation.objects.values_list("kind", "status")),
        sorted(Payment.objects.values_list("status", "captured_amount", "refunded_amount")),
        sorted(Payout.objects.values_list("status", "amount")),
    )


def test_the_periodic_job_is_registered() -> None:
    from crowdmaker.core import scheduler
    from crowdmaker.ledger import tasks

    job = scheduler.registered()["ledger.payments_resume_stale"]
    assert (job.task, job.every) == (tasks.payments_resume_stale, timedelta(minutes=5))


def test_a_refund_the_gateway_never_answered_is_finished_exactly_once_by_the_job(other_user: User, team: Team) -> None:
    from crowdmaker.ledger.tasks import payments_resume_stale

    payment = payments.payment_capture(payment=authorize(other_user, team))
    with pytest.raises(payments.GatewayDown):
        payments.payment_refund(payment=payment, amount=eur(2_500), reference="refund-1", gateway=UnreachableGateway())
    pending = PaymentOperation.objects.get(kind="refund")
    assert pending.status == "pending"
    stuck = money_moved()
    assert Transaction.objects.filter(kind="refund").count() == 1  # posted before the gateway call
    assert not SandboxOperation.objects.filter(kind="refund").exists()

    # Not yet stale: the job leaves it to the client's own retry.
    assert payments_resume_stale.call() == {"finished": 0, "declined": 0, "unavailable": 0, "refused": 0}
    assert money_moved() == stuck

    age(pending)
    outcome = payments_resume_stale.call()  # the configured gateway (the sandbox) answers again

    assert outcome == {"finished": 1, "declined": 0, "unavailable": 0, "refused": 0}
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("partially_refunded", 2_500)
    assert list(SandboxOperation.objects.filter(kind="refund").values_list("reference", "amount")) == [
        ("refund-1", 2_500)
    ]
    assert Transaction.objects.filter(kind="refund").count() == 1
    assert Transaction.objects.filter(kind="reversal").count() == 0
    assert PaymentOperation.objects.get(pk=pending.pk).status == "succeeded"
    assert balances()[f"team:{team.pk}/received (EUR)"] == 9_000 - 2_250
    done = money_moved()

    assert payments_resume_stale.call() == {"finished": 0, "declined": 0, "unavailable": 0, "refused": 0}
    assert money_moved() == done


def test_the_job_leaves_a_step_pending_while_the_gateway_stays_down(other_user: User, team: Team) -> None:
    payment = payments.payment_capture(payment=authorize(other_user, team))
    with pytest.raises(payments.GatewayDown):
        payments.payment_refund(payment=payment, amount=eur(100), gateway=UnreachableGateway())
    age(PaymentOperation.objects.get(kind="refund"))
    stuck = money_moved()

    outcome = payments.payments_resume_stale(gateway=UnreachableGateway())

    assert outcome["unavailable"] == 1
    assert money_moved() == stuck


def test_the_job_finishes_an_abandoned_authorization_capture_and_payout_once(other_user: User, team: Team) -> None:
    down = UnreachableGateway()
    with pytest.raises(payments.GatewayDown):
        authorize(other_user, team, reference="pay-auth", gateway=down)
    to_capture = authorize(other_user, team, cents=5_000)
    with pytest.raises(payments.GatewayDown):
        payments.payment_capture(payment=to_capture, gateway=down)
    _funded_team(other_user, team)  # 9 000 received
    with pytest.raises(payments.GatewayDown):
        payments.payout_create(owner_kind="team", owner_id=str(team.pk), amount=eur(1_000), destination="bank",
                               reference="po-down", gateway=down)  # fmt: skip
    age(*PaymentOperation.objects.filter(status="pending"), *Payout.objects.all())

    outcome = payments.payments_resume_stale()

    assert outcome == {"finished": 3, "declined": 0, "unavailable": 0, "refused": 0}
    assert Payment.objects.get(reference="pay-auth").status == "authorized"
    to_capture.refresh_from_db()
    assert (to_capture.status, to_capture.captured_amount, to_capture.fee_amount) == ("captured", 5_000, 500)
    assert Payout.objects.get().status == "paid"
    assert SandboxCharge.objects.get(reference="pay-auth").attempts == 1
    assert sorted(SandboxOperation.objects.values_list("kind", flat=True)) == ["capture", "capture", "payout"]
    assert balances()[f"team:{team.pk}/received (EUR)"] == 9_000 + 4_500 - 1_000
    done = money_moved()

    assert payments.payments_resume_stale()["finished"] == 0
    assert money_moved() == done


def test_a_stale_capture_the_gateway_declines_is_recorded_and_voided_by_the_job(other_user: User, team: Team) -> None:
    payment = authorize(other_user, team, card=sandbox.CARD_CAPTURE_FAILS)
    with pytest.raises(payments.GatewayDown):
        payments.payment_capture(payment=payment, gateway=UnreachableGateway())
    age(PaymentOperation.objects.get(kind="capture"))

    assert payments.payments_resume_stale()["declined"] == 1

    payment.refresh_from_db()
    assert (payment.status, payment.captured_amount) == ("voided", 0)
    assert Transaction.objects.count() == 0
    assert payments.payments_resume_stale() == {"finished": 0, "declined": 0, "unavailable": 0, "refused": 0}


def test_the_fee_is_taken_on_the_margin_over_a_declared_unit_cost(user: User, other_user: User, team: Team) -> None:
    payment = authorize(other_user, team, 4_000, unit_cost=eur(1_500))
    assert payment.fee_quoted == 250  # 10 % of 4,000 - 1,500
    above_price = authorize(other_user, team, 4_000, unit_cost=eur(5_000), reference="p-2")
    assert above_price.fee_quoted == 0  # the margin is never below zero
    before = ledger_state()
    with pytest.raises(Invalid) as refused:
        authorize(other_user, team, 4_000, unit_cost=Money(100, "USD"), reference="p-3")
    assert refused.value.field == "unit_cost"
    assert ledger_state() == before
    assert not Payment.objects.filter(reference="p-3").exists()
