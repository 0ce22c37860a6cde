"""Pledges: authorized at once, never beyond a tier's limit, declined cards and cancellations free the place,
changes keep the old pledge until the new one holds, flexible campaigns capture at once."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Sum
from django.utils import timezone

from crowdmaker.core.errors import Conflict, Forbidden, Invalid, NotFound
from crowdmaker.funding import pledges
from crowdmaker.funding.models import Campaign, FundingModel, Pledge, PledgeStatus, Tier, TierSlot
from crowdmaker.ledger import verify
from crowdmaker.ledger.gateways import Authorization, GatewayUnavailable, sandbox
from crowdmaker.ledger.models import Account, Leg, Payment, PaymentStatus, Transaction
from crowdmaker.ledger.money import Money
from crowdmaker.ledger.payments import GatewayDown, PaymentDeclined
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db


def held(tier: Tier) -> int:
    return TierSlot.objects.filter(tier=tier, pledge__isnull=False).count()


def state() -> tuple[int, int, int, int]:
    return (
        Pledge.objects.count(),
        Payment.objects.count(),
        Transaction.objects.count(),
        TierSlot.objects.filter(pledge__isnull=False).count(),
    )


def test_a_pledge_is_authorized_and_holds_a_place(campaign: Campaign, early_bird: Tier, other_user: User) -> None:
    pledge = pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird, extra=500,
                                   payment_method=sandbox.CARD_OK)  # fmt: skip
    assert pledge.status == PledgeStatus.AUTHORIZED
    assert (pledge.reward_amount, pledge.extra_amount, pledge.amount, pledge.unit_cost) == (4_000, 500, 4_500, 1_500)
    assert pledge.payment is not None
    assert (pledge.payment.status, pledge.payment.amount, pledge.payment.reference) == (
        PaymentStatus.AUTHORIZED,
        4_500,
        f"pledge-{pledge.pk}",
    )
    assert pledge.payment.fee_quoted == 300  # 10 % of the margin: 4,500 - 1,500 declared cost
    assert held(early_bird) == 1
    assert Transaction.objects.count() == 0  # nothing is posted until the money is captured


def test_the_fee_is_quoted_before_the_backer_commits(campaign: Campaign, early_bird: Tier) -> None:
    quote = pledges.pledge_quote(campaign=campaign, tier=early_bird, extra=1_000)
    assert (quote.amount, quote.unit_cost, quote.fee) == (5_000, 1_500, 350)
    no_reward = pledges.pledge_quote(campaign=campaign, tier=None, extra=2_000)
    assert (no_reward.amount, no_reward.fee) == (2_000, 200)  # no declared cost: the margin is all of it


def test_a_limited_tier_is_never_oversold(campaign: Campaign, early_bird: Tier, make_user: Callable[..., User]) -> None:
    backers = [make_user(f"backer{n}") for n in range(4)]
    for backer in backers[:3]:
        pledges.pledge_create(backer=backer, campaign=campaign, tier=early_bird, payment_method=sandbox.CARD_OK)
    before = state()
    with pytest.raises(Conflict) as refused:
        pledges.pledge_create(backer=backers[3], campaign=campaign, tier=early_bird, payment_method=sandbox.CARD_OK)
    assert refused.value.code == "sold_out"
    assert "“Early bird” is sold out." in refused.value.message
    assert state() == before  # nothing recorded, nothing authorized


def test_a_declined_card_frees_the_place(campaign: Campaign, early_bird: Tier, other_user: User) -> None:
    with pytest.raises(PaymentDeclined):
        pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird,
                              payment_method=sandbox.CARD_DECLINED)  # fmt: skip
    pledge = Pledge.objects.get()
    assert pledge.status == PledgeStatus.DECLINED
    assert pledge.payment is not None
    assert pledge.payment.status == PaymentStatus.FAILED
    assert held(early_bird) == 0


def test_cancelling_voids_and_frees_the_place(campaign: Campaign, early_bird: Tier, other_user: User) -> None:
    pledge = pledges.pledge_create(
        backer=other_user, campaign=campaign, tier=early_bird, payment_method=sandbox.CARD_OK
    )
    cancelled = pledges.pledge_cancel(backer=other_user, pledge_id=pledge.pk)
    assert cancelled.status == PledgeStatus.CANCELLED
    assert Payment.objects.get().status == PaymentStatus.VOIDED
    assert held(early_bird) == 0
    with pytest.raises(Conflict) as again:
        pledges.pledge_cancel(backer=other_user, pledge_id=pledge.pk)
    assert again.value.code == "pledge_not_cancellable"


def test_only_the_backer_may_cancel(campaign: Campaign, early_bird: Tier, other_user: User, user: User) -> None:
    pledge = pledges.pledge_create(
        backer=other_user, campaign=campaign, tier=early_bird, payment_method=sandbox.CARD_OK
    )
    with pytest.raises(NotFound):
        pledges.pledge_cancel(backer=user, pledge_id=pledge.pk)
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.AUTHORIZED


def test_changing_tier_keeps_the_old_pledge_until_the_new_one_holds(
    campaign: Campaign, early_bird: Tier, other_user: User, make_user: Callable[..., User]
) -> None:
    first = pledges.pledge_create(backer=other_user, campaign=campaign, tier=campaign.open_tier,  # type: ignore[attr-defined]
                                  payment_method=sandbox.CARD_OK)  # fmt: skip
    for n in range(3):
        pledges.pledge_create(backer=make_user(f"fan{n}"), campaign=campaign, tier=early_bird,
                              payment_method=sandbox.CARD_OK)  # fmt: skip
    with pytest.raises(Conflict):  # the early bird is sold out: the backer keeps the pledge they had
        pledges.pledge_change(backer=other_user, pledge_id=first.pk, tier=early_bird, payment_method=sandbox.CARD_OK)
    first.refresh_from_db()
    assert first.status == PledgeStatus.AUTHORIZED
    changed = pledges.pledge_change(backer=other_user, pledge_id=first.pk, tier=campaign.open_tier,  # type: ignore[attr-defined]
                                    extra=1_000, payment_method=sandbox.CARD_OK)  # fmt: skip
    first.refresh_from_db()
    assert (changed.status, changed.amount, changed.replaces_id) == (PledgeStatus.AUTHORIZED, 6_000, first.pk)
    assert first.status == PledgeStatus.REPLACED


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"extra": -1}, "invalid"),
        ({"extra": 0, "tier": None}, "amount_zero"),
        ({"addons": {999: 1}}, "addon_unknown"),
        ({"addons": {1: 1}, "tier": None, "extra": 100}, "addons_need_tier"),
    ],
)
def test_bad_pledges_are_refused_and_record_nothing(
    campaign: Campaign, early_bird: Tier, other_user: User, kwargs: dict[str, object], code: str
) -> None:
    arguments = {"tier": early_bird, **kwargs}
    with pytest.raises(Invalid) as refused:
        pledges.pledge_create(backer=other_user, campaign=campaign, payment_method=sandbox.CARD_OK, **arguments)  # type: ignore[arg-type]
    assert refused.value.code == code
    assert state() == (0, 0, 0, 0)


def test_a_draft_campaign_and_ones_own_campaign_take_no_pledges(
    make_campaign: Callable[..., Campaign], user: User, other_user: User
) -> None:
    draft = make_campaign("draft-run", publish=False)
    with pytest.raises(Conflict) as closed:
        pledges.pledge_create(backer=other_user, campaign=draft, extra=1_000, payment_method=sandbox.CARD_OK)
    assert closed.value.code == "campaign_closed"
    live = make_campaign("live-run")
    with pytest.raises(Forbidden):
        pledges.pledge_create(backer=user, campaign=live, extra=1_000, payment_method=sandbox.CARD_OK)
    assert state() == (0, 0, 0, 0)


def test_a_retry_with_the_same_key_is_the_same_pledge(campaign: Campaign, early_bird: Tier, other_user: User) -> None:
    first = pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird, request_key="k-1",
                                  payment_method=sandbox.CARD_OK)  # fmt: skip
    again = pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird, request_key="k-1",
                                  payment_method=sandbox.CARD_OK)  # fmt: skip
    assert again.pk == first.pk
    assert (Pledge.objects.count(), Payment.objects.count(), held(early_bird)) == (1, 1, 1)
    with pytest.raises(Invalid) as reused:
        pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird, extra=100, request_key="k-1",
                              payment_method=sandbox.CARD_OK)  # fmt: skip
    assert reused.value.code == "idempotency_key_reused"


def test_a_flexible_campaign_captures_at_once_and_its_ledger_reconciles(
    make_campaign: Callable[..., Campaign], other_user: User
) -> None:
    campaign = make_campaign("flexible-run", funding_model=FundingModel.FLEXIBLE)
    pledge = pledges.pledge_create(backer=other_user, campaign=campaign, tier=campaign.open_tier,  # type: ignore[attr-defined]
                                   payment_method=sandbox.CARD_OK)  # fmt: skip
    assert pledge.status == PledgeStatus.CAPTURED
    received = Account.objects.get(owner_kind="campaign", owner_id=str(campaign.pk), purpose="received")
    # MONEY.md invariant 6: captured pledges minus refunds = what the campaign received (after the fee).
    captured = Pledge.objects.filter(campaign=campaign, status=PledgeStatus.CAPTURED).aggregate(s=Sum("amount"))["s"]
    fee = Payment.objects.get().fee_amount
    assert (captured, fee) == (5_000, 350)
    assert received.balance == captured - fee
    assert Leg.objects.exists()
    report = io.StringIO()
    assert verify.run_verify(out=report, err=report), report.getvalue()


def test_a_pledge_left_pending_is_finished_by_the_periodic_job(
    campaign: Campaign, early_bird: Tier, other_user: User, user: User, make_user: Callable[..., User]
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    class DownGateway(sandbox.SandboxGateway):
        def authorize(self, amount: Money, payment_method: str, reference: str) -> Authorization:
            raise GatewayUnavailable("down")

    with pytest.raises(GatewayDown):
        pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird, payment_method=sandbox.CARD_OK,
                              gateway=DownGateway())  # fmt: skip
    pending = Pledge.objects.get()
    assert (pending.status, held(early_bird)) == (PledgeStatus.PENDING, 1)
    # A pledge whose process died before the gateway was asked: no payment at all.
    orphan = pledges._record(backer=make_user("orphan"), campaign=campaign, tier=early_bird,
                             quote=pledges.pledge_quote(campaign=campaign, tier=early_bird), request_key="",
                             replaces=None)  # fmt: skip
    assert pledges.pledges_resume_stale() == {"authorized": 0, "declined": 0, "unavailable": 0}  # not stale yet
    later = timezone.now() + pledges.PLEDGE_STALE_AFTER + timedelta(minutes=1)
    assert pledges.pledges_resume_stale(now=later) == {"authorized": 1, "declined": 1, "unavailable": 0}
    pending.refresh_from_db()
    orphan.refresh_from_db()
    assert (pending.status, orphan.status) == (PledgeStatus.AUTHORIZED, PledgeStatus.DECLINED)
    assert held(early_bird) == 1  # the orphan's place is free again
    assert Payment.objects.get().status == PaymentStatus.AUTHORIZED  # authorized once
    assert pledges.pledges_resume_stale(now=later) == {"authorized": 0, "declined": 0, "unavailable": 0}


def test_a_backer_can_change_the_amount_in_a_full_limited_tier(
    campaign: Campaign, early_bird: Tier, make_user: Callable[..., User]
) -> None:
    backers = [make_user(f"early{n}") for n in range(3)]
    first = [pledges.pledge_create(backer=b, campaign=campaign, tier=early_bird, payment_method=sandbox.CARD_OK)
             for b in backers]  # fmt: skip
    assert held(early_bird) == 3  # full
    changed = pledges.pledge_change(backer=backers[0], pledge_id=first[0].pk, tier=early_bird, extra=700,
                                    payment_method=sandbox.CARD_OK)  # fmt: skip
    first[0].refresh_from_db()
    assert (changed.status, changed.amount, first[0].status) == (PledgeStatus.AUTHORIZED, 4_700, PledgeStatus.REPLACED)
    assert TierSlot.objects.get(pledge=changed).tier == early_bird  # the place moved to the new pledge
    assert held(early_bird) == 3
    with pytest.raises(PaymentDeclined):  # a declined change keeps the old pledge and its place
        pledges.pledge_change(backer=backers[1], pledge_id=first[1].pk, tier=early_bird, extra=100,
                              payment_method=sandbox.CARD_DECLINED)  # fmt: skip
    first[1].refresh_from_db()
    assert first[1].status == PledgeStatus.AUTHORIZED
    assert TierSlot.objects.filter(pledge=first[1]).exists()
    assert held(early_bird) == 3


def test_a_change_refused_after_the_deadline_does_nothing(
    campaign: Campaign, early_bird: Tier, other_user: User
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    pledge = pledges.pledge_create(
        backer=other_user, campaign=campaign, tier=early_bird, payment_method=sandbox.CARD_OK
    )
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - timedelta(seconds=1),
                                                   starts_at=timezone.now() - timedelta(days=2))  # fmt: skip
    before = state()
    with pytest.raises(Conflict) as refused:
        pledges.pledge_change(backer=other_user, pledge_id=pledge.pk, tier=early_bird, extra=100,
                              payment_method=sandbox.CARD_OK)  # fmt: skip
    assert refused.value.code == "campaign_closed"
    assert state() == before


def test_a_retry_resumes_a_pending_pledge_even_once_its_tier_closed(
    campaign: Campaign, early_bird: Tier, other_user: User
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    class DownGateway(sandbox.SandboxGateway):
        def authorize(self, amount: Money, payment_method: str, reference: str) -> Authorization:
            raise GatewayUnavailable("down")

    with pytest.raises(GatewayDown):
        pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird, request_key="k",
                              payment_method=sandbox.CARD_OK, gateway=DownGateway())  # fmt: skip
    Tier.objects.filter(pk=early_bird.pk).update(available_until=timezone.now() - timedelta(seconds=1),
                                                 available_from=timezone.now() - timedelta(days=1))  # fmt: skip
    early_bird.refresh_from_db()
    resumed = pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird, request_key="k",
                                    payment_method=sandbox.CARD_OK)  # fmt: skip
    assert resumed.status == PledgeStatus.AUTHORIZED
    assert (Pledge.objects.count(), Payment.objects.count(), held(early_bird)) == (1, 1, 1)


# --- races and half-done work a review found --------------------------------------------------------------------


class _Down(sandbox.SandboxGateway):
    """The sandbox behind a network that drops authorizations."""

    def authorize(self, amount: Money, payment_method: str, reference: str) -> Authorization:
        raise GatewayUnavailable("down")


def _stale_later() -> Any:
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + pledges.PLEDGE_STALE_AFTER + timedelta(minutes=1)


def test_a_change_resumed_after_its_pledge_was_settled_charges_once(
    campaign: Campaign, early_bird: Tier, other_user: User
) -> None:
    old = pledges.pledge_create(backer=other_user, campaign=campaign, tier=campaign.open_tier,  # type: ignore[attr-defined]
                                payment_method=sandbox.CARD_OK)  # fmt: skip
    with pytest.raises(GatewayDown):
        pledges.pledge_change(backer=other_user, pledge_id=old.pk, tier=early_bird, request_key="x",
                              payment_method=sandbox.CARD_OK, gateway=_Down())  # fmt: skip
    pledges.pledge_capture(pledge=old)  # settlement took the old pledge meanwhile
    pledges.pledges_resume_stale(now=_stale_later())  # the change's authorization comes through afterwards
    new = Pledge.objects.get(replaces=old)
    old.refresh_from_db()
    assert (old.status, new.status) == (PledgeStatus.CAPTURED, PledgeStatus.CANCELLED)
    assert new.payment is not None
    assert new.payment.status == PaymentStatus.VOIDED  # nobody is charged for both
    assert held(early_bird) == 0


def test_cancelling_while_a_change_is_being_authorized_is_refused(
    campaign: Campaign, early_bird: Tier, other_user: User
) -> None:
    old = pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird, payment_method=sandbox.CARD_OK)
    with pytest.raises(GatewayDown):
        pledges.pledge_change(backer=other_user, pledge_id=old.pk, tier=early_bird, extra=100, request_key="x",
                              payment_method=sandbox.CARD_OK, gateway=_Down())  # fmt: skip
    before = state()
    with pytest.raises(Conflict) as refused:
        pledges.pledge_cancel(backer=other_user, pledge_id=old.pk)
    assert refused.value.code == "change_in_progress"
    assert state() == before
    pledges.pledges_resume_stale(now=_stale_later())
    new = Pledge.objects.get(replaces=old)
    old.refresh_from_db()
    assert (old.status, new.status, held(early_bird)) == (PledgeStatus.REPLACED, PledgeStatus.AUTHORIZED, 1)
    assert TierSlot.objects.get(tier=early_bird, pledge__isnull=False).pledge == new  # one place, never two


def test_a_pending_pledge_cancelled_has_its_late_authorization_voided(
    campaign: Campaign, early_bird: Tier, other_user: User
) -> None:
    with pytest.raises(GatewayDown):
        pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird, payment_method=sandbox.CARD_OK,
                              gateway=_Down())  # fmt: skip
    pending = Pledge.objects.get()
    pledges.pledge_cancel(backer=other_user, pledge_id=pending.pk)
    pledges.pledges_resume_stale(now=_stale_later())  # the authorization goes through after all ...
    pending.refresh_from_db()
    payment = Payment.objects.get()
    assert (pending.status, payment.status) == (PledgeStatus.CANCELLED, PaymentStatus.VOIDED)  # ... and is voided
    assert held(early_bird) == 0


def test_a_pledge_can_be_changed_again_after_a_declined_change(
    campaign: Campaign, early_bird: Tier, other_user: User
) -> None:
    old = pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird, payment_method=sandbox.CARD_OK)
    with pytest.raises(PaymentDeclined):
        pledges.pledge_change(backer=other_user, pledge_id=old.pk, tier=early_bird, extra=100,
                              payment_method=sandbox.CARD_DECLINED)  # fmt: skip
    changed = pledges.pledge_change(backer=other_user, pledge_id=old.pk, tier=early_bird, extra=200,
                                    payment_method=sandbox.CARD_OK)  # fmt: skip
    assert (changed.status, changed.amount) == (PledgeStatus.AUTHORIZED, 4_200)


def test_two_requests_with_one_key_make_one_pledge(campaign: Campaign, early_bird: Tier, other_user: User) -> None:
    """A double click: the second request finds the first one's pledge instead of failing on the unique key."""
    quote = pledges.pledge_quote(campaign=campaign, tier=early_bird)
    first = pledges._record(backer=other_user, campaign=campaign, tier=early_bird, quote=quote, request_key="k",
                            replaces=None)  # fmt: skip
    pledge = pledges.pledge_create(backer=other_user, campaign=campaign, tier=early_bird, request_key="k",
                                   payment_method=sandbox.CARD_OK)  # fmt: skip
    assert pledge.pk == first.pk
    assert (Pledge.objects.count(), held(early_bird)) == (1, 1)


