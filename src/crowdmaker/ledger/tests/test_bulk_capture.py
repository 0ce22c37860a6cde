"""Captures and voids of a whole batch (`payments_capture_many`, `payments_void_many`), on the real sandbox gateway:
each payment captured once with the fee on the margin, posted exactly as `payment_capture` posts it; declines in a
batch recorded as one by one (the hold kept for settlement's retries, or voided); a gateway that does not answer
leaves its payments pending for the next call; and a run killed after any of the three steps, or inside the last,
ends where an uninterrupted run ends, with nothing captured or posted twice. `ledger verify` passes after each."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, NoReturn

import pytest
from django.db import connection

from crowdmaker.ledger import payments, verify
from crowdmaker.ledger.gateways import (
    Capture,
    CaptureRequest,
    Declined,
    GatewayUnavailable,
    PaymentGateway,
    Void,
    VoidRequest,
    sandbox,
)
from crowdmaker.ledger.gateways.sandbox import SandboxGateway
from crowdmaker.ledger.models import (
    Account,
    Leg,
    Payment,
    PaymentOperation,
    SandboxCharge,
    SandboxOperation,
    Transaction,
)
from crowdmaker.ledger.money import Money
from crowdmaker.people import services as people
from crowdmaker.people.models import Team, User

pytestmark = pytest.mark.django_db

OK, FAILS = sandbox.CARD_OK, sandbox.CARD_CAPTURE_FAILS


class Killed(Exception):
    """The worker dies here; what was committed before stays."""


@pytest.fixture
def team(user: User) -> Team:
    return people.team_create(actor=user, slug="lamp-makers", name="Lamp makers")


@pytest.fixture
def backers(make_user: Callable[..., User]) -> list[User]:
    return [make_user(f"backer{n}") for n in range(4)]


def authorize(payer: User, team: Team, cents: int, cost: int | None = None, card: str = OK) -> Payment:
    return payments.payment_authorize(
        payer_id=str(payer.pk), payee_kind="team", payee_id=str(team.pk), amount=Money(cents, "EUR"),
        payment_method=card, unit_cost=Money(cost, "EUR") if cost is not None else None,
    )  # fmt: skip


def assert_verified() -> None:
    report = io.StringIO()
    assert verify.run_verify(out=report, err=report), report.getvalue()


def rows_written() -> tuple[Any, ...]:
    """Every row a capture or void may write, in full."""
    return (
        list(Payment.objects.order_by("pk").values()),
        list(PaymentOperation.objects.order_by("pk").values()),
        list(SandboxCharge.objects.order_by("pk").values()),
        list(SandboxOperation.objects.order_by("pk").values()),
        list(Transaction.objects.order_by("pk").values()),
        list(Leg.objects.order_by("pk").values()),
        list(Account.objects.order_by("pk").values()),
    )


def books(payment: Payment) -> tuple[Any, ...]:
    """A payment as the ledger and the gateway know it, in terms that do not depend on ids or times."""
    payment.refresh_from_db()
    ref, pk = payment.reference, str(payment.pk)
    postings = sorted(
        (
            t.kind, t.memo.replace(pk, "#"), t.idempotency_key.replace(pk, "#"),
            sorted((leg.account.owner_kind, leg.account.purpose, leg.amount) for leg in t.legs.select_related("account")),
        )
        for t in Transaction.objects.filter(subject_kind="payment", subject_id=pk)
    )  # fmt: skip
    return (
        (payment.status, payment.captured_amount, payment.fee_amount, bool(payment.capture_id), payment.failure_code),
        [(o.kind, o.reference.replace(ref, "ref"), o.status, o.amount, o.failure_code)
         for o in payment.operations.order_by("pk")],
        SandboxCharge.objects.filter(reference=ref).values_list("status", "captured_amount").get(),
        sorted(SandboxOperation.objects.filter(reference__startswith=f"{ref}:").values_list("kind", "amount")),
        postings,
    )  # fmt: skip


# --- all captured once, as one by one ---------------------------------------------------------------------------


def test_a_batch_captures_each_payment_once_with_its_fee_on_the_margin_exactly_as_one_by_one(
    backers: list[User], team: Team
) -> None:
    # (amount, declared unit cost): fee 10 % of the margin, none below zero, all of it when no cost is declared.
    terms = [(10_000, 4_000), (4_500, 1_500), (2_001, None), (1_000, 1_000), (3_000, 5_000)]
    batch = [authorize(backers[n % 4], team, cents, cost) for n, (cents, cost) in enumerate(terms)]
    single = [authorize(backers[n % 4], team, cents, cost) for n, (cents, cost) in enumerate(terms)]

    outcome = payments.payments_capture_many(payments=batch)
    for payment in single:
        payments.payment_capture(payment=payment)

    assert sorted(outcome.done) == sorted(p.pk for p in batch)
    assert (outcome.declined, outcome.waiting, outcome.refused) == ({}, [], {})
    assert [(p.status, p.captured_amount, p.fee_amount) for p in Payment.objects.filter(pk__in=[p.pk for p in batch])
            .order_by("pk")] == [
        ("captured", 10_000, 600), ("captured", 4_500, 300), ("captured", 2_001, 200), ("captured", 1_000, 0),
        ("captured", 3_000, 0),
    ]  # fmt: skip
    assert [books(p) for p in batch] == [books(p) for p in single]
    assert SandboxOperation.objects.filter(kind="capture").count() == 10
    revenue = Account.objects.get(owner_kind="platform", purpose="platform-revenue")
    received = Account.objects.get(owner_kind="team", owner_id=str(team.pk), purpose="received")
    assert (revenue.balance, received.balance) == (2 * 1_100, 2 * (20_501 - 1_100))
    assert_verified()


def test_a_second_call_writes_nothing(backers: list[User], team: Team) -> None:
    batch = [authorize(backer, team, 5_000, 1_500) for backer in backers]
    payments.payments_capture_many(payments=batch)
    before = rows_written()

    again = payments.payments_capture_many(payments=batch)

    assert sorted(again.done) == sorted(p.pk for p in batch)
    assert rows_written() == before
    assert_verified()


def test_the_default_batch_methods_ask_one_by_one_and_end_the_same(backers: list[User], team: Team) -> None:
    class OneByOne(SandboxGateway):
        capture_many = PaymentGateway.capture_many
        void_many = PaymentGateway.void_many

    captured = [authorize(backers[0], team, 4_000, 1_500), authorize(backers[1], team, 2_000, card=FAILS)]
    voided = [authorize(backers[2], team, 3_000)]
    reference = [authorize(backers[0], team, 4_000, 1_500), authorize(backers[1], team, 2_000, card=FAILS)]
    reference_voided = [authorize(backers[2], team, 3_000)]

    assert payments.payments_capture_many(payments=captured, gateway=OneByOne()).declined == {
        captured[1].pk: "capture_failed"
    }
    assert payments.payments_void_many(payments=voided, gateway=OneByOne()).done == [voided[0].pk]
    payments.payments_capture_many(payments=reference)
    payments.payments_void_many(payments=reference_voided)

    assert [books(p) for p in captured + voided] == [books(p) for p in reference + reference_voided]
    assert_verified()


# --- declines ---------------------------------------------------------------------------------------------------


def test_declines_in_a_batch_keep_the_hold_for_a_later_attempt_and_post_nothing_for_them(
    backers: list[User], team: Team
) -> None:
    good = [authorize(backers[0], team, 4_000, 1_500), authorize(backers[1], team, 5_000, 1_500)]
    failing = authorize(backers[2], team, 4_000, 1_500, card=FAILS)

    first = payments.payments_capture_many(payments=[good[0], failing, good[1]], void_on_decline=False)
    second = payments.payments_capture_many(payments=[failing], void_on_decline=False)

    assert (sorted(first.done), first.declined) == (sorted(p.pk for p in good), {failing.pk: "capture_failed"})
    assert second.declined == {failing.pk: "capture_failed"}
    status, operations, charge, done_at_gateway, postings = books(failing)
    assert status == ("authorized", 0, 0, False, "")
    assert operations == [
        ("authorize", "ref", "succeeded", 4_000, ""),
        ("capture", "ref:capture", "failed", 4_000, "capture_failed"),
        ("capture", "ref:capture:2", "failed", 4_000, "capture_failed"),  # each attempt a request of its own
    ]
    assert (charge, done_at_gateway, postings) == (("authorized", 0), [], [])
    assert [books(p)[0] for p in good] == [("captured", 4_000, 250, True, ""), ("captured", 5_000, 350, True, "")]

    voided = payments.payments_void_many(payments=[failing, *good])  # given up at last; the others are captured

    assert (voided.done, voided.refused) == ([failing.pk], {p.pk: "payment_not_authorized" for p in good})
    assert books(failing)[0][0] == "voided"
    assert SandboxCharge.objects.get(reference=failing.reference).status == "voided"
    assert_verified()


def test_a_declined_capture_voids_the_hold_by_default_as_one_by_one(backers: list[User], team: Team) -> None:
    batch = [authorize(backers[0], team, 4_000), authorize(backers[1], team, 3_000, card=FAILS)]
    single = authorize(backers[1], team, 3_000, card=FAILS)

    outcome = payments.payments_capture_many(payments=batch)
    with pytest.raises(payments.PaymentDeclined):
        payments.payment_capture(payment=single)

    assert (outcome.done, outcome.declined) == ([batch[0].pk], {batch[1].pk: "capture_failed"})
    assert books(batch[1]) == books(single)
    assert books(batch[1])[0] == ("voided", 0, 0, False, "capture_failed")
    assert SandboxCharge.objects.get(reference=batch[1].reference).status == "voided"
    assert_verified()


def test_payments_not_ready_are_refused_and_left_as_they_are(backers: list[User], team: Team) -> None:
    voided = authorize(backers[0], team, 4_000)
    payments.payment_void(payment=voided)
    busy = authorize(backers[1], team, 4_000)
    PaymentOperation.objects.create(payment=busy, kind="void", reference=f"{busy.reference}:void", amount=0)
    ready = authorize(backers[2], team, 4_000)
    before = rows_written()

    class Elsewhere(SandboxGateway):
        name = "elsewhere"

    outcome = payments.payments_capture_many(payments=[voided, busy, ready], gateway=Elsewhere())
    assert outcome.refused == {p.pk: "gateway_mismatch" for p in (voided, busy, ready)}
    assert rows_written() == before

    outcome = payments.payments_capture_many(payments=[voided, busy, ready])

    assert outcome.refused == {voided.pk: "payment_not_authorized", busy.pk: "payment_busy"}
    assert outcome.done == [ready.pk]
    assert (books(voided)[0][0], books(busy)[0][0]) == ("voided", "authorized")


# --- a gateway that does not answer -----------------------------------------------------------------------------


class Unanswering(SandboxGateway):
    """The sandbox, except that it never answers for the payments of `silent_for` (references starting so)."""

    def __init__(self, silent_for: Sequence[Payment]) -> None:
        self.silent = tuple(p.reference + ":" for p in silent_for)
        self.asked: list[int] = []

    def capture_many(self, requests: Sequence[CaptureRequest]) -> list[Capture | Declined | GatewayUnavailable]:
        self.asked.append(len(requests))
        heard = [r for r in requests if not r.reference.startswith(self.silent)]
        answers = iter(super().capture_many(heard))
        return [GatewayUnavailable("no answer") if r.reference.startswith(self.silent) else next(answers)
                for r in requests]  # fmt: skip


def test_payments_the_gateway_does_not_answer_stay_pending_and_the_next_call_resumes_them(
    backers: list[User], team: Team
) -> None:
    batch = [authorize(backer, team, 4_000, 1_500) for backer in backers]
    gateway = Unanswering(batch[1:3])

    outcome = payments.payments_capture_many(payments=batch, gateway=gateway)

    assert (sorted(outcome.done), sorted(outcome.waiting)) == ([batch[0].pk, batch[3].pk], [batch[1].pk, batch[2].pk])
    assert gateway.asked == [4, 2, 2]  # asked again for the two, payments.GATEWAY_ATTEMPTS times in all
    assert [books(p)[1][-1][:3] for p in batch[1:3]] == [("capture", "ref:capture", "pending")] * 2
    assert [books(p)[4] for p in batch[1:3]] == [[], []]

    resumed = payments.payments_capture_many(payments=batch)

    assert sorted(resumed.done) == sorted(p.pk for p in batch)
    assert [books(p)[1][-1][:3] for p in batch] == [("capture", "ref:capture", "succeeded")] * 4
    assert SandboxOperation.objects.filter(kind="capture").count() == 4
    assert_verified()


def test_a_payment_finished_meanwhile_by_its_own_resumed_capture_is_done_and_left_as_it_was(
    backers: list[User], team: Team
) -> None:
    batch = [authorize(backer, team, 4_000, 1_500) for backer in backers[:2]]
    finished: list[Any] = []

    class ResumedMeanwhile(SandboxGateway):
        """While the batch waits for the gateway, the stale-step job resumes one payment's pending capture."""

        def capture_many(self, requests: Sequence[CaptureRequest]) -> list[Capture | Declined | GatewayUnavailable]:
            answers = super().capture_many(requests)
            payments.payment_capture(payment=batch[0])
            finished.append(rows_written())
            return answers

    outcome = payments.payments_capture_many(payments=batch, gateway=ResumedMeanwhile())

    assert sorted(outcome.done) == sorted(p.pk for p in batch)
    assert [books(p) for p in batch] == [books(batch[1])] * 2
    payment, operations = rows_written()[:2]
    assert [row for row in payment if row["id"] == batch[0].pk] == [row for row in finished[0][0]
                                                                      if row["id"] == batch[0].pk]  # fmt: skip
    assert [row for row in operations if row["payment_id"] == batch[0].pk] == [
        row for row in finished[0][1] if row["payment_id"] == batch[0].pk
    ]
    assert Transaction.objects.filter(kind="payment-capture").count() == 2
    assert_verified()


