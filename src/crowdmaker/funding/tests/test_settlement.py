"""Settlement at the deadline, on the real sandbox gateway: a succeeded campaign captures every pledge, keeps the fee
on the margin and distributes the rest by the shares; a failed one voids every authorization; declined captures are
retried, the backer told, then dropped; a second run writes nothing; and a run killed at any step boundary, then run
again, ends exactly where an uninterrupted run ends. The campaign's books reconcile (MONEY.md invariant 6) at every
step and `ledger verify` passes after every scenario."""

from __future__ import annotations

import gc
import io
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connections

from crowdmaker.core import scheduler
from crowdmaker.core.errors import Conflict, NotFound
from crowdmaker.funding import pledges, settlement
from crowdmaker.funding.models import Campaign, CampaignStatus, FundingModel, Pledge, PledgeStatus, Tier, TierSlot
from crowdmaker.ledger import verify
from crowdmaker.ledger.gateways import CaptureRequest, Declined, GatewayUnavailable, VoidRequest, sandbox
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
from crowdmaker.ledger.payments import GatewayDown
from crowdmaker.ledger.selectors import read_snapshot
from crowdmaker.people import services as people
from crowdmaker.people.models import Team, User

pytestmark = pytest.mark.django_db

OK, FAILS = sandbox.CARD_OK, sandbox.CARD_CAPTURE_FAILS
HOUR = timedelta(hours=1)


class Killed(Exception):
    """The worker dies here (raised from a step boundary; everything committed before it stays)."""


# --- helpers --------------------------------------------------------------------------------------------------


def after_deadline(campaign: Campaign, later: timedelta = timedelta(0)) -> datetime:
    return campaign.deadline + settlement.IN_FLIGHT_GRACE + later


def assert_books(campaign: Campaign) -> None:
    with read_snapshot():  # one snapshot for its three queries, while other workers commit
        books = settlement.campaign_books(campaign=campaign)
    assert books.reconciles, books


def assert_verified() -> None:
    report = io.StringIO()
    assert verify.run_verify(out=report, err=report), report.getvalue()


def database_state() -> tuple[Any, ...]:
    """Every row settlement may write, in full."""
    return (
        list(Campaign.objects.order_by("pk").values()),
        list(Pledge.objects.order_by("pk").values()),
        list(Payment.objects.order_by("pk").values()),
        list(PaymentOperation.objects.order_by("pk").values()),
        list(SandboxCharge.objects.order_by("pk").values()),
        list(SandboxOperation.objects.order_by("pk").values()),
        list(Transaction.objects.order_by("pk").values()),
        list(Leg.objects.order_by("pk").values()),
        list(Account.objects.order_by("pk").values()),
        list(TierSlot.objects.order_by("pk").values()),
        [(m.to, m.subject) for m in mail.outbox],
    )


def proceeds(owner_kind: str, owner_id: int) -> int:
    account = Account.objects.filter(owner_kind=owner_kind, owner_id=str(owner_id), purpose=settlement.PROCEEDS).first()
    return account.balance if account else 0


def received(campaign: Campaign) -> int:
    account = Account.objects.filter(owner_kind="campaign", owner_id=str(campaign.pk), purpose="received").first()
    return account.balance if account else 0


@pytest.fixture
def team(user: User) -> Team:
    return people.team_create(actor=user, slug="lamp-makers", name="Lamp makers")


@pytest.fixture
def backers(make_user: Callable[..., User]) -> list[User]:
    return [make_user(f"backer{n}") for n in range(6)]


@pytest.fixture
def settle(django_capture_on_commit_callbacks: Any) -> Callable[..., settlement.SettlementReport]:
    """campaign_settle, running what it leaves for after commit (the e-mail tasks) as a real commit would."""

    def run(campaign: Campaign, now: datetime, **kwargs: Any) -> settlement.SettlementReport:
        with django_capture_on_commit_callbacks(execute=True):
            report = settlement.campaign_settle(campaign_id=campaign.pk, now=now, **kwargs)
        campaign.refresh_from_db()
        return report

    return run


def pledge(backer: User, campaign: Campaign, tier: Tier | None, card: str = OK, extra: int = 0) -> Pledge:
    return pledges.pledge_create(backer=backer, campaign=campaign, tier=tier, extra=extra, payment_method=card)


# --- success --------------------------------------------------------------------------------------------------


