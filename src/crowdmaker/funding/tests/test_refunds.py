"""Refunds by a campaign's editors (funding.refunds): whole pledges and items, after settlement distributed the
proceeds to a two-share bundle's makers (the clawback split by their shares, to the cent), declined then retried,
resumed after a crash, through the API with an Idempotency-Key and through the pages. Every refusal asserts that
nothing changed (refunds, payments, ledger, sandbox, e-mail); every scenario ends with the campaign's books
reconciled (MONEY.md invariant 6) and `ledger verify` green.

The campaign (goal 100.00 EUR, shares Ada 60 / the Lamp makers team 40): Ana backs "Shipped lamp" (50.00, cost
15.00, shipping 6.00 worldwide) with three spare shades (3 x 8.00, cost 3.00 each) and 10.02 extra: 90.02, fee
10 % of (90.02 - 30.00) = 6.00. Ben backs Lamp (50.00, cost 15.00: fee 3.50) with the card whose first refund
fails. Cai gives 25.00 without a reward (fee 2.50).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from crowdmaker.conftest import ApiClient
from crowdmaker.core.errors import Conflict, Forbidden, Invalid, NotFound
from crowdmaker.funding import pledges, refunds, services, settlement
from crowdmaker.funding.models import (
    AddOn,
    Campaign,
    Comment,
    Pledge,
    PledgeStatus,
    Refund,
    RefundStatus,
    Tier,
    TierSlot,
)
from crowdmaker.funding.refunds import ItemChoice
from crowdmaker.funding.services import ShippingRateIn
from crowdmaker.ledger import payments, verify
from crowdmaker.ledger.gateways import sandbox
from crowdmaker.ledger.gateways.base import Refund as GatewayRefund
from crowdmaker.ledger.models import (
    Account,
    Leg,
    Payment,
    PaymentOperation,
    PaymentStatus,
    SandboxCharge,
    SandboxOperation,
    Transaction,
)
from crowdmaker.ledger.money import Money, allocate
from crowdmaker.ledger.selectors import read_snapshot
from crowdmaker.ledger.services import account_open, transaction_post, transaction_reverse
from crowdmaker.people import services as people
from crowdmaker.people.models import Team, User

pytestmark = pytest.mark.django_db

OK, FAILS_ONCE = sandbox.CARD_OK, sandbox.CARD_REFUND_FAILS_ONCE


@dataclass
class World:
    campaign: Campaign
    maker: User
    team: Team
    lamp: Tier
    shipped: Tier
    shade: AddOn
    ana: Pledge
    ben: Pledge
    cai: Pledge
    settled_at: datetime


@pytest.fixture
def team(user: User) -> Team:
    return people.team_create(actor=user, slug="lamp-makers", name="Lamp makers")


@pytest.fixture
def world(make_campaign: Callable[..., Campaign], make_user: Callable[..., User], user: User, team: Team,
          django_capture_on_commit_callbacks: Any) -> World:  # fmt: skip
    """Settled: 165.02 captured, 12.00 fees, 153.02 distributed (Ada 91.81, the team 61.21)."""
    campaign = make_campaign(publish=False, goal=10_000, shares=[("person", str(user.pk), 60),
                                                                ("team", str(team.pk), 40)])  # fmt: skip
    design_version = campaign.designs.get().design_version
    shipped = services.tier_add(actor=user, campaign=campaign, title="Shipped lamp", price=5_000, unit_cost=1_500,
                                limit=5, items=[(design_version, 1)],
                                shipping=[ShippingRateIn(amount=600, region="world")])  # fmt: skip
    shade = services.addon_add(actor=user, campaign=campaign, title="Spare shade", price=800, unit_cost=300)
    services.campaign_publish(actor=user, campaign=campaign)
    campaign.refresh_from_db()
    lamp = campaign.open_tier  # type: ignore[attr-defined]
    ana = pledges.pledge_create(backer=make_user("ana", display_name="Ana Backer"), campaign=campaign, tier=shipped,
                                addons={shade.pk: 3}, extra=1_002, shipping_country="FR", payment_method=OK)  # fmt: skip
    ben = pledges.pledge_create(backer=make_user("ben"), campaign=campaign, tier=lamp, payment_method=FAILS_ONCE)
    cai = pledges.pledge_create(backer=make_user("cai"), campaign=campaign, extra=2_500, payment_method=OK)
    now = campaign.deadline + settlement.IN_FLIGHT_GRACE
    with django_capture_on_commit_callbacks(execute=True):
        report = settlement.campaign_settle(campaign_id=campaign.pk, now=now)
    assert (report.status, report.settled, report.distributed) == ("succeeded", True, 15_302)
    for pledge in (ana, ben, cai):
        pledge.refresh_from_db()
    assert (ana.amount, ana.reward_amount, ana.shipping_amount, ana.extra_amount) == (9_002, 7_400, 600, 1_002)
    assert [p.payment.fee_amount for p in (ana, ben, cai)] == [600, 350, 250]  # type: ignore[union-attr]
    assert (proceeds("person", user.pk), proceeds("team", team.pk), received(campaign)) == (9_181, 6_121, 0)
    return World(campaign=campaign, maker=user, team=team, lamp=lamp, shipped=shipped, shade=shade, ana=ana, ben=ben,
                 cai=cai, settled_at=now)  # fmt: skip


# --- helpers --------------------------------------------------------------------------------------------------


def proceeds(owner_kind: str, owner_id: int) -> int:
    account = Account.objects.filter(owner_kind=owner_kind, owner_id=str(owner_id), purpose=settlement.PROCEEDS).first()
    return account.balance if account else 0


def received(campaign: Campaign) -> int:
    account = Account.objects.filter(owner_kind="campaign", owner_id=str(campaign.pk), purpose="received").first()
    return account.balance if account else 0


def revenue() -> int:
    return Account.objects.get(owner_kind="platform", purpose="platform-revenue").balance


def assert_sound(campaign: Campaign) -> settlement.CampaignBooks:
    """Invariant 6 for the campaign and every check of `ledger verify`."""
    with read_snapshot():
        books = settlement.campaign_books(campaign=campaign)
    assert books.reconciles, books
    report = io.StringIO()
    assert verify.run_verify(out=report, err=report), report.getvalue()
    return books


def state() -> tuple[Any, ...]:
    """Every row a refund may write, in full, and the mail sent."""
    return (
        list(Refund.objects.order_by("pk").values()),
        list(Pledge.objects.order_by("pk").values()),
        list(Payment.objects.order_by("pk").values()),
        list(PaymentOperation.objects.order_by("pk").values()),
        list(Transaction.objects.order_by("pk").values()),
        list(Leg.objects.order_by("pk").values()),
        list(Account.objects.order_by("pk").values()),
        list(SandboxCharge.objects.order_by("pk").values()),
        list(SandboxOperation.objects.order_by("pk").values()),
        list(TierSlot.objects.order_by("pk").values()),
        [(m.to, m.subject) for m in mail.outbox],
    )


def refused(exc: type[Exception], code: str, call: Callable[[], object], field: str | None = None) -> None:
    """`call` is refused with `exc` and `code` (and `field`), and changes nothing."""
    before = state()
    with pytest.raises(exc) as raised:
        call()
    assert raised.value.code == code, raised.value  # type: ignore[attr-defined]
    if field is not None:
        assert raised.value.field == field  # type: ignore[attr-defined]
    assert state() == before


@pytest.fixture
def run_after_commit(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Run a service and what it leaves for after commit (the e-mail task), as a real commit would."""

    def run(call: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return run


def refund(world: World, pledge: Pledge, *, items: list[ItemChoice] | None = None, full: bool = False,
           **extra: Any) -> Refund:  # fmt: skip
    extra.setdefault("reason", "Cannot ship to you after all")
    return refunds.refund_create(actor=world.maker, pledge=pledge, items=items or [], full=full, **extra)


# --- whole pledges and items ------------------------------------------------------------------------------------


def test_a_full_refund_after_distribution_takes_it_back_from_the_makers_by_their_shares(
    world: World, run_after_commit: Callable[..., Any]
) -> None:
    ana = world.ana
    slot = TierSlot.objects.filter(pledge=ana).count()

    made = run_after_commit(lambda: refund(world, ana, full=True, reason="The lamp is discontinued",
                                           message="Sorry, Ana.\nWe could not make it."))  # fmt: skip

    assert (made.status, made.amount, made.attempt, made.failure) == (RefundStatus.SUCCEEDED, 9_002, 1, "")
    assert made.items == [
        {"item": "reward", "amount": 5_000},
        {"item": "addon", "addon": world.shade.pk, "quantity": 3, "amount": 2_400},
        {"item": "shipping", "amount": 600},
        {"item": "extra", "amount": 1_002},
    ]
    ana.refresh_from_db()
    payment = Payment.objects.get(pledge=ana)
    assert (ana.status, payment.status, payment.refunded_amount) == (PledgeStatus.REFUNDED, "refunded", 9_002)
    # 90.02 back: 6.00 of fee from the platform, 84.02 from the makers (all distributed): 50.412 / 33.608 by
    # 60/40, largest remainder: Ada 50.41, the team 33.61. They had 91.81 and 61.21.
    clawback = Transaction.objects.get(kind="refund-clawback")
    assert (clawback.subject_kind, clawback.subject_id, clawback.idempotency_key) == (
        "campaign", str(world.campaign.pk), f"refund:{made.pk}:clawback:1")  # fmt: skip
    assert sorted(clawback.legs.values_list("amount", flat=True)) == [-5_041, -3_361, 8_402]
    assert (proceeds("person", world.maker.pk), proceeds("team", world.team.pk)) == (9_181 - 5_041, 6_121 - 3_361)
    assert (received(world.campaign), revenue()) == (0, 1_200 - 600)
    assert SandboxOperation.objects.filter(kind="refund").values_list("amount", flat=True).get() == 9_002
    assert TierSlot.objects.filter(pledge=ana).count() == slot == 1  # a captured reward's place stays taken
    [sent] = mail.outbox
    assert sent.to == ["ana@example.org"]
    assert "90.02" in sent.body
    assert "The lamp is discontinued" in sent.body
    assert "We could not make it." in sent.body
    books = assert_sound(world.campaign)
    assert (books.captured, books.refunded, books.fees, books.received, books.distributed, books.balance) == (
        16_502, 9_002, 600, 6_900, 6_900, 0)  # fmt: skip


def test_items_refunded_one_by_one_then_the_rest_give_back_exactly_the_pledge_and_its_fee(world: World) -> None:
    ana, shade = world.ana, world.shade

    first = refund(world, ana, items=[ItemChoice("reward"), ItemChoice("addon", shade.pk, 1)])
    assert (first.status, first.amount) == (RefundStatus.SUCCEEDED, 5_800)
    assert refunds.refundable_items(pledge=ana) == [
        refunds.RefundItem("addon", 1_600, addon=shade.pk, quantity=2, title="Spare shade"),
        refunds.RefundItem("shipping", 600, title="Shipping"),
        refunds.RefundItem("extra", 1_002, title="Extra"),
    ]
    ana.refresh_from_db()
    assert (ana.status, ana.payment.status) == (PledgeStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED)  # type: ignore[union-attr]
    assert_sound(world.campaign)

    refused(Invalid, "refund_quantity_invalid",
            lambda: refund(world, ana, items=[ItemChoice("addon", shade.pk, 3)]), field="items.0.quantity")  # fmt: skip
    second = refund(world, ana, items=[ItemChoice("shipping")])
    rest = refund(world, ana, full=True)

    assert (second.amount, rest.amount) == (600, 2_602)
    assert rest.items == [{"item": "addon", "addon": shade.pk, "quantity": 2, "amount": 1_600},
                          {"item": "extra", "amount": 1_002}]  # fmt: skip
    ana.refresh_from_db()
    payment = Payment.objects.get(pledge=ana)
    assert (ana.status, payment.refunded_amount, payment.captured_amount) == (PledgeStatus.REFUNDED, 9_002, 9_002)
    fee_back = -sum(Leg.objects.filter(transaction__kind="refund", account__purpose="platform-revenue")
                    .values_list("amount", flat=True))  # fmt: skip
    assert fee_back == payment.fee_amount == 600  # the parts of the fee add up to the fee, to the cent
    assert refunds.refundable_items(pledge=ana) == []
    refused(Conflict, "pledge_not_captured", lambda: refund(world, ana, full=True))
    assert_sound(world.campaign)


def test_an_item_refunded_already_is_refused_and_nothing_changes(world: World) -> None:
    refund(world, world.ana, items=[ItemChoice("shipping"), ItemChoice("addon", world.shade.pk, 2)])

    refused(Conflict, "already_refunded", lambda: refund(world, world.ana, items=[ItemChoice("shipping")]),
            field="items.0")  # fmt: skip
    refused(Invalid, "refund_quantity_invalid",
            lambda: refund(world, world.ana, items=[ItemChoice("addon", world.shade.pk, 2)]))  # fmt: skip
    assert refund(world, world.ana, items=[ItemChoice("addon", world.shade.pk)]).amount == 800  # the one left
    refused(Conflict, "already_refunded", lambda: refund(world, world.ana, items=[ItemChoice("addon", world.shade.pk)]))
    assert_sound(world.campaign)


def test_bad_input_is_refused_by_the_field_it_concerns_and_nothing_changes(world: World) -> None:
    ana, cai = world.ana, world.cai
    refused(Invalid, "refund_items_required", lambda: refund(world, ana), field="items")
    refused(Invalid, "refund_items_and_full", lambda: refund(world, ana, full=True, items=[ItemChoice("extra")]))
    refused(Invalid, "refund_item_unknown", lambda: refund(world, ana, items=[ItemChoice("lamp")]), "items.0.item")
    refused(Invalid, "refund_item_repeated",
            lambda: refund(world, ana, items=[ItemChoice("extra"), ItemChoice("extra")]), "items.1")  # fmt: skip
    refused(Invalid, "refund_item_not_pledged", lambda: refund(world, cai, items=[ItemChoice("reward")]),
            "items.0.item")  # fmt: skip
    refused(Invalid, "refund_item_not_pledged", lambda: refund(world, ana, items=[ItemChoice("addon", 999_999)]),
            "items.0.addon")  # fmt: skip
    refused(Invalid, "refund_item_invalid", lambda: refund(world, ana, items=[ItemChoice("addon")]), "items.0.addon")
    refused(Invalid, "refund_item_invalid", lambda: refund(world, ana, items=[ItemChoice("extra", quantity=1)]),
            "items.0.quantity")  # fmt: skip
    refused(Invalid, "reason_required", lambda: refund(world, ana, full=True, reason="  \n "), "reason")
    refused(Invalid, "invalid", lambda: refund(world, ana, full=True, reason="x" * 201), "reason")
    refused(Invalid, "invalid", lambda: refund(world, ana, full=True, message="x" * 5_001), "message")
    assert_sound(world.campaign)


def test_only_the_campaigns_editors_refund_and_only_captured_pledges(
    world: World, make_campaign: Callable[..., Campaign], make_user: Callable[..., User]
) -> None:
    ana = world.ana
    refused(Forbidden, "not_editor",
            lambda: refunds.refund_create(actor=ana.backer, pledge=ana, full=True, reason="Mine"))  # fmt: skip
    live = make_campaign("another-run")
    held = pledges.pledge_create(backer=make_user("dan"), campaign=live, tier=live.open_tier, payment_method=OK)  # type: ignore[attr-defined]
    assert held.status == PledgeStatus.AUTHORIZED
    refused(Conflict, "pledge_not_captured",
            lambda: refunds.refund_create(actor=world.maker, pledge=held, full=True, reason="Too early"))  # fmt: skip
    assert_sound(world.campaign)


def test_a_maker_who_has_paid_out_their_share_is_named_and_nothing_is_refunded(world: World) -> None:
    payments.payout_create(owner_kind="team", owner_id=str(world.team.pk), purpose=settlement.PROCEEDS,
                           amount=Money(5_000, "EUR"), destination="NL91ABNA0417164300")  # fmt: skip
    assert proceeds("team", world.team.pk) == 1_121

    refused(Conflict, "beneficiary_paid_out", lambda: refund(world, world.ana, full=True))

    with pytest.raises(Conflict) as raised:
        refund(world, world.ana, full=True)
    assert raised.value.message == (
        "Lamp makers should give back 33.61 EUR of this refund but holds only 11.21 EUR of the campaign's proceeds "
        "(paid out). Nothing was refunded.")  # fmt: skip
    # Small enough for what the team still holds: 25.00 less a 2.50 fee, 9.00 of it from the team.
    assert refund(world, world.cai, full=True).status == RefundStatus.SUCCEEDED
    assert proceeds("team", world.team.pk) == 1_121 - 900
    assert_sound(world.campaign)


# --- declined, retried, resumed ---------------------------------------------------------------------------------


def test_a_declined_refund_is_visible_undone_in_the_ledger_and_retried(
    world: World, run_after_commit: Callable[..., Any]
) -> None:
    ben = world.ben
    before = (proceeds("person", world.maker.pk), proceeds("team", world.team.pk), revenue())

    failed = run_after_commit(lambda: refund(world, ben, full=True, message="Sorry"))

    assert (failed.status, failed.attempt, failed.succeeded_at) == (RefundStatus.FAILED, 1, None)
    assert failed.failure == "The payment gateway declined the refund (refund_failed)."
    ben.refresh_from_db()
    assert (ben.status, ben.payment.status, ben.payment.refunded_amount) == ("captured", "captured", 0)  # type: ignore[union-attr]
    assert (proceeds("person", world.maker.pk), proceeds("team", world.team.pk), revenue()) == before
    reversed_kinds = sorted(Transaction.objects.filter(reverses__isnull=False).values_list("reverses__kind", flat=True))
    assert reversed_kinds == ["refund", "refund-clawback"]
    assert mail.outbox == []
    assert_sound(world.campaign)
    # Its items are free again while it is failed: refused only once another refund took them.
    assert [item.item for item in refunds.refundable_items(pledge=ben)] == ["reward"]
    refused(Forbidden, "not_editor", lambda: refunds.refund_retry(actor=ben.backer, refund=failed))

    retried = run_after_commit(lambda: refunds.refund_retry(actor=world.maker, refund=failed))

    assert (retried.pk, retried.status, retried.attempt, retried.failure) == (failed.pk, "succeeded", 2, "")
    assert retried.reference == f"{failed.reference}:attempt-2"
    ben.refresh_from_db()
    assert (ben.status, ben.payment.refunded_amount) == (PledgeStatus.REFUNDED, 5_000)  # type: ignore[union-attr]
    assert Transaction.objects.filter(kind="refund-clawback").count() == 2
    assert SandboxOperation.objects.filter(kind="refund").count() == 1
    assert [m.to for m in mail.outbox] == [["ben@example.org"]]
    refused(Conflict, "refund_not_failed", lambda: refunds.refund_retry(actor=world.maker, refund=retried))
    assert_sound(world.campaign)


class DiesAfterRefunding(sandbox.SandboxGateway):
    """The sandbox, but the process dies once the gateway has made the refund, before anyone hears of it."""

    def refund(self, capture_id: str, amount: Money, *, reference: str) -> GatewayRefund:
        super().refund(capture_id, amount, reference=reference)
        raise Killed


class Killed(BaseException):
    """The worker dies here; everything committed before it stays."""


def test_a_refund_cut_short_by_a_crash_is_finished_once_by_the_periodic_job(
    world: World, run_after_commit: Callable[..., Any]
) -> None:
    with pytest.raises(Killed):
        refund(world, world.ana, full=True, reference="form-token-1", gateway=DiesAfterRefunding())
    pending = Refund.objects.get()
    assert pending.status == RefundStatus.PENDING
    assert PaymentOperation.objects.get(reference=pending.reference).status == "pending"
    assert_sound(world.campaign)  # the posting is made, the payment's refund pending: the books say so
    soon = pending.updated_at + refunds.REFUND_STALE_AFTER - timedelta(seconds=1)
    assert refunds.refunds_resume_stale(now=soon) == {"succeeded": 0, "failed": 0, "pending": 0}  # not stale yet

    later = pending.updated_at + refunds.REFUND_STALE_AFTER + timedelta(seconds=1)
    outcome = run_after_commit(lambda: refunds.refunds_resume_stale(now=later))
    again = run_after_commit(lambda: refunds.refunds_resume_stale(now=later))

    assert (outcome, again) == (
        {"succeeded": 1, "failed": 0, "pending": 0},
        {"succeeded": 0, "failed": 0, "pending": 0},
    )
    pending.refresh_from_db()
    assert pending.status == RefundStatus.SUCCEEDED
    assert SandboxOperation.objects.filter(kind="refund").count() == 1
    assert SandboxCharge.objects.get(reference=world.ana.payment.reference).refunded_amount == 9_002  # type: ignore[union-attr]
    assert (
        Transaction.objects.filter(kind="refund").count()
        == Transaction.objects.filter(kind="refund-clawback").count()
        == 1
    )
    assert len(mail.outbox) == 1
    # The maker's form sent twice (a double click): the second finds the refund made under its token.
    assert refund(world, world.ana, full=True, reference="form-token-1").pk == pending.pk
    assert_sound(world.campaign)


def test_a_declined_refund_left_pending_by_a_crash_is_recorded_failed_by_the_job(world: World) -> None:
    class DiesAfterTheDecline(sandbox.SandboxGateway):
        def refund(self, capture_id: str, amount: Money, *, reference: str) -> GatewayRefund:
            try:
                return super().refund(capture_id, amount, reference=reference)
            finally:
                raise Killed

    with pytest.raises(Killed):
        refund(world, world.ben, full=True, gateway=DiesAfterTheDecline())
    pending = Refund.objects.get()
    later = pending.updated_at + refunds.REFUND_STALE_AFTER + timedelta(seconds=1)

    assert refunds.refunds_resume_stale(now=later) == {"succeeded": 0, "failed": 1, "pending": 0}

    pending.refresh_from_db()
    assert (pending.status, pending.failure) == ("failed", "The payment gateway declined the refund (refund_failed).")
    assert sorted(Transaction.objects.filter(reverses__isnull=False).values_list("reverses__kind", flat=True)) == [
        "refund", "refund-clawback"]  # fmt: skip
    assert_sound(world.campaign)


# --- the API ------------------------------------------------------------------------------------------------------


def refunds_url(world: World, pledge: Pledge) -> str:
    return f"/api/v1/campaigns/{world.campaign.slug}/pledges/{pledge.pk}/refunds"


def test_the_api_refunds_once_per_idempotency_key_and_replays_the_answer(
    world: World, api_for: Callable[..., ApiClient]
) -> None:
    maker = api_for(world.maker)
    body = {"items": [{"item": "addon", "addon": world.shade.pk, "quantity": 2}, {"item": "shipping"}],
            "reason": "Out of shades", "message": "Two shades and the shipping back."}  # fmt: skip

    first = maker.post(refunds_url(world, world.ana), body, headers={"Idempotency-Key": "r-1"})
    after = state()
    again = maker.post(refunds_url(world, world.ana), body, headers={"Idempotency-Key": "r-1"})

    assert first.status_code == 201, first.content
    assert (again.status_code, again.content, again["Idempotent-Replayed"]) == (201, first.content, "true")
    assert state() == after
    answer = first.json()
    assert {k: answer[k] for k in ("pledge", "status", "currency", "amount", "attempt", "failure", "reason")} == {
        "pledge": world.ana.pk, "status": "succeeded", "currency": "EUR", "amount": 2_200, "attempt": 1,
        "failure": "", "reason": "Out of shades"}  # fmt: skip
    assert answer["items"] == [{"item": "addon", "addon": world.shade.pk, "quantity": 2, "amount": 1_600},
                               {"item": "shipping", "addon": None, "quantity": None, "amount": 600}]  # fmt: skip
    before = state()
    other = maker.post(refunds_url(world, world.ana), {**body, "reason": "Other"}, headers={"Idempotency-Key": "r-1"})
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_reused")
    twice = maker.post(refunds_url(world, world.ana), {"items": [{"item": "shipping"}], "reason": "Again"},
                       headers={"Idempotency-Key": "r-2"})  # fmt: skip
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "already_refunded")
    assert state() == before
    listed = maker.get(f"/api/v1/campaigns/{world.campaign.slug}/refunds")
    assert [r["id"] for r in listed.json()["results"]] == [answer["id"]]
    mine = api_for(world.ana.backer).get(f"/api/v1/pledges/{world.ana.pk}/refunds")
    assert [(r["amount"], r["message"]) for r in mine.json()] == [(2_200, "Two shades and the shipping back.")]
    assert_sound(world.campaign)