# --- killed at every step ---------------------------------------------------------------------------------------


class Dying(SandboxGateway):
    """The sandbox, with the worker dying before the gateway is asked, or right after it answered."""

    def __init__(self, when: str) -> None:
        self.when = when

    def capture_many(self, requests: Sequence[CaptureRequest]) -> list[Capture | Declined | GatewayUnavailable]:
        if self.when == "before-capture":
            raise Killed(self.when)
        answers = super().capture_many(requests)
        if self.when == "after-capture":
            raise Killed(self.when)
        return answers

    def void_many(self, requests: Sequence[VoidRequest]) -> list[Void | Declined | GatewayUnavailable]:
        if self.when == "before-void":
            raise Killed(self.when)
        answers = super().void_many(requests)
        if self.when == "after-void":
            raise Killed(self.when)
        return answers


def scenario(backers: list[User], team: Team) -> list[Payment]:
    return [
        authorize(backers[0], team, 4_500, 1_500),
        authorize(backers[1], team, 4_000, 1_500, card=FAILS),
        authorize(backers[2], team, 2_001),
        authorize(backers[3], team, 5_000, 1_500),
    ]


@pytest.mark.parametrize("void_on_decline", [False, True])
@pytest.mark.parametrize(
    "when", ["before-capture", "after-capture", "before-void", "after-void", "posting", "recorded"]
)
def test_a_batch_killed_at_any_step_and_run_again_ends_as_an_uninterrupted_one(
    backers: list[User], team: Team, monkeypatch: pytest.MonkeyPatch, when: str, void_on_decline: bool
) -> None:
    reference = scenario(backers, team)
    payments.payments_capture_many(payments=reference, void_on_decline=void_on_decline)
    expected = [books(p) for p in reference]
    batch = scenario(backers, team)
    # Inside the last step's transaction, which is rolled back: before the postings, or after every write of it.
    if when == "posting":
        monkeypatch.setattr(payments, "_post_captures", lambda *args: die(when))
    if when == "recorded":
        record = payments._record_statuses

        def record_then_die(*args: Any) -> None:
            record(*args)
            die(when)

        monkeypatch.setattr(payments, "_record_statuses", record_then_die)

    with pytest.raises(Killed) if when not in ("before-void", "after-void") or void_on_decline else nullcontext():
        payments.payments_capture_many(payments=batch, gateway=Dying(when), void_on_decline=void_on_decline)
    monkeypatch.undo()
    if PaymentOperation.objects.filter(payment__in=batch, status="pending").exists():  # killed: the worker restarts
        again = payments.payments_capture_many(payments=batch, void_on_decline=void_on_decline)
        assert sorted(again.done) == [batch[0].pk, batch[2].pk, batch[3].pk]

    assert [books(p) for p in batch] == expected
    assert_verified()