def test_a_campaign_that_reaches_its_goal_captures_every_pledge_and_distributes_by_the_shares(
    make_campaign: Callable[..., Campaign], user: User, team: Team, backers: list[User], settle: Any
) -> None:
    campaign = make_campaign(goal=10_000, shares=[("person", str(user.pk), 60), ("team", str(team.pk), 40)])
    early, lamp = campaign.tier, campaign.open_tier  # type: ignore[attr-defined]
    made = [
        pledge(backers[0], campaign, early, extra=500),  # 4,500 on a 1,500 cost: fee 300
        pledge(backers[1], campaign, lamp),  # 5,000 on 1,500: fee 350
        pledge(backers[2], campaign, None, extra=2_001),  # no reward, all margin: fee 200.1 -> 200
        pledge(backers[3], campaign, early),  # 4,000 on 1,500: fee 250
    ]
    assert Transaction.objects.count() == 0

    with pytest.raises(Conflict) as early_call:
        settlement.campaign_settle(campaign_id=campaign.pk, now=campaign.deadline + timedelta(seconds=30))
    assert early_call.value.code == "campaign_not_due"  # in-flight pledges get their grace
    campaign.refresh_from_db()
    assert (campaign.status, campaign.decided_at) == (CampaignStatus.LIVE, None)

    now = after_deadline(campaign)
    report = settle(campaign, now)

    assert (report.status, report.captured, report.declined, report.settled) == ("succeeded", 4, 0, True)
    assert (campaign.status, campaign.decided_at, campaign.settled_at) == (CampaignStatus.SUCCEEDED, now, now)
    assert [p.status for p in Pledge.objects.order_by("pk")] == [PledgeStatus.CAPTURED] * 4
    assert [(p.status, p.captured_amount, p.fee_amount) for p in Payment.objects.order_by("pk")] == [
        ("captured", 4_500, 300), ("captured", 5_000, 350), ("captured", 2_001, 200), ("captured", 4_000, 250),
    ]  # fmt: skip
    assert SandboxOperation.objects.filter(kind="capture").count() == 4
    # 15,501 pledged, 1,100 fee: 14,401 to the makers, 60/40 by largest remainder (8,640.6 and 5,760.4).
    assert report.distributed == 14_401
    assert (proceeds("person", user.pk), proceeds("team", team.pk)) == (8_641, 5_760)
    revenue = Account.objects.get(owner_kind="platform", purpose="platform-revenue")
    assert (received(campaign), revenue.balance) == (0, 1_100)
    distribution = Transaction.objects.get(kind="distribution")
    assert (distribution.subject_kind, distribution.subject_id, distribution.idempotency_key) == (
        "campaign", str(campaign.pk), f"campaign:{campaign.pk}:distribution:1",
    )  # fmt: skip
    assert distribution.legs.count() == 3
    books = settlement.campaign_books(campaign=campaign)
    assert (books.captured, books.refunded, books.fees, books.received, books.distributed, books.balance) == (
        15_501, 0, 1_100, 14_401, 14_401, 0,
    )  # fmt: skip
    assert books.reconciles
    assert TierSlot.objects.filter(pledge__in=[made[0], made[3]]).count() == 2  # rewards kept
    assert mail.outbox == []
    assert_verified()


def test_a_second_run_writes_nothing(make_campaign: Callable[..., Campaign], backers: list[User], settle: Any) -> None:
    campaign = make_campaign(goal=5_000)
    pledge(backers[0], campaign, campaign.open_tier)  # type: ignore[attr-defined]
    pledge(backers[1], campaign, campaign.tier)  # type: ignore[attr-defined]
    settle(campaign, after_deadline(campaign))
    before = database_state()

    again = settle(campaign, after_deadline(campaign, HOUR))
    outcomes = settlement.settle_due_campaigns(now=after_deadline(campaign, 2 * HOUR))

    assert (again.captured, again.voided, again.distributed, again.settled) == (0, 0, 0, True)
    assert outcomes == {"settled": 0, "waiting": 0, "busy": 0, "failed": 0}  # not due any more
    assert database_state() == before
    assert_verified()