def test_the_api_refuses_strangers_and_bad_input_and_changes_nothing(
    world: World, api_for: Callable[..., ApiClient]
) -> None:
    maker, backer = api_for(world.maker), api_for(world.ana.backer)
    before = state()

    cases = [
        (backer.post(refunds_url(world, world.ana), {"full": True, "reason": "x"}, headers={"Idempotency-Key": "a"}),
         403, "not_editor"),
        (maker.post(refunds_url(world, world.ana), {"full": True, "reason": "x"}), 400, "idempotency_key_required"),
        (maker.post(refunds_url(world, world.ana), {"reason": "x"}, headers={"Idempotency-Key": "b"}),
         422, "refund_items_required"),
        (maker.post(refunds_url(world, world.ana), {"items": [{"item": "lamp"}], "reason": "x"},
                    headers={"Idempotency-Key": "c"}), 422, "validation_error"),
        (maker.post(f"/api/v1/campaigns/{world.campaign.slug}/pledges/999999/refunds", {"full": True, "reason": "x"},
                    headers={"Idempotency-Key": "d"}), 404, "not_found"),
        (backer.get(f"/api/v1/campaigns/{world.campaign.slug}/refunds"), 403, "not_editor"),
        (api_for(world.ben.backer).get(f"/api/v1/pledges/{world.ana.pk}/refunds"), 404, "not_found"),
    ]  # fmt: skip

    for answer, status, code in cases:
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.content
    assert state() == before