def die(when: str) -> NoReturn:
    raise Killed(when)


def test_a_void_batch_killed_after_the_gateway_answered_is_finished_once(backers: list[User], team: Team) -> None:
    batch = [authorize(backer, team, 4_000) for backer in backers[:3]]

    with pytest.raises(Killed):
        payments.payments_void_many(payments=batch, gateway=Dying("after-void"))
    assert set(Payment.objects.filter(pk__in=[p.pk for p in batch]).values_list("status", flat=True)) == {"authorized"}
    outcome = payments.payments_void_many(payments=batch)

    assert sorted(outcome.done) == sorted(p.pk for p in batch)
    assert [books(p)[:2] for p in batch] == [
        (("voided", 0, 0, False, ""), [("authorize", "ref", "succeeded", 4_000, ""), ("void", "ref:void", "succeeded", 0, "")])
    ] * 3  # fmt: skip
    assert SandboxOperation.objects.filter(kind="void").count() == 3
    assert_verified()


def test_a_void_the_gateway_declines_fails_the_payment_as_one_by_one(backers: list[User], team: Team) -> None:
    gone = authorize(backers[0], team, 4_000)
    SandboxGateway().void(gone.authorization_id, reference="voided-elsewhere")  # the hold is gone already
    held = authorize(backers[1], team, 4_000)

    outcome = payments.payments_void_many(payments=[gone, held])

    assert (outcome.done, outcome.declined) == ([held.pk], {gone.pk: "not_authorized"})
    assert books(gone)[0] == ("failed", 0, 0, False, "void_not_authorized")
    assert Transaction.objects.count() == 0
    assert_verified()


