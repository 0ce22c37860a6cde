"""The launch-surge path of a pledge (POST /campaigns/{slug}/pledges): what it costs in statements and commits,
that its pledge, place and payment are recorded together, and that a process killed between its steps leaves
nothing that the periodic job cannot finish, with the card authorized exactly once."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crowdmaker.conftest import ApiClient
from crowdmaker.core.errors import Invalid
from crowdmaker.funding import pledges, services
from crowdmaker.funding.models import Campaign, Pledge, PledgeStatus, TierSlot
from crowdmaker.ledger import payments
from crowdmaker.ledger.gateways import Authorization, sandbox
from crowdmaker.ledger.models import (
    OperationStatus,
    Payment,
    PaymentOperation,
    PaymentStatus,
    SandboxCharge,
)
from crowdmaker.ledger.money import Money
from crowdmaker.people.models import User

# What one pledge to a limited tier sends, in production's autocommit: the token lookup, the idempotency claim,
# the tier with its campaign, the retry lookup under the key; step 1 (the pledge, its place, its payment and
# operation) in one transaction; the sandbox gateway's own transaction (4 statements); step 3 (the payment's
# authorization, its operation and the pledge) in one; the answer stored. Raise these only with a reason: every
# statement is paid by every pledge of a launch surge (33 statements and 8 commits before benchmarks/pledges.py
# looked).
PLEDGE_STATEMENTS = 16  # without BEGIN and COMMIT (the token's once-a-minute `last_used_at` write comes before)
PLEDGE_COMMITS = 5  # idempotency claim, step 1, the sandbox, step 3, idempotency answer


class Died(BaseException):
    """The process dies here (not an Exception: nothing catches it on the way out)."""


def _stale_later() -> Any:
    return timezone.now() + pledges.PLEDGE_STALE_AFTER + timedelta(minutes=1)


def _pledge(client: ApiClient, campaign: Campaign, key: str, **body: Any) -> Any:
    payload = {"tier": campaign.tier.pk, "payment_method": sandbox.CARD_OK, **body}  # type: ignore[attr-defined]
    return client.post(f"/api/v1/campaigns/{campaign.slug}/pledges", payload, headers={"Idempotency-Key": key})


def _classify(statements: list[str]) -> dict[str, int]:
    words = [sql.split(None, 1)[0].upper() for sql in statements if sql.strip()]
    begins = words.count("BEGIN")
    in_transaction, autocommit_writes = False, 0
    for word in words:
        if word == "BEGIN":
            in_transaction = True
        elif word in ("COMMIT", "ROLLBACK"):
            in_transaction = False
        elif word in ("INSERT", "UPDATE", "DELETE") and not in_transaction:
            autocommit_writes += 1
    return {
        "statements": sum(word not in ("BEGIN", "COMMIT", "ROLLBACK") for word in words),
        "commits": begins + autocommit_writes,
        "savepoints": words.count("SAVEPOINT"),
    }


@pytest.mark.django_db(transaction=True)
def test_a_pledge_through_the_api_costs_its_counted_statements_and_commits(
    make_campaign: Callable[..., Campaign], other_user: User, api_for: Callable[..., ApiClient]
) -> None:
    campaign = make_campaign("surge-count", limit=10)
    backer = api_for(other_user)
    assert backer.get("/api/v1/me").status_code == 200  # the token's `last_used_at` is written now, not below
    assert _pledge(backer, campaign, "warm-up").status_code == 201

    with CaptureQueriesContext(connection) as captured:
        answer = _pledge(backer, campaign, "counted", extra=100)

    assert answer.status_code == 201, answer.content
    counts = _classify([query["sql"] for query in captured.captured_queries])
    listing = "\n".join(query["sql"][:120] for query in captured.captured_queries)
    assert counts["statements"] <= PLEDGE_STATEMENTS, listing
    assert counts["commits"] <= PLEDGE_COMMITS, listing
    assert "funding_campaign" not in listing.split("BEGIN", 1)[1]  # the campaign is read once, before step 1
    assert answer.json()["status"] == PledgeStatus.AUTHORIZED


@pytest.mark.django_db(transaction=True)
def test_the_answer_built_from_the_recorded_pledge_is_what_reading_it_again_answers(
    make_campaign: Callable[..., Campaign], user: User, other_user: User, api_for: Callable[..., ApiClient]
) -> None:
    campaign = make_campaign("surge-answer", publish=False)
    addon = services.addon_add(actor=user, campaign=campaign, title="Spare shade", price=700, unit_cost=200)
    services.campaign_publish(actor=user, campaign=campaign)
    backer = api_for(other_user)

    answer = _pledge(backer, campaign, "with-addon", addons=[{"id": addon.pk, "quantity": 2}], extra=300)

    assert answer.status_code == 201, answer.content
    made = answer.json()
    read_again = backer.get(f"/api/v1/pledges/{made['id']}").json()
    assert json.dumps(made, sort_keys=True) == json.dumps(read_again, sort_keys=True)
    assert made["addons"] == [{"id": addon.pk, "title": "Spare shade", "quantity": 2, "price": 700}]
    assert (made["amount"], made["payment"]["status"]) == (4_000 + 1_400 + 300, PaymentStatus.AUTHORIZED)


@pytest.mark.django_db
def test_a_payment_refused_in_step_one_records_no_pledge_and_holds_no_place(
    campaign: Campaign, early_bird: Any, other_user: User
) -> None:
    with pytest.raises(Invalid) as refused:
        pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird, payment_method="x" * 101)

    assert refused.value.field == "payment_method"
    assert (Pledge.objects.count(), Payment.objects.count(), TierSlot.objects.filter(pledge__isnull=False).count()) == (
        0,
        0,
        0,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("dies", ["before the gateway is asked", "after the gateway authorized"])
def test_a_pledge_whose_process_died_between_its_steps_is_authorized_once_by_the_periodic_job(
    campaign: Campaign, early_bird: Any, other_user: User, monkeypatch: pytest.MonkeyPatch, dies: str
) -> None:
    real_authorize = sandbox.SandboxGateway.authorize

    def authorize(self: sandbox.SandboxGateway, amount: Money, payment_method: str, reference: str) -> Authorization:
        if dies == "after the gateway authorized":
            real_authorize(self, amount, payment_method, reference)
        raise Died

    monkeypatch.setattr(sandbox.SandboxGateway, "authorize", authorize)
    with pytest.raises(Died):
        pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird, payment_method=sandbox.CARD_OK)
    monkeypatch.undo()

    # Step 1 stands whole: the pledge holds its place and its payment waits to be asked, under one reference.
    pledge = Pledge.objects.get()
    payment = Payment.objects.get()
    assert (pledge.status, payment.status, payment.reference) == (
        PledgeStatus.PENDING,
        PaymentStatus.PENDING,
        f"pledge-{pledge.pk}",
    )
    assert PaymentOperation.objects.get().status == OperationStatus.PENDING
    assert TierSlot.objects.get(pledge__isnull=False).pledge_id == pledge.pk

    assert pledges.pledges_resume_stale(now=_stale_later()) == {"authorized": 1, "declined": 0, "unavailable": 0}

    pledge.refresh_from_db()
    payment.refresh_from_db()
    assert (pledge.status, pledge.payment_id, payment.status) == (
        PledgeStatus.AUTHORIZED,
        payment.pk,
        PaymentStatus.AUTHORIZED,
    )
    assert SandboxCharge.objects.get().reference == payment.reference  # one hold on the card, never two
    assert PaymentOperation.objects.get().status == OperationStatus.SUCCEEDED
    assert pledges.pledges_resume_stale(now=_stale_later()) == {"authorized": 0, "declined": 0, "unavailable": 0}


@pytest.mark.django_db
def test_a_pledge_cancelled_while_its_authorization_was_in_flight_is_voided_not_held(
    campaign: Campaign, early_bird: Any, other_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_authorize = sandbox.SandboxGateway.authorize

    def authorize(self: sandbox.SandboxGateway, amount: Money, payment_method: str, reference: str) -> Authorization:
        pledge = Pledge.objects.get(backer=other_user)
        pledges.pledge_cancel(backer=other_user, pledge_id=pledge.pk)  # the backer cancels meanwhile
        return real_authorize(self, amount, payment_method, reference)

    monkeypatch.setattr(sandbox.SandboxGateway, "authorize", authorize)
    pledge = pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird,
                                   payment_method=sandbox.CARD_OK)  # fmt: skip

    assert pledge.status == PledgeStatus.CANCELLED
    assert Payment.objects.get().status == PaymentStatus.VOIDED
    assert not TierSlot.objects.filter(pledge__isnull=False).exists()


@pytest.mark.django_db
def test_a_started_payment_is_resumed_by_its_reference_with_the_same_terms_only(
    campaign: Campaign, other_user: User
) -> None:
    terms: dict[str, Any] = {"payer_id": str(other_user.pk), "payee_kind": "campaign", "payee_id": str(campaign.pk),
                             "payment_method": sandbox.CARD_OK, "reference": "surge-ref"}  # fmt: skip
    started = payments.payment_authorize_start(amount=Money(4_000, "EUR"), **terms)
    again = payments.payment_authorize_start(amount=Money(4_000, "EUR"), **terms)
    assert again.payment.pk == started.payment.pk
    assert again.operation is not None
    assert started.operation is not None
    assert again.operation.pk == started.operation.pk

    with pytest.raises(Invalid) as refused:
        payments.payment_authorize_start(amount=Money(4_001, "EUR"), **terms)
    assert refused.value.code == "reference_reused"

    payment = payments.payment_authorize(amount=Money(4_000, "EUR"), **terms)
    assert (payment.pk, payment.status) == (started.payment.pk, PaymentStatus.AUTHORIZED)
    assert payments.payment_authorize_start(amount=Money(4_000, "EUR"), **terms).operation is None  # settled
    assert (Payment.objects.count(), PaymentOperation.objects.count(), SandboxCharge.objects.count()) == (1, 1, 1)