def test_the_api_retries_a_failed_refund(world: World, api_for: Callable[..., ApiClient]) -> None:
    maker = api_for(world.maker)
    failed = maker.post(refunds_url(world, world.ben), {"full": True, "reason": "Late"},
                        headers={"Idempotency-Key": "r-1"}).json()  # fmt: skip
    assert (failed["status"], failed["failure"]) == (
        "failed",
        "The payment gateway declined the refund (refund_failed).",
    )
    stranger = api_for(world.ben.backer).post(f"/api/v1/refunds/{failed['id']}/retry", headers={"Idempotency-Key": "x"})
    assert (stranger.status_code, stranger.json()["error"]["code"]) == (403, "not_editor")

    retried = maker.post(f"/api/v1/refunds/{failed['id']}/retry", headers={"Idempotency-Key": "r-2"})
    replayed = maker.post(f"/api/v1/refunds/{failed['id']}/retry", headers={"Idempotency-Key": "r-2"})

    assert retried.status_code == 200, retried.content
    assert (retried.json()["status"], retried.json()["attempt"]) == ("succeeded", 2)
    assert replayed.content == retried.content
    again = maker.post(f"/api/v1/refunds/{failed['id']}/retry", headers={"Idempotency-Key": "r-3"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "refund_not_failed")
    assert SandboxOperation.objects.filter(kind="refund").count() == 1
    assert_sound(world.campaign)


# --- the pages ----------------------------------------------------------------------------------------------------


def test_the_maker_refunds_items_from_the_backers_page_and_retries_a_failed_one(
    world: World, signed_in_client: Client, run_after_commit: Callable[..., Any]
) -> None:
    backers = signed_in_client.get(f"/campaigns/{world.campaign.slug}/backers/")
    form_url = f"/campaigns/{world.campaign.slug}/backers/{world.ana.pk}/refund/"
    assert form_url in backers.content.decode()
    page = signed_in_client.get(form_url)
    assert page.status_code == 200
    token = page.context["form"].initial["token"]
    post = {"what": "items", "items": ["extra", f"addon-{world.shade.pk}"], f"quantity_addon-{world.shade.pk}": "1",
            "reason": "Out of stock", "message": "Sorry!", "token": token}  # fmt: skip

    done = run_after_commit(lambda: signed_in_client.post(form_url, post))
    twice = run_after_commit(lambda: signed_in_client.post(form_url, post))  # the form sent again: refunded once

    assert done.status_code == twice.status_code == 302
    made = Refund.objects.get()
    assert (made.status, made.amount, made.reason) == ("succeeded", 800 + 1_002, "Out of stock")
    listed = signed_in_client.get(done["Location"]).content.decode()
    assert "18.02 EUR" in listed
    assert "Out of stock" in listed
    mine = Client()
    mine.force_login(world.ana.backer)
    detail = mine.get(f"/pledges/{world.ana.pk}/").content.decode()
    assert "18.02 EUR" in detail
    assert "Sorry!" in detail

    before = state()
    bad = signed_in_client.post(form_url, {**post, "token": "a" * 32, "items": ["extra"]})  # refunded: not offered
    assert bad.status_code == 400
    assert "Select a valid choice" in bad.content.decode()
    bad = signed_in_client.post(form_url, {**post, "token": "a" * 32, "reason": " "})
    assert bad.status_code == 400
    assert state() == before

    ben_url = f"/campaigns/{world.campaign.slug}/backers/{world.ben.pk}/refund/"
    run_after_commit(lambda: signed_in_client.post(ben_url, {"what": "full", "reason": "Late", "token": "b" * 32}))
    failed = Refund.objects.get(pledge=world.ben)
    listed = signed_in_client.get(f"/campaigns/{world.campaign.slug}/refunds/").content.decode()
    retry_url = f"/campaigns/{world.campaign.slug}/refunds/{failed.pk}/retry/"
    assert failed.status == "failed"
    assert retry_url in listed
    assert "refund_failed" in listed
    run_after_commit(lambda: signed_in_client.post(retry_url))
    failed.refresh_from_db()
    assert (failed.status, failed.attempt) == ("succeeded", 2)
    assert_sound(world.campaign)


def test_the_refund_pages_are_for_editors_only(world: World, make_user: Callable[..., User]) -> None:
    client = Client()
    client.force_login(world.ana.backer)
    before = state()
    assert client.get(f"/campaigns/{world.campaign.slug}/backers/{world.ana.pk}/refund/").status_code == 403
    assert client.post(f"/campaigns/{world.campaign.slug}/backers/{world.ana.pk}/refund/",
                       {"what": "full", "reason": "Mine", "token": "t"}).status_code == 403  # fmt: skip
    assert client.get(f"/campaigns/{world.campaign.slug}/refunds/").status_code == 403
    assert state() == before


def test_a_pledge_without_a_reward_is_refunded_from_the_refunds_page_by_its_number(
    world: World, signed_in_client: Client, run_after_commit: Callable[..., Any]
) -> None:
    refunds_page = f"/campaigns/{world.campaign.slug}/refunds/"
    backers = signed_in_client.get(f"/campaigns/{world.campaign.slug}/backers/").content.decode()
    assert f"/backers/{world.cai.pk}/refund/" not in backers  # no reward to ship: not on the backers page

    before = state()
    for unknown in ("999999", "abc", str(world.cai.pk + 1000)):
        answer = signed_in_client.get(refunds_page, {"pledge": unknown})
        assert answer.status_code == 404
        assert "This campaign has no pledge" in answer.content.decode()
    assert state() == before

    found = signed_in_client.get(refunds_page, {"pledge": f"#{world.cai.pk}"})
    form_url = f"/campaigns/{world.campaign.slug}/backers/{world.cai.pk}/refund/"
    assert found.status_code == 302
    assert found["Location"] == form_url
    token = signed_in_client.get(form_url).context["form"].initial["token"]
    done = run_after_commit(
        lambda: signed_in_client.post(form_url, {"what": "full", "reason": "Asked", "token": token})
    )
    assert done.status_code == 302
    world.cai.refresh_from_db()
    assert (world.cai.status, Refund.objects.get(pledge=world.cai).amount) == ("refunded", 2_500)
    assert_sound(world.campaign)


# --- the fee of the items refunded ------------------------------------------------------------------------------


def fee_kept(payment: Payment) -> int:
    """What the platform keeps of its fee on the payment: its fee, less what refunds gave back (net of reversals)."""
    return sum(Leg.objects.filter(transaction__subject_kind="payment", transaction__subject_id=str(payment.pk),
                                  account__purpose="platform-revenue").values_list("amount", flat=True))  # fmt: skip


def test_a_refund_gives_back_the_fee_of_its_items_by_their_margins(world: World) -> None:
    # Ana's 6.00 fee over her items' margins (reward 35.00, shades 3 x 5.00, shipping none, extra 10.02), largest
    # remainder: reward 3.50, the shades 1.50 (0.50 a unit), shipping 0, extra 1.00.
    ana, shade = world.ana, world.shade
    payment = Payment.objects.get(pledge=ana)

    shipping = refund(world, ana, items=[ItemChoice("shipping")])
    assert (shipping.amount, fee_kept(payment)) == (600, 600)  # no fee was taken on the shipping
    assert_sound(world.campaign)
    first = refund(world, ana, items=[ItemChoice("reward"), ItemChoice("addon", shade.pk, 1)])
    assert (first.amount, fee_kept(payment)) == (5_800, 600 - 350 - 50)
    assert refunds.refund_fee(pledge=ana, items=[{"item": "addon", "addon": shade.pk, "quantity": 2}]) == 100
    second = refund(world, ana, items=[ItemChoice("addon", shade.pk, 1)])
    assert (second.amount, fee_kept(payment)) == (800, 150)
    rest = refund(world, ana, full=True)
    assert (rest.amount, fee_kept(payment)) == (800 + 1_002, 0)  # the parts add up to the fee, to the cent
    assert Payment.objects.get(pledge=ana).refunded_amount == 9_002
    books = assert_sound(world.campaign)
    assert books.fees == 350 + 250


def test_refunding_all_but_the_shipping_gives_back_all_the_fee(world: World) -> None:
    refund(world, world.ana, items=[ItemChoice("reward"), ItemChoice("addon", world.shade.pk), ItemChoice("extra")])

    payment = Payment.objects.get(pledge=world.ana)
    assert (payment.refunded_amount, fee_kept(payment)) == (9_002 - 600, 0)
    assert_sound(world.campaign)


def test_the_ledger_refuses_a_fee_part_it_did_not_keep_and_nothing_changes(world: World) -> None:
    payment = Payment.objects.get(pledge=world.ana)
    for fee_part in (601, -1, 1_001):  # more than the fee kept, below zero, more than the refund
        refused(Invalid, "refund_fee_invalid", partial(payments.payment_refund, payment=payment,
                amount=Money(1_000, "EUR"), fee_part=Money(fee_part, "EUR")), field="fee_part")  # fmt: skip
    assert_sound(world.campaign)


# --- the clawback: by what each maker still holds ----------------------------------------------------------------


def test_the_clawback_follows_what_each_maker_still_holds_so_rounding_never_refuses_a_refund(
    make_campaign: Callable[..., Campaign], make_user: Callable[..., User], user: User,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    bea = make_user("bea")
    campaign = make_campaign(
        publish=False, goal=1_000, shares=[("person", str(user.pk), 1), ("person", str(bea.pk), 1)]
    )
    services.campaign_publish(actor=user, campaign=campaign)
    campaign.refresh_from_db()
    made = [pledges.pledge_create(backer=make_user(f"x{n}"), campaign=campaign, extra=1_010, payment_method=OK)
            for n in (1, 2)]  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        report = settlement.campaign_settle(campaign_id=campaign.pk, now=campaign.deadline + settlement.IN_FLIGHT_GRACE)
    assert (report.distributed, proceeds("person", user.pk), proceeds("person", bea.pk)) == (1_818, 909, 909)

    refunds.refund_create(actor=user, pledge=made[0], reason="r", full=True)
    assert (proceeds("person", user.pk), proceeds("person", bea.pk)) == (909 - 455, 909 - 454)
    refunds.refund_create(actor=user, pledge=made[1], reason="r", full=True)  # 4.54 + 4.55: what each holds

    assert (proceeds("person", user.pk), proceeds("person", bea.pk)) == (0, 0)
    assert_sound(campaign)


def test_the_clawback_never_asks_anyone_for_more_than_they_still_hold() -> None:
    """allocate(short, weights=remaining) with short <= sum(remaining): every part is at most its remaining."""
    import random

    draw = random.Random(5)
    for _ in range(3_000):
        remaining = [draw.choice([0, 1, 2, 3, draw.randint(0, 10_000)]) for _ in range(draw.randint(1, 6))]
        if not sum(remaining):
            continue
        short = draw.randint(1, sum(remaining))
        parts = [part.amount for part in allocate(Money(short, "EUR"), remaining)]
        assert sum(parts) == short
        assert all(part <= held for part, held in zip(parts, remaining, strict=True)), (short, remaining, parts)


def test_a_refund_the_makers_cannot_cover_from_what_they_hold_of_the_campaign_is_refused(world: World) -> None:
    # The campaign's distribution is undone and its proceeds sent elsewhere than the makers' proceeds accounts (the
    # books still reconcile): the makers hold nothing of this campaign any more, though their accounts do.
    original = Transaction.objects.get(kind=settlement.DISTRIBUTION)
    transaction_reverse(original=original, memo="test")
    received = Account.objects.get(owner_kind="campaign", owner_id=str(world.campaign.pk), purpose="received")
    elsewhere = account_open(owner_kind="person", owner_id=str(world.maker.pk), purpose="elsewhere", currency="EUR")
    transaction_post(kind=settlement.DISTRIBUTION, legs=[(received, Money(-15_302, "EUR")), (elsewhere, Money(15_302, "EUR"))],
                     subject=("campaign", str(world.campaign.pk)), memo="test")  # fmt: skip
    assert_sound(world.campaign)

    refused(Conflict, "refund_not_covered", lambda: refund(world, world.cai, full=True))
    assert_sound(world.campaign)


# --- a decline the ledger's own job learns first -------------------------------------------------------------------


class DiesBeforeTheGateway(sandbox.SandboxGateway):
    def refund(self, capture_id: str, amount: Money, *, reference: str) -> GatewayRefund:
        raise Killed


def test_a_decline_the_ledgers_job_learns_first_undoes_the_clawback_with_the_refund(world: World) -> None:
    with pytest.raises(Killed):
        refund(world, world.ben, full=True, gateway=DiesBeforeTheGateway())  # Ben's card declines its first refund
    pending = Refund.objects.get()
    assert (proceeds("person", world.maker.pk), proceeds("team", world.team.pk)) == (9_181 - 2_790, 6_121 - 1_860)
    PaymentOperation.objects.filter(reference=pending.reference).update(
        created_at=pending.created_at - payments.STALE_AFTER - timedelta(seconds=1))  # fmt: skip

    assert payments.payments_resume_stale()["declined"] == 1

    pending.refresh_from_db()
    assert (pending.status, pending.failure) == ("failed", "The payment gateway declined the refund (refund_failed).")
    assert (proceeds("person", world.maker.pk), proceeds("team", world.team.pk), received(world.campaign)) == (
        9_181, 6_121, 0)  # fmt: skip
    assert_sound(world.campaign)
    # Settlement runs again meanwhile: nothing is left in the campaign's account to distribute twice.
    assert settlement.campaign_settle(campaign_id=world.campaign.pk, now=world.settled_at).distributed == 0
    later = pending.updated_at + refunds.REFUND_STALE_AFTER + timedelta(seconds=1)
    assert refunds.refunds_resume_stale(now=later) == {"succeeded": 0, "failed": 0, "pending": 0}
    assert refunds.refund_retry(actor=world.maker, refund=pending).status == RefundStatus.SUCCEEDED
    assert (proceeds("person", world.maker.pk), proceeds("team", world.team.pk)) == (9_181 - 2_790, 6_121 - 1_860)
    assert_sound(world.campaign)


# --- the pages: tokens and numbers ---------------------------------------------------------------------------------


def test_numbers_in_addresses_and_forms_are_ascii_digits_or_4xx(world: World) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(world.maker)
    campaign_url = f"/campaigns/{world.campaign.slug}"
    before = (state(), list(Comment.objects.values()))

    for asked in ("\u00b2", "\u0663", "1" * 19, "0"):
        answer = client.get(f"{campaign_url}/refunds/", {"pledge": asked})
        assert answer.status_code == 404, (asked, answer.status_code)
        assert client.get(f"{campaign_url}/comments/", {"before": asked}).status_code == 404
        assert client.post(f"{campaign_url}/comments/", {"parent": asked, "body": "Hi"}).status_code == 404
        assert client.get(f"{campaign_url}/backers/", {"show": f"tier-{asked}"}).status_code == 200

    assert (state(), list(Comment.objects.values())) == before


def test_the_refund_forms_token_is_32_hex_digits_and_one_pledges_only(
    world: World, signed_in_client: Client, run_after_commit: Callable[..., Any]
) -> None:
    ana_url = f"/campaigns/{world.campaign.slug}/backers/{world.ana.pk}/refund/"
    cai_url = f"/campaigns/{world.campaign.slug}/backers/{world.cai.pk}/refund/"
    client = Client(raise_request_exception=False)
    client.force_login(world.maker)
    before = state()
    for token in ("", "t", "A" * 32, "a" * 31, "a" * 33, "a" * 32 + ":attempt-2", "\u00b2" * 32):
        answer = client.post(ana_url, {"what": "full", "reason": "Asked", "token": token})
        assert answer.status_code == 400, (token, answer.status_code)
    assert state() == before

    token = "0123456789abcdef" * 2
    done = run_after_commit(lambda: client.post(cai_url, {"what": "full", "reason": "Asked", "token": token}))
    assert done.status_code == 302
    before = state()
    other = client.post(ana_url, {"what": "full", "reason": "Asked", "token": token})
    assert other.status_code == 422
    assert "another refund" in other.content.decode()
    assert state() == before
    assert_sound(world.campaign)


def test_a_reference_taken_by_another_pledges_refund_meanwhile_is_refused_not_a_500(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests with one token for two pledges at once: the loser's insert meets the winner's reference."""
    begin = payments._begin

    def lost_the_race(payment: Payment, *, kind: str, reference: str, amount: int) -> PaymentOperation:
        PaymentOperation.objects.create(payment=Payment.objects.get(pledge=world.cai), kind=kind, reference=reference,
                                        amount=1, status="succeeded")  # fmt: skip
        return begin(payment, kind=kind, reference=reference, amount=amount)

    monkeypatch.setattr(payments, "_begin", lost_the_race)
    refused(Invalid, "reference_reused", lambda: refund(world, world.ana, full=True, reference="refund-form-x"))


# --- the API's referrer -----------------------------------------------------------------------------------------


def test_the_api_refuses_an_inactive_member_as_referrer(
    make_campaign: Callable[..., Campaign], make_user: Callable[..., User], api_for: Callable[..., ApiClient]
) -> None:
    campaign = make_campaign("referred-run")
    gone = make_user("gone")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    before = state()

    answer = api_for(make_user("carla")).post(
        f"/api/v1/campaigns/{campaign.slug}/pledges",
        {"tier": campaign.open_tier.pk, "addons": [], "extra": 0, "payment_method": OK, "ref": "gone"},  # type: ignore[attr-defined]
        headers={"Idempotency-Key": "p-1"},
    )

    assert (answer.status_code, answer.json()["error"]["code"], answer.json()["error"]["field"]) == (
        422, "referrer_unknown", "ref")  # fmt: skip
    assert state() == before


# --- a reward refunded is not sent -------------------------------------------------------------------------------


def test_a_pledge_whose_reward_is_refunded_is_no_reward_to_ship(world: World, signed_in_client: Client) -> None:
    from crowdmaker.funding import backers, fulfilment, reports, surveys

    campaign, ana = world.campaign, world.ana
    surveys.survey_open(actor=world.maker, campaign=campaign, address_lock_at=world.settled_at + timedelta(days=30))
    assert fulfilment.fulfilment_totals(campaign=campaign).overall.pledges == 2  # Ana's and Ben's rewards

    refund(world, ana, items=[ItemChoice("reward")])  # her add-ons, shipping and extra stay paid

    assert list(backers.pledges_to_ship(campaign=campaign)) == [world.ben]
    assert fulfilment.fulfilment_totals(campaign=campaign).overall.pledges == 1
    with pytest.raises(NotFound) as raised:
        surveys.survey_for_pledge(backer=ana.backer, pledge_id=ana.pk)
    assert raised.value.code == "no_survey"
    assert surveys.survey_for_pledge(backer=world.ben.backer, pledge_id=world.ben.pk).pledge == world.ben
    assert (
        f"/backers/{ana.pk}/refund/"
        not in signed_in_client.get(f"/campaigns/{campaign.slug}/backers/").content.decode()
    )
    header, *rows = reports.backer_report_rows(actor=world.maker, campaign=campaign)
    status = header.index("fulfilment_status")
    assert {row[1]: row[status] for row in rows} == {
        str(ana.pk): "reward-refunded", str(world.ben.pk): "not-sent", str(world.cai.pk): ""}  # fmt: skip
    assert_sound(campaign)