def test_settlement_leaves_the_garbage_collector_as_it_found_it(
    make_campaign: Callable[..., Campaign], backers: list[User], settle: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a campaign whose settlement is killed in the middle of its batches, then run again
    campaign = make_campaign(goal=5_000)
    pledge(backers[0], campaign, campaign.open_tier)  # type: ignore[attr-defined]
    frozen_during: list[int] = []

    def reached(step: str, subject_id: int = 0) -> None:
        if step == "recorded":
            frozen_during.append(gc.get_freeze_count())
            raise Killed(step)

    monkeypatch.setattr(settlement, "checkpoint", reached)
    with pytest.raises(Killed):
        settle(campaign, after_deadline(campaign))
    monkeypatch.undo()

    # Then the heap was frozen while the batches ran and is not any more, whether the walk ended or was killed
    assert frozen_during[0] > 0
    assert gc.get_freeze_count() == 0
    assert settle(campaign, after_deadline(campaign)).settled
    assert (gc.get_freeze_count(), gc.isenabled()) == (0, True)


# --- failure --------------------------------------------------------------------------------------------------


def test_a_campaign_that_misses_its_goal_voids_every_authorization_and_charges_nobody(
    make_campaign: Callable[..., Campaign], backers: list[User], settle: Any
) -> None:
    campaign = make_campaign()  # goal 1,000.00
    made = [pledge(backers[0], campaign, campaign.tier), pledge(backers[1], campaign, None, card=FAILS, extra=900)]  # type: ignore[attr-defined]

    report = settle(campaign, after_deadline(campaign))

    assert (report.status, report.voided, report.captured, report.settled) == ("failed", 2, 0, True)
    assert campaign.status == CampaignStatus.FAILED
    assert campaign.settled_at is not None
    assert [p.status for p in Pledge.objects.order_by("pk")] == [PledgeStatus.VOIDED] * 2
    assert set(Payment.objects.values_list("status", flat=True)) == {"voided"}
    assert set(SandboxCharge.objects.values_list("status", flat=True)) == {"voided"}
    assert not SandboxOperation.objects.filter(kind="capture").exists()
    assert Transaction.objects.count() == 0  # nothing posted, nobody charged
    assert TierSlot.objects.filter(pledge=made[0]).count() == 0
    assert_books(campaign)
    assert_verified()


# --- declined captures ----------------------------------------------------------------------------------------


def test_a_declined_capture_is_retried_the_backer_told_then_dropped_and_the_rest_settles(
    make_campaign: Callable[..., Campaign], user: User, backers: list[User], settle: Any
) -> None:
    campaign = make_campaign(goal=5_000)
    early, lamp = campaign.tier, campaign.open_tier  # type: ignore[attr-defined]
    pledge(backers[0], campaign, early)
    failing = pledge(backers[1], campaign, early, card=FAILS)
    pledge(backers[2], campaign, lamp)
    t0 = after_deadline(campaign)
    grace = t0 + settlement.CAPTURE_GRACE

    first = settle(campaign, t0)

    assert (first.captured, first.declined, first.settled, first.open_pledges) == (2, 1, False, 1)
    failing.refresh_from_db()
    assert (failing.status, failing.capture_attempts, failing.next_capture_at, failing.capture_grace_until) == (
        PledgeStatus.AUTHORIZED, 1, t0 + HOUR, grace,
    )  # fmt: skip
    assert failing.payment is not None
    assert failing.payment.status == "authorized"  # the hold stays for the retries
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["backer1@example.org"], "Your pledge to First run of the desk lamp could not be charged")
    ]
    assert "We will try again on" in mail.outbox[0].body
    assert Transaction.objects.filter(kind="distribution").count() == 0  # not before every pledge is settled
    assert_books(campaign)

    before = database_state()
    quiet = settle(campaign, t0 + 30 * timedelta(minutes=1))  # the retry is not due: nothing is asked or written
    assert (quiet.captured, quiet.declined, quiet.settled) == (0, 0, False)
    assert database_state() == before

    schedule = [(t0 + HOUR, t0 + 7 * HOUR), (t0 + 7 * HOUR, t0 + 31 * HOUR), (t0 + 31 * HOUR, grace)]
    for attempt, (when, then) in enumerate(schedule, start=2):
        report = settle(campaign, when)
        failing.refresh_from_db()
        assert (report.declined, failing.capture_attempts, failing.next_capture_at) == (1, attempt, then)
    assert len(mail.outbox) == 4

    last = settle(campaign, grace)

    assert (last.dropped, last.settled) == (1, True)
    failing.refresh_from_db()
    assert failing.payment is not None
    assert (failing.status, failing.capture_attempts, failing.payment.status) == (PledgeStatus.DROPPED, 5, "voided")
    assert SandboxCharge.objects.get(reference=f"pledge-{failing.pk}").status == "voided"
    assert TierSlot.objects.filter(tier=early, pledge__isnull=False).count() == 1  # its place is free again
    assert mail.outbox[-1].subject == "Your pledge to First run of the desk lamp was dropped"
    assert "You have not been charged" in mail.outbox[-1].body
    # 4,000 (fee 250) and 5,000 (fee 350) captured: 8,400 to the owner.
    assert (last.distributed, proceeds("person", user.pk), received(campaign)) == (8_400, 8_400, 0)
    assert_books(campaign)
    assert_verified()


