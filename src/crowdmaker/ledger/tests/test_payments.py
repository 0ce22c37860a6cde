"""Payments through the ledger: authorize, capture (with the fee), void, refund, payout; the sandbox's cards;
the database refusing impossible payment states; and the API with its visibility rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

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

    def authorize(self, amount: Money, payment_method: str, reference: str) -> Authorization:
        UnreachableGateway.calls += 1
        raise GatewayUnavailable("down")


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


# --- capture and void ------------------------------------------------------------------------------------------


def test_capture_posts_the_payment_to_the_payee_and_the_fee_to_the_platform(other_user: User, team: Team) -> None:
    payment = payments.payment_capture(payment=authorize(other_user, team, cents=10_005))

    assert (payment.status, payment.captured_amount, payment.fee_amount) == ("captured", 10_005, 1_001)
    assert balances() == {
        "gateway:sandbox/gateway-clearing (EUR)": -10_005,
        f"team:{team.pk}/received (EUR)": 9_004,
        "platform/platform-revenue (EUR)": 1_001,
    }
    assert sorted(Transaction.objects.values_list("kind", "idempotency_key")) == [
        ("payment-capture", f"payment:{payment.pk}:capture"),
        ("platform-fee", f"payment:{payment.pk}:fee"),
    ]


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


def test_another_operation_in_progress_makes_the_payment_busy(other_user: User, team: Team) -> None:
    payment = authorize(other_user, team)
    PaymentOperation.objects.create(payment=payment, kind="void", reference="someone-elses-void", amount=0)

    with pytest.raises(Conflict) as caught:
        payments.payment_capture(payment=payment)

    assert caught.value.code == "payment_busy"
    assert Transaction.objects.count() == 0


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
        "UPDATE ledger_payment SET captured_amount = 5000",  # captures only grow
        "DELETE FROM ledger_payment",
    ],
)
def test_the_database_refuses_impossible_payment_changes_even_in_raw_sql(
    other_user: User, team: Team, change: str
) -> None:
    payment = payments.payment_capture(payment=authorize(other_user, team))

    PaymentOperation.objects.all().delete()  # so that only the payment's own rules can refuse the DELETE

    with (
        pytest.raises(IntegrityError, match="payment"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(change)

    payment.refresh_from_db()
    assert (payment.status, payment.amount, payment.captured_amount) == ("captured", 10_000, 10_000)


# --- the gateway is called outside database transactions ----------------------------------------------------------


class WatchingGateway(SandboxGateway):
    seen: list[tuple[str, bool]] = []

    def authorize(self, amount: Money, payment_method: str, reference: str) -> Authorization:
        self.seen.append(("authorize", connection.in_atomic_block))
        return super().authorize(amount, payment_method, reference)

    def capture(self, authorization_id: str, amount: Money, *, reference: str) -> Any:
        self.seen.append(("capture", connection.in_atomic_block))
        return super().capture(authorization_id, amount, reference=reference)

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
    assert {key: body[key] for key in ("status", "amount", "currency", "captured_amount", "fee_amount")} == {
        "status": "authorized", "amount": 2_500, "currency": "EUR", "captured_amount": 0, "fee_amount": 0,
    }  # fmt: skip
    assert body["payee"] == {"kind": "team", "id": str(team.pk), "label": "Lamp makers"}

    captured = call(payer, f"/api/v1/payments/{body['id']}/capture")
    assert captured.status_code == 200
    assert (captured.json()["status"], captured.json()["fee_amount"]) == ("captured", 250)

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
