"""Settlement of a campaign at its deadline: decide the outcome, capture or void every pledge, distribute the proceeds.

Owns what happens to pledges and money once a campaign's deadline has passed (the periodic job
`funding.settle_due_campaigns` runs it every minute); never calls the payment gateway inside a database
transaction or while holding a row lock, and never writes the ledger except through `ledger.payments`
(captures, fees, voids) and the one keyed distribution posting of `_distribute`.

Idempotent and resumable by construction: every step is keyed by what it acts on and finds itself done on a rerun.
The decision is recorded once (the campaign row, locked). A pledge's capture or void goes through its Payment
(reference `pledge-<id>`; the ledger resumes a pending step under the same reference and keys every posting), a
declined capture counts the payment's failed capture operations rather than adding one, and the distribution
moves the received balance, read under the account's lock, in the same transaction that marks the campaign
settled. Killed at any point and run again, the job finishes without capturing, voiding or posting twice.

A batch of pledges is captured (voided) with one gateway call and three short transactions for the whole batch
(`payments.payments_capture_many`, `payments_void_many`): a 200,000-pledge campaign in well under a minute instead
of about an hour (benchmarks/settlement.py). Pledges a crash left half done, and those given up, go one by one.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from functools import partial

from django.db import DatabaseError, connection, transaction
from django.db.models import CharField, Count, Exists, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from crowdmaker.core.errors import Conflict, NotFound
from crowdmaker.core.services import advisory_lock_id
from crowdmaker.funding.models import Campaign, CampaignStatus, FundingModel, Pledge, PledgeStatus, TierSlot
from crowdmaker.ledger import payments
from crowdmaker.ledger.columns import columns_execute
from crowdmaker.ledger.gateways import PaymentGateway
from crowdmaker.ledger.models import (
    CAPTURED_STATUSES,
    Account,
    OperationStatus,
    Payment,
    PaymentOperation,
    PaymentOperationKind,
    PaymentStatus,
    Transaction,
)
from crowdmaker.ledger.money import Money, allocate
from crowdmaker.ledger.services import account_open, transaction_post

logger = logging.getLogger(__name__)

# Pledge requests that began before the deadline (an authorization waiting for the gateway, a cancellation) are
# given this long to finish before the outcome is decided, so the decision counts what backers did in time. A
# request retries a silent gateway a few times within seconds (payments.GATEWAY_ATTEMPTS), well under a minute.
IN_FLIGHT_GRACE = timedelta(seconds=60)
# A declined capture is tried again this long after the first, second and third declines; later ones wait for the
# end of the grace period, when one last attempt is made.
CAPTURE_RETRY_DELAYS = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=24))
# From a pledge's first declined capture, the backer has this long to make their card work (they are told by
# e-mail at each decline); a capture still declined then is given up: the authorization voided, the pledge dropped
# and its reward's place freed.
CAPTURE_GRACE = timedelta(days=3)
# Pledges read and recorded per batch: one keyset-paginated query, one gateway call, a few short transactions (each
# locking the batch's payments) and one UPDATE each. Larger batches cost little less per pledge (measured by
# benchmarks/settlement.py) and hold their locks longer.
BATCH_SIZE = 1000
# Batches settled at the same time, each by a thread with a database connection of its own, so that one batch's
# gateway call and Python work overlap another's database work (and a real gateway's latency, another batch).
# The batches share only the campaign's and the platform's hot ledger accounts, locked in id order for the few
# statements that post. 1: one batch after another in the calling thread, as inside a database transaction.
WORKERS = 2
# The beneficiaries' accounts that a campaign's proceeds are distributed to.
PROCEEDS = "campaign-proceeds"
DISTRIBUTION = "distribution"


class Outcome(Enum):
    CAPTURED = "captured"
    VOIDED = "voided"
    DECLINED = "declined"  # declined now, tried again later
    DROPPED = "dropped"
    WAITING = "waiting"  # nothing could be done now (gateway down, payment busy); the next run tries again


@dataclass(frozen=True, slots=True)
class Due:
    """A due pledge as a batch reads it: what deciding its step takes, not a model instance (a batch reads 1,000;
    the pledges whose step is not the batch's are loaded whole, `_pledges`)."""

    pk: int
    payment_id: int
    payment_status: str
    capture_attempts: int
    next_capture_at: datetime | None
    failed_captures: int  # the payment's declined capture operations


# One pledge's gateway step (`_capture_one`, `_void_one`), and a batch's (`_capture_batch`, `_void_batch`).
SettleOne = Callable[[Pledge, datetime, PaymentGateway | None], Outcome]
SettleBatch = Callable[[Sequence[Due], datetime, PaymentGateway | None], dict[int, Outcome]]


@dataclass
class SettlementReport:
    """What one run did for one campaign. `settled` is True once nothing is left to capture, void or retry."""

    campaign_id: int
    status: str
    captured: int = 0
    voided: int = 0
    declined: int = 0
    dropped: int = 0
    waiting: int = 0  # pledges nothing could be done for now (gateway down, busy), tried again next run
    open_pledges: int = 0  # pending or authorized pledges left when the run ended (retries not due yet, ...)
    distributed: int = 0  # minor units moved to the beneficiaries by this run
    settled: bool = False


def checkpoint(step: str, subject_id: int) -> None:
    """A step of settlement has been committed. Does nothing; tests replace it to stop the job at every step."""


# --- the whole job --------------------------------------------------------------------------------------------


def due_campaigns(*, now: datetime | None = None) -> list[int]:
    """Ids of the campaigns settlement has work for, oldest deadline first: live ones past their deadline and its
    grace, decided ones not settled yet (retries, pending pledges), and settled ones late pledges paid into since."""
    now = now or timezone.now()
    late_money = Account.objects.filter(
        owner_kind="campaign", owner_id=Cast(OuterRef("pk"), CharField()), purpose=payments.RECEIVED, balance__gt=0
    )
    return list(
        Campaign.objects.annotate(late_money=Exists(late_money))
        .filter(
            Q(status=CampaignStatus.LIVE, deadline__lte=now - IN_FLIGHT_GRACE)
            | Q(status__in=[CampaignStatus.SUCCEEDED, CampaignStatus.FAILED], settled_at__isnull=True)
            | Q(status=CampaignStatus.SUCCEEDED, late_pledges=True, late_money=True)
        )
        .order_by("deadline", "pk")
        .values_list("pk", flat=True)
    )


def settle_due_campaigns(*, now: datetime | None = None, gateway: PaymentGateway | None = None) -> dict[str, int]:
    """Settle (or go on settling) every due campaign, oldest deadline first; one campaign's trouble (logged) does
    not hold up the others. Returns how many campaigns were settled, are still waiting, were busy in another
    worker, or failed."""
    now = now or timezone.now()
    outcomes = {"settled": 0, "waiting": 0, "busy": 0, "failed": 0}
    for campaign_id in due_campaigns(now=now):
        try:
            report = campaign_settle(campaign_id=campaign_id, now=now, gateway=gateway)
        except Conflict as exc:
            if exc.code == "settlement_busy":
                outcomes["busy"] += 1
                continue
            logger.exception("settlement of campaign %s refused", campaign_id)
            outcomes["failed"] += 1
            continue
        except Exception:  # logged; the next run tries again, and the other campaigns go on
            logger.exception("settlement of campaign %s failed; the next run resumes it", campaign_id)
            outcomes["failed"] += 1
            continue
        outcomes["settled" if report.settled else "waiting"] += 1
    return outcomes


def campaign_settle(
    *,
    campaign_id: int,
    now: datetime | None = None,
    gateway: PaymentGateway | None = None,
    batch_size: int = BATCH_SIZE,
    workers: int = WORKERS,
    one_by_one: bool = False,
) -> SettlementReport:
    """Decide the campaign's outcome at its deadline if not done yet, then capture (succeeded) or void (failed)
    its authorized pledges that are due, and once none is left to capture, retry or wait for, distribute the
    proceeds and mark it settled. Safe to run again at any time, and after a crash at any point.

    Each batch of pledges is captured (voided) at once, `workers` batches at a time (one by one when called inside a
    database transaction: other connections could not see what it has not committed); `one_by_one` makes one
    gateway call and posting per pledge, one pledge after another, the way settlement went before the batches (kept
    to compare them: benchmarks/settlement.py). All end in the same rows.

    Raises NotFound for an unknown campaign, Conflict (`campaign_not_due`) before the deadline and its grace,
    (`campaign_not_settleable`) for a draft or cancelled campaign, (`settlement_busy`) while another worker
    settles it; nothing is changed then.
    """
    now = now or timezone.now()
    with _exclusive(campaign_id):
        campaign = _decide(campaign_id, now)
        report = SettlementReport(campaign_id=campaign.pk, status=campaign.status)
        if campaign.status == CampaignStatus.SUCCEEDED:
            settle: SettleBatch = _one_by_one(_capture_one) if one_by_one else _capture_batch
        else:
            settle = _one_by_one(_void_one) if one_by_one else _void_batch
        _walk(campaign, now, report, gateway, batch_size, settle, 1 if one_by_one else workers)
        _finish(campaign.pk, now, report)
    return report


def _lock_id(campaign_id: int) -> int:
    return advisory_lock_id("funding.settlement", str(campaign_id))


@contextmanager
def _exclusive(campaign_id: int) -> Iterator[None]:
    """One settlement of a campaign at a time (a run may outlast the scheduler's period). A session-level advisory
    lock, not a row lock: no request waits for it, and it goes with the connection if the worker dies."""
    key = _lock_id(campaign_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        row = cursor.fetchone()
    if not (row and row[0]):
        raise Conflict(f"Campaign {campaign_id} is being settled by another worker.", code="settlement_busy")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        except DatabaseError:  # the connection is gone, and its session lock with it
            logger.warning("could not release the settlement lock of campaign %s", campaign_id)


# --- decide ---------------------------------------------------------------------------------------------------


def _decide(campaign_id: int, now: datetime) -> Campaign:
    """Record the deadline's outcome once: all-or-nothing succeeds when the authorized (and captured) pledges reach
    the goal, and fails otherwise; a flexible campaign keeps what it raised, so it always succeeds."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None:
            raise NotFound(f"There is no campaign {campaign_id}.")
        if campaign.status in (CampaignStatus.SUCCEEDED, CampaignStatus.FAILED):
            return campaign
        if campaign.status != CampaignStatus.LIVE:
            raise Conflict(f"A {campaign.status} campaign is not settled.", code="campaign_not_settleable")
        if now < campaign.deadline + IN_FLIGHT_GRACE:
            raise Conflict("The campaign's deadline has not passed yet.", code="campaign_not_due")
        # Counted only where the money really is held or taken: the pledge's status and its payment's both say
        # so (a payment voided behind the pledge's back must not make a campaign succeed).
        raised = Pledge.objects.filter(
            campaign=campaign,
            status__in=[PledgeStatus.AUTHORIZED, PledgeStatus.CAPTURED],
            payment__status__in=[PaymentStatus.AUTHORIZED, *CAPTURED_STATUSES],
        ).aggregate(total=Coalesce(Sum("amount"), 0))["total"]
        succeeded = campaign.funding_model == FundingModel.FLEXIBLE or raised >= campaign.goal
        campaign.status = CampaignStatus.SUCCEEDED if succeeded else CampaignStatus.FAILED
        campaign.decided_at = now
        campaign.save(update_fields=["status", "decided_at"])
        logger.info("campaign %s %s: %s raised of a %s goal", campaign.pk, campaign.status, raised, campaign.goal)
    checkpoint("decided", campaign.pk)
    return campaign


# --- capture or void each pledge ------------------------------------------------------------------------------


def _failed_captures() -> Subquery:
    return Subquery(
        PaymentOperation.objects.filter(
            payment=OuterRef("payment_id"), kind=PaymentOperationKind.CAPTURE, status=OperationStatus.FAILED
        )
        .values("payment")
        .annotate(n=Count("pk"))
        .values("n"),
        output_field=IntegerField(),
    )


def _walk(campaign: Campaign, now: datetime, report: SettlementReport, gateway: PaymentGateway | None,
          batch_size: int, settle: SettleBatch, workers: int) -> None:  # fmt: skip
    """Every authorized pledge that is due, in id order a batch at a time (keyset pagination on the index of open
    pledges): the batch's gateway steps, then one UPDATE recording its captures or voids; `workers` batches at a
    time."""

    def settle_batch(batch: Sequence[Due]) -> Counter[str]:
        done: dict[Outcome, list[int]] = {Outcome.CAPTURED: [], Outcome.VOIDED: []}
        counts: Counter[str] = Counter()
        outcomes = settle(batch, now, gateway)
        for pledge in batch:
            outcome = outcomes[pledge.pk]
            if outcome in done:
                done[outcome].append(pledge.pk)
            counts[outcome.value] += 1
        _record(done[Outcome.CAPTURED], PledgeStatus.CAPTURED, release=False)
        _record(done[Outcome.VOIDED], PledgeStatus.VOIDED, release=True)
        checkpoint("recorded", batch[-1].pk)
        return counts

    batches = _batches(campaign, now, batch_size)
    with _heap_frozen():
        if workers <= 1 or connection.in_atomic_block:
            tallies = [settle_batch(batch) for batch in batches]
        else:
            tallies = _in_threads(batches, settle_batch, workers)
    for counts in tallies:
        for outcome, count in counts.items():
            setattr(report, outcome, getattr(report, outcome) + count)


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """Python's cyclic garbage collector leaves the objects that exist when the walk starts (Django's, the app's) out
    of its collections while the batches run, and takes them back after (`gc.freeze`, `gc.unfreeze`): the batches
    allocate enough for many full collections, each walking the whole heap (measured on 20,000 pledges, two workers:
    14 % of settlement's Python CPU). Only what the collector walks changes: nothing is freed or kept otherwise, and a
    cycle that was garbage before the walk is collected after it."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _batches(campaign: Campaign, now: datetime, batch_size: int) -> Iterator[Sequence[Due]]:
    """The due pledges, a batch at a time, as rows of what the batch paths read (tuples: no model instances)."""
    # A pledge made in the last moments (a late pledge on a succeeded campaign) is its own request's to capture.
    made_before = now - IN_FLIGHT_GRACE
    after = 0
    while True:
        batch = [
            Due(*row)
            for row in Pledge.objects.filter(campaign=campaign, status=PledgeStatus.AUTHORIZED, pk__gt=after,
                                             payment__isnull=False, created_at__lte=made_before)
            .filter(Q(next_capture_at__isnull=True) | Q(next_capture_at__lte=now))
            .annotate(failed_captures=Coalesce(_failed_captures(), 0))
            .order_by("pk")
            .values_list("pk", "payment_id", "payment__status", "capture_attempts", "next_capture_at",
                         "failed_captures")[:batch_size]
        ]  # fmt: skip
        if not batch:
            return
        after = batch[-1].pk
        yield batch


def _pledges(batch: Sequence[Due]) -> list[Pledge]:
    """The pledges of these rows, whole, with their payments and declined captures (`failed_captures`), in id order:
    what the one-by-one steps take."""
    return list(
        Pledge.objects.filter(pk__in=[due.pk for due in batch])
        .select_related("payment")
        .annotate(failed_captures=Coalesce(_failed_captures(), 0))
        .order_by("pk")
    )


def _in_threads(batches: Iterator[Sequence[Due]], settle_batch: Callable[[Sequence[Due]], Counter[str]],
                workers: int) -> list[Counter[str]]:  # fmt: skip
    """Settle the batches in `workers` threads, each with its own database connection (closed when it is done),
    while this thread reads the next batches. The first error stops the reading, lets the batches under way
    finish, and is raised here; a rerun resumes the rest, as after any crash."""
    todo: queue.Queue[Sequence[Due] | None] = queue.Queue(maxsize=workers)
    tallies: list[Counter[str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            while (batch := todo.get()) is not None:
                if errors:
                    continue  # stopping: the remaining batches are left for the rerun
                try:
                    counts = settle_batch(batch)
                except BaseException as exc:  # handed to the calling thread, which raises it
                    with lock:
                        errors.append(exc)
                else:
                    with lock:
                        tallies.append(counts)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, name=f"settlement-{n}", daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    try:
        for batch in batches:
            if errors:
                break
            todo.put(batch)
    finally:
        for _ in threads:
            todo.put(None)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return tallies


def _record(pledge_ids: list[int], status: str, *, release: bool) -> None:
    """Record a batch's outcome in one statement; only pledges still authorized change (a rerun is a no-op). The
    UPDATE locks each row it changes, in id order (an index scan of the sorted ids), as a SELECT ... FOR UPDATE
    before it did, without writing each lock to the row first."""
    if not pledge_ids:
        return
    with transaction.atomic():
        changed = [
            row[0]
            for row in columns_execute(
                f"UPDATE {Pledge._meta.db_table} SET status = %s, updated_at = %s "  # noqa: S608 - constant SQL
                "WHERE id = ANY(%s::bigint[]) AND status = %s RETURNING id",
                [status, timezone.now(), sorted(pledge_ids), PledgeStatus.AUTHORIZED],
            )
        ]
        if release and changed:
            TierSlot.objects.filter(pledge_id__in=changed).update(pledge=None)


def _one_by_one(settle_one: SettleOne) -> SettleBatch:
    def settle(batch: Sequence[Due], now: datetime, gateway: PaymentGateway | None) -> dict[int, Outcome]:
        return {pledge.pk: settle_one(pledge, now, gateway) for pledge in _pledges(batch)}

    return settle


def _left_waiting(what: str, pledges: list[Due], result: payments.BatchOutcome, outcomes: dict[int, Outcome]) -> None:
    """Pledges of a batch nothing could be done for now (the gateway did not answer, the payment is busy): one line
    for the batch, and the next run tries them again."""
    waiting = [p for p in pledges if p.payment_id in result.waiting or p.payment_id in result.refused]
    for pledge in waiting:
        outcomes[pledge.pk] = Outcome.WAITING
    if waiting:
        reasons = sorted({result.refused.get(p.payment_id, "gateway_unavailable") for p in waiting})
        logger.warning("%s of %s pledges (%s to %s) left for the next run: %s", what, len(waiting), waiting[0].pk,
                       waiting[-1].pk, ", ".join(reasons))  # fmt: skip


def _ready_for_capture(due: Due) -> bool:
    """An authorized payment with no decline left to record and not given up: a capture to ask the gateway for."""
    return (
        due.payment_status == PaymentStatus.AUTHORIZED
        and due.failed_captures <= due.capture_attempts
        and not (due.capture_attempts and due.next_capture_at is None)
    )


def _capture_batch(batch: Sequence[Due], now: datetime, gateway: PaymentGateway | None) -> dict[int, Outcome]:
    """Capture the batch's ready pledges at once (declines kept for the retries); the rest, left by a crash or given
    up, one by one as `_capture_one` does."""
    ready = [due for due in batch if _ready_for_capture(due)]
    rest = [due for due in batch if not _ready_for_capture(due)]
    outcomes = {pledge.pk: _capture_one(pledge, now, gateway) for pledge in (_pledges(rest) if rest else [])}
    if not ready:
        return outcomes
    result = payments.payments_capture_many(payment_ids=[due.payment_id for due in ready], gateway=gateway,
                                            void_on_decline=False)  # fmt: skip
    checkpoint("batch-captured", ready[-1].pk)  # the ledger has recorded the captures and declines; the pledges not yet
    declined = []
    for pledge in ready:
        if pledge.payment_id in result.done:
            outcomes[pledge.pk] = Outcome.CAPTURED
        elif pledge.payment_id in result.declined:
            declined.append(pledge)
    if declined:
        outcomes.update(_declined_batch(declined, now, gateway))
    _left_waiting("capture", ready, result, outcomes)
    return outcomes


def _capture_one(pledge: Pledge, now: datetime, gateway: PaymentGateway | None) -> Outcome:
    payment: Payment = pledge.payment  # type: ignore[assignment]
    if payment.status in CAPTURED_STATUSES:  # captured before a crash, not recorded yet
        return Outcome.CAPTURED
    if payment.status != PaymentStatus.AUTHORIZED:  # the hold is gone (voided after a stuck capture): nothing to take
        return _drop(pledge, gateway)
    if pledge.failed_captures > pledge.capture_attempts:  # type: ignore[attr-defined]
        return _declined(pledge, now, gateway)  # the gateway said no before a crash: record it, do not ask again
    if pledge.capture_attempts and pledge.next_capture_at is None:  # given up before a crash, not dropped yet
        return _drop(pledge, gateway)
    try:
        payments.payment_capture(payment=payment, gateway=gateway, void_on_decline=False)
    except payments.PaymentDeclined:
        checkpoint("capture-declined", pledge.pk)  # the ledger has recorded the decline; the pledge not yet
        return _declined(pledge, now, gateway)
    except (payments.GatewayDown, Conflict) as exc:
        logger.warning("capture of pledge %s left for the next run: %s", pledge.pk, exc)
        return Outcome.WAITING
    checkpoint("captured", pledge.pk)
    return Outcome.CAPTURED


def _next_attempt(attempts: int, now: datetime, grace_until: datetime) -> datetime | None:
    """When to try again after the `attempts`-th decline; None once the grace period is over (give up)."""
    if now >= grace_until:
        return None
    if attempts <= len(CAPTURE_RETRY_DELAYS):
        return min(now + CAPTURE_RETRY_DELAYS[attempts - 1], grace_until)
    return grace_until


def _declined(pledge: Pledge, now: datetime, gateway: PaymentGateway | None) -> Outcome:
    return _declined_batch([pledge], now, gateway)[pledge.pk]


def _declined_batch(
    pledges: Sequence[Pledge | Due], now: datetime, gateway: PaymentGateway | None
) -> dict[int, Outcome]:
    """Record each payment's declined captures on its pledge (a count, so recording twice changes nothing), schedule
    the next attempt and tell the backer, for a batch's declines in one transaction; after the grace period, give
    up and drop the pledge."""
    from crowdmaker.funding import tasks

    outcomes: dict[int, Outcome] = {}
    with transaction.atomic():
        locked = list(Pledge.objects.select_for_update().filter(pk__in=[p.pk for p in pledges]).order_by("pk"))
        declines = dict(
            PaymentOperation.objects.filter(
                payment_id__in=[p.payment_id for p in locked],
                kind=PaymentOperationKind.CAPTURE,
                status=OperationStatus.FAILED,
            )
            .values("payment_id")
            .annotate(n=Count("pk"))
            .values_list("payment_id", "n")
        )
        for pledge in locked:
            if pledge.status != PledgeStatus.AUTHORIZED:
                outcomes[pledge.pk] = Outcome.WAITING
                continue
            failed = declines.get(pledge.payment_id or 0, 0)
            if failed > pledge.capture_attempts:
                pledge.capture_grace_until = pledge.capture_grace_until or now + CAPTURE_GRACE
                pledge.capture_attempts = failed
                pledge.next_capture_at = _next_attempt(failed, now, pledge.capture_grace_until)
                pledge.updated_at = timezone.now()
                pledge.save(update_fields=["capture_attempts", "capture_grace_until", "next_capture_at", "updated_at"])
                if pledge.next_capture_at is not None:
                    transaction.on_commit(
                        partial(tasks.capture_declined_email_send.enqueue, pledge_id=pledge.pk, attempt=failed)
                    )
    checkpoint("declined", pledges[-1].pk)
    for pledge in locked:
        if pledge.pk not in outcomes:
            outcomes[pledge.pk] = _drop(pledge, gateway) if pledge.next_capture_at is None else Outcome.DECLINED
    return outcomes


def _drop(pledge: Pledge, gateway: PaymentGateway | None) -> Outcome:
    """Give a pledge up: void its authorization (if still held), mark it dropped, free its place, tell the backer."""
    from crowdmaker.funding import tasks

    payment = Payment.objects.filter(pledge=pledge).first()
    if payment is None:
        return Outcome.WAITING
    if payment.status in CAPTURED_STATUSES:
        return Outcome.CAPTURED
    if payment.status == PaymentStatus.AUTHORIZED:
        try:
            payments.payment_void(payment=payment, gateway=gateway)
        except payments.PaymentDeclined:
            pass  # the gateway no longer holds it either (recorded as failed): nobody is charged
        except (payments.GatewayDown, Conflict) as exc:
            logger.warning("void of pledge %s left for the next run: %s", pledge.pk, exc)
            return Outcome.WAITING
        checkpoint("voided", pledge.pk)
    with transaction.atomic():
        locked = Pledge.objects.select_for_update().get(pk=pledge.pk)
        if locked.status != PledgeStatus.AUTHORIZED:
            return Outcome.WAITING
        locked.status = PledgeStatus.DROPPED
        locked.updated_at = timezone.now()
        locked.save(update_fields=["status", "updated_at"])
        TierSlot.objects.filter(pledge=locked).update(pledge=None)
        transaction.on_commit(lambda: tasks.pledge_dropped_email_send.enqueue(pledge_id=locked.pk))
    checkpoint("dropped", pledge.pk)
    return Outcome.DROPPED


def _void_batch(batch: Sequence[Due], now: datetime, gateway: PaymentGateway | None) -> dict[int, Outcome]:
    """Void the batch's authorized pledges at once; the others as `_void_one` does."""
    ready = [due for due in batch if due.payment_status == PaymentStatus.AUTHORIZED]
    rest = [due for due in batch if due.payment_status != PaymentStatus.AUTHORIZED]
    outcomes = {pledge.pk: _void_one(pledge, now, gateway) for pledge in (_pledges(rest) if rest else [])}
    if not ready:
        return outcomes
    result = payments.payments_void_many(payment_ids=[due.payment_id for due in ready], gateway=gateway)
    checkpoint("batch-voided", ready[-1].pk)
    for pledge in ready:
        # Declined: the gateway no longer holds it (recorded as failed): nobody is charged, as in _void_one.
        if pledge.payment_id in result.done or pledge.payment_id in result.declined:
            outcomes[pledge.pk] = Outcome.VOIDED
    _left_waiting("void", ready, result, outcomes)
    return outcomes


def _void_one(pledge: Pledge, now: datetime, gateway: PaymentGateway | None) -> Outcome:
    payment: Payment = pledge.payment  # type: ignore[assignment]
    if payment.status in CAPTURED_STATUSES:
        # Cannot happen: a failed campaign had nothing captured when it was decided, and only a succeeded one
        # captures. Left for an operator rather than hidden.
        logger.error("pledge %s of failed campaign %s is captured", pledge.pk, pledge.campaign_id)
        return Outcome.WAITING
    if payment.status == PaymentStatus.AUTHORIZED:
        try:
            payments.payment_void(payment=payment, gateway=gateway)
        except payments.PaymentDeclined:
            pass  # the gateway no longer holds it (recorded as failed): nobody is charged
        except (payments.GatewayDown, Conflict) as exc:
            logger.warning("void of pledge %s left for the next run: %s", pledge.pk, exc)
            return Outcome.WAITING
        checkpoint("voided", pledge.pk)
    return Outcome.VOIDED


# --- distribute and finish ------------------------------------------------------------------------------------


def _finish(campaign_id: int, now: datetime, report: SettlementReport) -> None:
    """Once no pledge is open (pending or authorized), distribute what a succeeded campaign received and mark it
    settled, in one transaction; a settled campaign that took late pledges since distributes them the same way."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        open_pledges = Pledge.objects.filter(
            campaign=campaign, status__in=[PledgeStatus.PENDING, PledgeStatus.AUTHORIZED]
        ).count()
        report.open_pledges = open_pledges
        if campaign.settled_at is None and open_pledges:
            return
        report.settled = True
        if campaign.status == CampaignStatus.SUCCEEDED:
            report.distributed = _distribute(campaign)
        if campaign.settled_at is not None and not report.distributed:
            return  # settled before, and nothing came in since
        if campaign.settled_at is None:
            campaign.settled_at = now
            campaign.save(update_fields=["settled_at"])
    checkpoint("settled", campaign_id)


def _distribute(campaign: Campaign) -> int:
    """Move the campaign's received balance (captures less fees) to its shares' beneficiaries, split by weight with
    the largest remainder, as one posting. The balance is read under the account's lock, so a rerun finds it moved
    (nothing to post); the idempotency key numbers the distributions of the campaign. Returns what was moved."""
    received = (
        Account.objects.select_for_update()
        .filter(owner_kind="campaign", owner_id=str(campaign.pk), purpose=payments.RECEIVED, currency=campaign.currency)
        .first()
    )
    if received is None or received.balance <= 0:
        return 0
    net = Money(received.balance, campaign.currency)
    shares = list(campaign.shares.order_by("pk"))
    parts = allocate(net, [share.weight for share in shares])
    legs = [(received, -net)]
    for share, part in zip(shares, parts, strict=True):
        if part:
            account = account_open(owner_kind=share.beneficiary_kind, owner_id=share.beneficiary_id,
                                   purpose=PROCEEDS, currency=campaign.currency)  # fmt: skip
            legs.append((account, part))
    number = (
        Transaction.objects.filter(kind=DISTRIBUTION, subject_kind="campaign", subject_id=str(campaign.pk)).count() + 1
    )
    transaction_post(
        kind=DISTRIBUTION,
        legs=legs,
        memo=f"Proceeds of campaign #{campaign.pk} to its makers",
        subject=("campaign", str(campaign.pk)),
        idempotency_key=f"campaign:{campaign.pk}:distribution:{number}",
    )
    return net.amount


# --- reconciliation (MONEY.md invariant 6) --------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignBooks:
    """A campaign's pledges against its public ledger, in minor units of its currency."""

    captured: int  # what the pledges' payments captured
    refunded: int  # what was refunded of it, and the refunds under way (posted before the gateway answers)
    fees: int  # the platform fees the ledger kept on those payments (net of fees refunded)
    received: int  # what the campaign's received account took in: captures less fees and refunds
    distributed: int  # what it passed on to its makers, less what refunds took back from them (clawbacks)
    balance: int  # what it holds now

    @property
    def reconciles(self) -> bool:
        """Captured pledges minus refunds = what the campaign received (plus the fee the platform kept of it), and
        the campaign holds exactly what it received and did not distribute."""
        return (self.captured - self.refunded == self.received + self.fees
                and self.balance == self.received - self.distributed)  # fmt: skip


# What a refund after the distribution takes back from the makers into the campaign's received account
# (funding.refunds).
CLAWBACK = "refund-clawback"
# Postings between a campaign's received account and its makers, out and back; a reversal counts as what it reverses.
_MAKERS_KINDS = (DISTRIBUTION, CLAWBACK)


def campaign_books(*, campaign: Campaign) -> CampaignBooks:
    """Read a campaign's books: its pledges' payments and its ledger. Four queries; reads only."""
    money = Payment.objects.filter(pledge__campaign=campaign).aggregate(
        captured=Coalesce(Sum("captured_amount"), 0), refunded=Coalesce(Sum("refunded_amount"), 0)
    )
    under_way = PaymentOperation.objects.filter(
        payment__pledge__campaign=campaign, kind=PaymentOperationKind.REFUND, status=OperationStatus.PENDING
    ).aggregate(total=Coalesce(Sum("amount"), 0))["total"]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT coalesce(sum(l.amount) FILTER (WHERE NOT coalesce(o.kind, t.kind) = ANY(%(makers)s)), 0),
                   coalesce(-sum(l.amount) FILTER (WHERE coalesce(o.kind, t.kind) = ANY(%(makers)s)), 0),
                   coalesce(sum(l.amount), 0)
            FROM ledger_account a
            JOIN ledger_leg l ON l.account_id = a.id
            JOIN ledger_transaction t ON t.id = l.transaction_id
            LEFT JOIN ledger_transaction o ON o.id = t.reverses_id
            WHERE a.owner_kind = 'campaign' AND a.owner_id = %(campaign)s AND a.purpose = %(received)s
            """,
            {"makers": list(_MAKERS_KINDS), "campaign": str(campaign.pk), "received": payments.RECEIVED},
        )
        received, distributed, balance = cursor.fetchone()
        cursor.execute(
            """
            SELECT coalesce(sum(l.amount), 0)
            FROM funding_pledge p
            JOIN ledger_transaction t ON t.subject_kind = 'payment' AND t.subject_id = p.payment_id::text
            JOIN ledger_leg l ON l.transaction_id = t.id
            JOIN ledger_account a ON a.id = l.account_id AND a.owner_kind = 'platform' AND a.purpose = %(revenue)s
            WHERE p.campaign_id = %(campaign)s
            """,
            {"campaign": campaign.pk, "revenue": payments.REVENUE},
        )
        (fees,) = cursor.fetchone()
    return CampaignBooks(captured=int(money["captured"]), refunded=int(money["refunded"]) + int(under_way), fees=int(fees),
                         received=int(received), distributed=int(distributed), balance=int(balance))  # fmt: skip