# --- pending, flexible and late pledges -----------------------------------------------------------------------


class DownGateway(sandbox.SandboxGateway):
    def authorize(self, amount: Money, payment_method: str, reference: str) -> Any:
        raise GatewayUnavailable("down")


@pytest.mark.parametrize(("goal", "outcome"), [(4_000, PledgeStatus.CAPTURED), (100_000, PledgeStatus.VOIDED)])
def test_a_pledge_pending_at_the_deadline_follows_the_outcome_once_authorized(
    make_campaign: Callable[..., Campaign], backers: list[User], settle: Any, goal: int, outcome: str
) -> None:
    campaign = make_campaign(goal=goal)
    pledge(backers[0], campaign, campaign.open_tier)  # type: ignore[attr-defined]
    with pytest.raises(GatewayDown):
        pledges.pledge_create(backer=backers[1], campaign=campaign, tier=campaign.tier,  # type: ignore[attr-defined]
                              payment_method=OK, gateway=DownGateway())  # fmt: skip
    pending = Pledge.objects.get(status=PledgeStatus.PENDING)
    t0 = after_deadline(campaign)

    first = settle(campaign, t0)
    assert (first.settled, first.open_pledges) == (False, 1)  # it waits for the pending one

    later = t0 + pledges.PLEDGE_STALE_AFTER
    assert pledges.pledges_resume_stale(now=later)["authorized"] == 1
    second = settle(campaign, later)

    pending.refresh_from_db()
    assert pending.status == outcome
    assert second.settled
    assert_books(campaign)
    assert_verified()


def test_a_flexible_campaign_keeps_what_it_raised(
    make_campaign: Callable[..., Campaign], user: User, backers: list[User], settle: Any
) -> None:
    campaign = make_campaign(funding_model=FundingModel.FLEXIBLE)  # goal 1,000.00, far from reached
    pledge(backers[0], campaign, campaign.open_tier)  # type: ignore[attr-defined]
    assert received(campaign) == 4_650  # captured at pledge time, less the 350 fee

    report = settle(campaign, after_deadline(campaign))

    assert (report.status, report.captured, report.distributed, report.settled) == ("succeeded", 0, 4_650, True)
    assert (proceeds("person", user.pk), received(campaign)) == (4_650, 0)
    assert_books(campaign)
    assert_verified()


def test_late_pledges_after_settlement_are_distributed_by_the_next_run(
    make_campaign: Callable[..., Campaign], user: User, backers: list[User], settle: Any
) -> None:
    campaign = make_campaign(goal=4_000, late_pledges=True)
    pledge(backers[0], campaign, campaign.tier)  # type: ignore[attr-defined]
    settle(campaign, after_deadline(campaign))
    assert proceeds("person", user.pk) == 3_750

    late = pledge(backers[1], campaign, campaign.open_tier)  # type: ignore[attr-defined]
    assert (late.late, late.status) == (True, PledgeStatus.CAPTURED)
    now = after_deadline(campaign, HOUR)
    assert settlement.due_campaigns(now=now) == [campaign.pk]

    assert settlement.settle_due_campaigns(now=now) == {"settled": 1, "waiting": 0, "busy": 0, "failed": 0}

    assert (proceeds("person", user.pk), received(campaign)) == (3_750 + 4_650, 0)
    assert sorted(Transaction.objects.filter(kind="distribution").values_list("idempotency_key", flat=True)) == [
        f"campaign:{campaign.pk}:distribution:1", f"campaign:{campaign.pk}:distribution:2",
    ]  # fmt: skip
    assert settlement.due_campaigns(now=now) == []
    assert_books(campaign)
    assert_verified()


