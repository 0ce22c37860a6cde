"""Idempotency-Key on the payment API: a replay is the identical answer and moves no money twice; a key reused
for another request or still in flight is refused and changes nothing; a 503 may be retried with its key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from crowdmaker.conftest import ApiClient
from crowdmaker.core.models import IdempotencyRecord
from crowdmaker.ledger import payments
from crowdmaker.ledger.gateways import Authorization, GatewayUnavailable, sandbox
from crowdmaker.ledger.gateways.sandbox import SandboxGateway
from crowdmaker.ledger.models import Account, Leg, Payment, SandboxCharge, SandboxOperation, Transaction
from crowdmaker.ledger.money import Money
from crowdmaker.people import services as people
from crowdmaker.people.models import Team, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(user: User) -> Team:
    return people.team_create(actor=user, slug="lamp-makers", name="Lamp makers")


@pytest.fixture
def payer(other_user: User, api_for: Callable[..., ApiClient]) -> ApiClient:
    return api_for(other_user)


def pay_body(team: Team, cents: int = 2_500, card: str = sandbox.CARD_OK) -> dict[str, Any]:
    return {"payee": {"kind": "team", "id": str(team.pk)}, "amount": cents, "currency": "EUR", "payment_method": card}


def post(client: ApiClient, path: str, body: Any = None, *, key: str) -> Any:
    return client.post(path, body, headers={"Idempotency-Key": key})


def money_state() -> tuple[int, int, int, int, list[tuple[int, int]]]:
    return (
        Payment.objects.count(),
        SandboxOperation.objects.count(),
        Transaction.objects.count(),
        Leg.objects.count(),
        list(Account.objects.order_by("pk").values_list("pk", "balance")),
    )


def test_a_replayed_payment_is_the_identical_answer_and_the_card_is_charged_once(payer: ApiClient, team: Team) -> None:
    first = post(payer, "/api/v1/payments", pay_body(team), key="pay-1")
    second = post(payer, "/api/v1/payments", pay_body(team), key="pay-1")

    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert Payment.objects.count() == 1
    assert SandboxCharge.objects.get().attempts == 1  # the gateway was not even asked again


def test_a_replayed_capture_and_refund_post_nothing_twice(
    payer: ApiClient, team: Team, api_for: Any, user: User
) -> None:
    payment_id = post(payer, "/api/v1/payments", pay_body(team), key="pay-1").json()["id"]
    captured = post(payer, f"/api/v1/payments/{payment_id}/capture", key="cap-1")
    refunded = post(api_for(user), f"/api/v1/payments/{payment_id}/refund", {"amount": 500}, key="ref-1")
    before = money_state()

    assert post(payer, f"/api/v1/payments/{payment_id}/capture", key="cap-1").content == captured.content
    again = post(api_for(user), f"/api/v1/payments/{payment_id}/refund", {"amount": 500}, key="ref-1")

    assert (again.status_code, again.content) == (refunded.status_code, refunded.content)
    assert money_state() == before
    assert Transaction.objects.filter(kind="refund").count() == 1
    assert Payment.objects.get().refunded_amount == 500


def test_a_replayed_decline_is_the_same_402(payer: ApiClient, team: Team) -> None:
    first = post(payer, "/api/v1/payments", pay_body(team, card=sandbox.CARD_DECLINED), key="pay-1")
    second = post(payer, "/api/v1/payments", pay_body(team, card=sandbox.CARD_DECLINED), key="pay-1")

    assert first.status_code == second.status_code == 402
    assert second.json() == first.json()
    assert SandboxCharge.objects.get().attempts == 1


def test_the_same_key_for_another_payment_is_422_and_changes_nothing(payer: ApiClient, team: Team) -> None:
    post(payer, "/api/v1/payments", pay_body(team), key="pay-1")
    before = money_state()

    reused = post(payer, "/api/v1/payments", pay_body(team, cents=2_501), key="pay-1")

    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert money_state() == before


def test_the_same_key_in_flight_is_409_and_nothing_is_done(payer: ApiClient, team: Team, other_user: User) -> None:
    post(payer, "/api/v1/payments", pay_body(team), key="probe")
    fingerprint = IdempotencyRecord.objects.get(key="probe").fingerprint
    now = timezone.now()
    IdempotencyRecord.objects.create(
        scope=f"user:{other_user.pk}", key="pay-1", fingerprint=fingerprint, method="POST", path="/api/v1/payments",
        created_at=now, expires_at=now + timedelta(hours=24),
    )  # fmt: skip
    before = money_state()

    answer = post(payer, "/api/v1/payments", pay_body(team), key="pay-1")

    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "idempotency_key_in_flight"
    assert money_state() == before


def test_a_money_post_without_a_key_is_400_and_does_nothing(payer: ApiClient, team: Team) -> None:
    answer = payer.post("/api/v1/payments", pay_body(team))

    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "idempotency_key_required",
        "message": answer.json()["error"]["message"],
        "field": "Idempotency-Key",
    }
    assert money_state() == (0, 0, 0, 0, [])


class DownThenUp(SandboxGateway):
    """Unreachable for the first `down` authorize calls, then the plain sandbox."""

    down = 0

    def authorize(self, amount: Money, payment_method: str, reference: str) -> Authorization:
        if DownThenUp.down > 0:
            DownThenUp.down -= 1
            raise GatewayUnavailable("down")
        return super().authorize(amount, payment_method, reference)


def test_after_a_503_the_same_key_resumes_the_same_payment(payer: ApiClient, team: Team, settings: Any) -> None:
    settings.CROWDMAKER_PAYMENT_GATEWAY = f"{__name__}.DownThenUp"
    DownThenUp.down = payments.GATEWAY_ATTEMPTS

    failed = post(payer, "/api/v1/payments", pay_body(team), key="pay-1")
    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "gateway_unavailable"
    assert Payment.objects.get().status == "pending"

    retried = post(payer, "/api/v1/payments", pay_body(team), key="pay-1")

    assert retried.status_code == 201
    assert retried.json()["status"] == "authorized"
    assert Payment.objects.count() == 1
    assert retried.json()["id"] == Payment.objects.get().pk
    assert post(payer, "/api/v1/payments", pay_body(team), key="pay-1").content == retried.content


def test_keys_belong_to_their_caller(
    payer: ApiClient, team: Team, make_user: Callable[..., User], api_for: Callable[..., ApiClient]
) -> None:
    mine = post(payer, "/api/v1/payments", pay_body(team), key="pay-1")
    theirs = post(api_for(make_user("carol")), "/api/v1/payments", pay_body(team), key="pay-1")

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert SandboxCharge.objects.count() == 2