def test_a_teams_editors_may_not_back_its_campaign(
    make_campaign: Callable[..., Campaign], user: User, make_user: Callable[..., User]
) -> None:
    from crowdmaker.people import services as people

    team = people.team_create(actor=user, slug="lamp-makers", name="Lamp makers")
    maintainer, member = make_user("mia"), make_user("max")
    people.team_member_add(team=team, user=maintainer, role="maintainer")
    people.team_member_add(team=team, user=member, role="member")
    campaign = make_campaign("team-run", team=team)
    with pytest.raises(Forbidden):
        pledges.pledge_create(backer=maintainer, campaign=campaign, extra=1_000, payment_method=sandbox.CARD_OK)
    assert Pledge.objects.count() == 0
    assert pledges.pledge_create(backer=member, campaign=campaign, extra=1_000, payment_method=sandbox.CARD_OK).pk


def test_a_resumed_settlement_capture_keeps_the_authorization_for_its_retries(
    campaign: Campaign, other_user: User
) -> None:
    """The ledger's stale-step job must not void what settlement would retry (a reviewer's finding)."""
    from datetime import timedelta

    from crowdmaker.ledger import payments as ledger_payments
    from crowdmaker.ledger.models import PaymentOperation

    class CaptureDown(sandbox.SandboxGateway):
        def capture(self, authorization_id: str, amount: Money, reference: str) -> Any:
            raise GatewayUnavailable("down")

    pledge = pledges.pledge_create(backer=other_user, campaign=campaign, extra=5_000,
                                   payment_method=sandbox.CARD_CAPTURE_FAILS)  # fmt: skip
    assert pledge.payment is not None
    with pytest.raises(GatewayDown):
        ledger_payments.payment_capture(payment=pledge.payment, gateway=CaptureDown(), void_on_decline=False)
    PaymentOperation.objects.filter(payment=pledge.payment, status="pending").update(
        created_at=timezone.now() - ledger_payments.STALE_AFTER - timedelta(minutes=1)
    )
    assert ledger_payments.payments_resume_stale()["declined"] == 1
    pledge.payment.refresh_from_db()
    assert pledge.payment.status == PaymentStatus.AUTHORIZED  # kept for settlement's next attempt


def test_a_payment_voided_behind_its_pledge_does_not_count_towards_the_goal(
    make_campaign: Callable[..., Campaign], make_user: Callable[..., User]
) -> None:
    from datetime import timedelta

    from crowdmaker.funding import settlement
    from crowdmaker.ledger import payments as ledger_payments

    campaign = make_campaign("hollow-run", goal=100_000)
    big = pledges.pledge_create(
        backer=make_user("big"), campaign=campaign, extra=96_000, payment_method=sandbox.CARD_OK
    )
    pledges.pledge_create(backer=make_user("small"), campaign=campaign, extra=4_000, payment_method=sandbox.CARD_OK)
    assert big.payment is not None
    ledger_payments.payment_void(payment=big.payment)  # the pledge still says authorized
    settlement.campaign_settle(campaign_id=campaign.pk, now=campaign.deadline + timedelta(minutes=5))
    campaign.refresh_from_db()
    assert campaign.status == "failed"  # 4,000 held of 100,000: nobody is charged
    assert not Payment.objects.filter(status=PaymentStatus.CAPTURED).exists()