# --- the periodic job and refusals ----------------------------------------------------------------------------


def test_the_periodic_job_settles_only_due_campaigns(
    make_campaign: Callable[..., Campaign], backers: list[User]
) -> None:
    due = make_campaign("due-run", goal=4_000)
    pledge(backers[0], due, due.tier)  # type: ignore[attr-defined]
    later = make_campaign("later-run", deadline=due.deadline + timedelta(days=1))
    draft = make_campaign("draft-run", publish=False)
    assert scheduler.registered()["funding.settle_due_campaigns"].every == timedelta(minutes=1)

    assert settlement.settle_due_campaigns(now=after_deadline(due)) == {
        "settled": 1, "waiting": 0, "busy": 0, "failed": 0,
    }  # fmt: skip

    statuses = dict(Campaign.objects.values_list("pk", "status"))
    assert statuses == {due.pk: "succeeded", later.pk: "live", draft.pk: "draft"}


def test_refusals_change_nothing(make_campaign: Callable[..., Campaign], backers: list[User]) -> None:
    campaign = make_campaign(goal=4_000)
    draft = make_campaign("draft-run", publish=False)
    pledge(backers[0], campaign, campaign.tier)  # type: ignore[attr-defined]
    before = database_state()

    with pytest.raises(NotFound):
        settlement.campaign_settle(campaign_id=999_999, now=after_deadline(campaign))
    with pytest.raises(Conflict) as not_settleable:
        settlement.campaign_settle(campaign_id=draft.pk, now=after_deadline(draft))
    with pytest.raises(Conflict) as not_due:
        settlement.campaign_settle(campaign_id=campaign.pk, now=campaign.deadline - HOUR)
    other = connections.create_connection("default")  # another worker settling it right now
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [settlement._lock_id(campaign.pk)])
        with pytest.raises(Conflict) as busy:
            settlement.campaign_settle(campaign_id=campaign.pk, now=after_deadline(campaign))
        assert settlement.settle_due_campaigns(now=after_deadline(campaign))["busy"] == 1
    finally:
        other.close()

    assert (not_settleable.value.code, not_due.value.code, busy.value.code) == (
        "campaign_not_settleable", "campaign_not_due", "settlement_busy",
    )  # fmt: skip
    assert database_state() == before
    assert settlement.campaign_settle(campaign_id=campaign.pk, now=after_deadline(campaign)).settled


# --- interrupted at every step --------------------------------------------------------------------------------


class Steps:
    """Counts the step boundaries a run passes and kills it at the chosen one; checks the books at every one."""

    def __init__(self, kill_at: int | None = None) -> None:
        self.kill_at = kill_at
        self.seen: list[str] = []
        self.campaign: Campaign | None = None

    def reached(self, step: str, subject_id: int = 0) -> None:
        if self.campaign is not None:
            assert_books(self.campaign)
        self.seen.append(step)
        if len(self.seen) == self.kill_at:
            raise Killed(step)


class StoppableSandbox(sandbox.SandboxGateway):
    """The sandbox, with the worker dying right after the gateway answered (before the ledger heard of it), and, for
    a batch, also just before it is asked (after the ledger recorded the batch's pending operations)."""

    steps: Steps

    def capture_many(self, requests: Sequence[CaptureRequest]) -> Any:
        self.steps.reached("captures-pending")
        answers = super().capture_many(requests)
        self.steps.reached("gateway-answered")
        return answers

    def void_many(self, requests: Sequence[VoidRequest]) -> Any:
        self.steps.reached("voids-pending")
        answers = super().void_many(requests)
        self.steps.reached("gateway-voided-batch")
        return answers

    def capture(self, authorization_id: str, amount: Money, *, reference: str) -> Any:
        try:
            answer = super().capture(authorization_id, amount, reference=reference)
        except Declined:
            self.steps.reached("gateway-declined")
            raise
        self.steps.reached("gateway-captured")
        return answer

    def void(self, authorization_id: str, *, reference: str) -> Any:
        answer = super().void(authorization_id, reference=reference)
        self.steps.reached("gateway-voided")
        return answer