# --- outside any database transaction ---------------------------------------------------------------------------


class Watching(SandboxGateway):
    seen: list[tuple[str, bool]] = []

    def capture_many(self, requests: Sequence[CaptureRequest]) -> list[Capture | Declined | GatewayUnavailable]:
        Watching.seen.append(("capture_many", connection.in_atomic_block))
        return super().capture_many(requests)

    def void_many(self, requests: Sequence[VoidRequest]) -> list[Void | Declined | GatewayUnavailable]:
        Watching.seen.append(("void_many", connection.in_atomic_block))
        return super().void_many(requests)


@pytest.mark.django_db(transaction=True)
def test_the_gateway_is_asked_for_a_batch_outside_any_database_transaction(backers: list[User], team: Team) -> None:
    Watching.seen = []
    gateway = Watching()
    captured = [authorize(backers[0], team, 4_000), authorize(backers[1], team, 3_000, card=FAILS)]
    voided = [authorize(backers[2], team, 3_000)]

    payments.payments_capture_many(payments=captured, gateway=gateway)
    payments.payments_void_many(payments=voided, gateway=gateway)

    assert Watching.seen == [("capture_many", False), ("void_many", False), ("void_many", False)]
    assert sorted(Payment.objects.values_list("status", flat=True)) == ["captured", "voided", "voided"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ledger_posting_check")
        assert cursor.fetchone() == (0,)  # the commit-time checks ran and emptied their queue
    assert_verified()