def run_scenario(
    make_campaign: Callable[..., Campaign], user: User, backers: list[User], team: Team,
    monkeypatch: pytest.MonkeyPatch, settle: Any, *, slug: str, goal: int, kill_at: int | None,
    one_by_one: bool = False, workers: int = settlement.WORKERS,
) -> tuple[list[str], tuple[Any, ...]]:  # fmt: skip
    """A campaign with four pledges (one on a card whose captures fail) settled on the retry schedule in batches
    of two (or one by one); killed at step `kill_at` and run again at the same moment. Returns the steps passed
    and the end state, in terms that do not depend on ids or on when the campaign was made."""
    campaign = make_campaign(slug, goal=goal, shares=[("person", str(user.pk), 60), ("team", str(team.pk), 40)])
    early, lamp = campaign.tier, campaign.open_tier  # type: ignore[attr-defined]
    made = [
        pledge(backers[0], campaign, early, extra=500),
        pledge(backers[1], campaign, early, card=FAILS),
        pledge(backers[2], campaign, lamp),
        pledge(backers[3], campaign, None, extra=2_001),
    ]
    steps = Steps(kill_at)
    steps.campaign = campaign
    monkeypatch.setattr(settlement, "checkpoint", steps.reached)
    gateway = StoppableSandbox()
    gateway.steps = steps
    mail.outbox.clear()
    t0 = after_deadline(campaign)
    for when in (t0, t0 + HOUR, t0 + 7 * HOUR, t0 + 31 * HOUR, t0 + settlement.CAPTURE_GRACE):
        options = {"gateway": gateway, "batch_size": 2, "one_by_one": one_by_one, "workers": workers}
        try:
            settle(campaign, when, **options)
        except Killed:
            settle(campaign, when, **options)  # the worker is restarted
    monkeypatch.undo()
    assert_books(campaign)
    return steps.seen, end_state(campaign, made, user, team)


def end_state(campaign: Campaign, made: list[Pledge], user: User, team: Team) -> tuple[Any, ...]:
    deadline = campaign.deadline
    campaign.refresh_from_db()

    def since(moment: datetime | None) -> timedelta | None:
        return moment - deadline if moment else None

    rows = []
    for p in made:
        p.refresh_from_db()
        payment = Payment.objects.get(pledge=p)
        ref = payment.reference
        rows.append((
            p.status, p.capture_attempts, since(p.next_capture_at), since(p.capture_grace_until),
            TierSlot.objects.filter(pledge=p).exists(),
            (payment.status, payment.captured_amount, payment.fee_amount),
            [(o.kind, o.reference.replace(ref, "ref"), o.status, o.amount) for o in payment.operations.order_by("pk")],
            SandboxCharge.objects.filter(reference=ref).values_list("status", "captured_amount").get(),
            sorted(
                (t.kind, sorted((leg.account.owner_kind, leg.account.purpose, leg.amount)
                                for leg in t.legs.select_related("account")))
                for t in Transaction.objects.filter(subject_kind="payment", subject_id=str(payment.pk))
            ),
        ))  # fmt: skip
    distributions = [
        (
            t.idempotency_key.replace(f"campaign:{campaign.pk}:", "campaign:c:"),
            sorted(t.legs.values_list("amount", flat=True)),
        )
        for t in Transaction.objects.filter(subject_kind="campaign", subject_id=str(campaign.pk))
    ]
    return (
        campaign.status, since(campaign.decided_at), since(campaign.settled_at), rows, distributions,
        received(campaign), [(m.to, m.subject) for m in mail.outbox],
    )  # fmt: skip


# The steps of the scenario: the run at the deadline (two batches), the retries of the failing pledge at + 1 h, 7 h
# and 31 h, and the last attempt at the end of the grace period, when it is dropped.
STEPS = {
    ("succeeded", "batches"): [
        "decided", "captures-pending", "gateway-answered", "batch-captured", "declined", "recorded",
        "captures-pending", "gateway-answered", "batch-captured", "recorded",  # t0: 3 of 4 captured
        *["captures-pending", "gateway-answered", "batch-captured", "declined", "recorded"] * 3,  # + 1 h, 7 h, 31 h
        "captures-pending", "gateway-answered", "batch-captured", "declined", "gateway-voided", "voided", "dropped",
        "recorded", "settled",  # 3 days
    ],
    ("succeeded", "one by one"): [
        "decided", "gateway-captured", "captured", "gateway-declined", "capture-declined", "declined", "recorded",
        "gateway-captured", "captured", "gateway-captured", "captured", "recorded",  # t0: 3 of 4 captured
        "gateway-declined", "capture-declined", "declined", "recorded",  # + 1 h
        "gateway-declined", "capture-declined", "declined", "recorded",  # + 7 h
        "gateway-declined", "capture-declined", "declined", "recorded",  # + 31 h
        "gateway-declined", "capture-declined", "declined", "gateway-voided", "voided", "dropped", "recorded", "settled",  # 3 days
    ],
    ("failed", "batches"): [
        "decided", "voids-pending", "gateway-voided-batch", "batch-voided", "recorded",
        "voids-pending", "gateway-voided-batch", "batch-voided", "recorded", "settled",
    ],
    ("failed", "one by one"): [
        "decided", "gateway-voided", "voided", "gateway-voided", "voided", "recorded",
        "gateway-voided", "voided", "gateway-voided", "voided", "recorded", "settled",
    ],
}  # fmt: skip


@pytest.mark.parametrize("path", ["batches", "one by one"])
@pytest.mark.parametrize(("goal", "expected"), [(10_000, "succeeded"), (100_000, "failed")])
def test_a_run_killed_at_any_step_and_run_again_ends_exactly_as_an_uninterrupted_run(
    make_campaign: Callable[..., Campaign], user: User, backers: list[User], team: Team,
    monkeypatch: pytest.MonkeyPatch, settle: Any, goal: int, expected: str, path: str,
) -> None:  # fmt: skip
    one_by_one = path == "one by one"
    steps, reference = run_scenario(make_campaign, user, backers, team, monkeypatch, settle, slug="whole", goal=goal,
                                    kill_at=None, one_by_one=one_by_one)  # fmt: skip
    assert reference[0] == expected
    assert steps == STEPS[expected, path]

    for kill_at in range(1, len(steps) + 1):
        seen, state = run_scenario(make_campaign, user, backers, team, monkeypatch, settle,
                                   slug=f"killed-at-{kill_at}", goal=goal, kill_at=kill_at,
                                   one_by_one=one_by_one)  # fmt: skip
        assert seen[kill_at - 1] == steps[kill_at - 1]
        assert state == reference, f"killed after step {kill_at} ({steps[kill_at - 1]})"
    assert_verified()


@pytest.mark.parametrize("goal", [10_000, 100_000])
def test_settling_in_batches_ends_exactly_as_settling_one_by_one(
    make_campaign: Callable[..., Campaign], user: User, backers: list[User], team: Team,
    monkeypatch: pytest.MonkeyPatch, settle: Any, goal: int,
) -> None:  # fmt: skip
    _, batches = run_scenario(make_campaign, user, backers, team, monkeypatch, settle, slug="batches", goal=goal,
                              kill_at=None)  # fmt: skip
    _, one_by_one = run_scenario(make_campaign, user, backers, team, monkeypatch, settle, slug="one-by-one",
                                 goal=goal, kill_at=None, one_by_one=True)  # fmt: skip

    assert batches == one_by_one
    assert_verified()


# --- batches settled by concurrent workers ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("goal", [10_000, 100_000])
def test_batches_settled_by_concurrent_workers_end_as_one_after_another_even_when_one_dies(
    make_campaign: Callable[..., Campaign], user: User, backers: list[User], team: Team,
    monkeypatch: pytest.MonkeyPatch, settle: Any, goal: int,
) -> None:  # fmt: skip
    """Outside a database transaction the batches go to worker threads with connections of their own (here two
    batches of two at once); whichever step a worker dies at, the rerun ends where one batch after another ends."""
    _, reference = run_scenario(make_campaign, user, backers, team, monkeypatch, settle, slug="one-worker",
                                goal=goal, kill_at=None, workers=1)  # fmt: skip
    steps, concurrent = run_scenario(make_campaign, user, backers, team, monkeypatch, settle, slug="two-workers",
                                     goal=goal, kill_at=None, workers=2)  # fmt: skip
    assert concurrent == reference
    assert sorted(steps) == sorted(STEPS["succeeded" if goal == 10_000 else "failed", "batches"])

    for kill_at in range(2, len(steps) + 1, 3):
        _, state = run_scenario(make_campaign, user, backers, team, monkeypatch, settle, slug=f"killed-{kill_at}",
                                goal=goal, kill_at=kill_at, workers=2)  # fmt: skip
        assert state == reference, f"killed at step {kill_at}"
    assert_verified()
