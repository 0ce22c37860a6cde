"""Reads of the ledger: balances derived from legs, and the checks that `ledger verify` runs.

Every figure here is computed by the database (GROUP BY, never a Python loop over rows), so the checks stay
fast on millions of legs. The invariant checks cover the ledger itself and its agreement with the payment
tables (MONEY.md invariants 4 and 6); warning checks list what needs an operator without being wrong. Nothing
here writes; a check returns the problems it found, readable by an operator, and never repairs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from crowdmaker.ledger import payments
from crowdmaker.ledger.models import CAPTURED_STATUSES, Account, Leg
from crowdmaker.ledger.money import Money


@contextmanager
def read_snapshot() -> Iterator[None]:
    """Run the reads inside in one REPEATABLE READ, READ ONLY transaction: one consistent snapshot.

    Postings committed meanwhile are not seen half-way (e.g. accounts read before, their legs after). Inside a
    caller's transaction its snapshot is used, since the isolation level can only be set first thing.
    """
    nested = connection.in_atomic_block
    with transaction.atomic():
        if not nested:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def account_balance_from_legs(*, account: Account) -> Money:
    """The account's balance as the sum of its legs (the cached `Account.balance` must equal it)."""
    total = Leg.objects.filter(account=account).aggregate(total=Sum("amount"))["total"]
    return Money(int(total or 0), account.currency)


def balances_by_currency(*, owner_kind: str | None = None, owner_id: str | None = None) -> dict[str, Money]:
    """Sums of the legs per currency: of one owner's accounts, or of every account (each then zero)."""
    legs = Leg.objects.all()
    if owner_kind is not None:
        legs = legs.filter(account__owner_kind=owner_kind)
    if owner_id is not None:
        legs = legs.filter(account__owner_id=owner_id)
    rows = legs.values("currency").annotate(total=Sum("amount")).order_by("currency")
    return {row["currency"]: Money(int(row["total"]), row["currency"]) for row in rows}


# --- the invariant checks -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problems:
    """What one check found: how many problems in all, and the first ones (all of them without a limit)."""

    total: int
    examples: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.total > 0


def _problems(sql: str, params: Sequence[Any], limit: int | None, describe: Callable[..., str]) -> Problems:
    """Run a query whose rows are problems; `count(*) OVER ()` in its first column gives their total.

    The window count is taken before LIMIT, so one query yields both the total and the first examples.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} LIMIT %s", [*params, limit])
        rows = cursor.fetchall()
    return Problems(total=int(rows[0][0]) if rows else 0, examples=[describe(*row[1:]) for row in rows])


def _money(amount: int, currency: str) -> str:
    sign = "+" if amount > 0 else ""
    return f"{sign}{Money(int(amount), currency)}"


def _account(owner_kind: str, owner_id: str, purpose: str, currency: str) -> str:
    owner = f"{owner_kind}:{owner_id}" if owner_id else owner_kind
    return f"{owner}/{purpose} ({currency})"


def unbalanced_transactions(*, limit: int | None = None) -> Problems:
    """Invariant 1: each transaction's legs sum to zero in every currency. One problem per (transaction, currency)."""
    return _problems(
        """
        SELECT count(*) OVER (), transaction_id, currency, sum(amount)
        FROM ledger_leg
        GROUP BY transaction_id, currency
        HAVING sum(amount) <> 0
        ORDER BY transaction_id, currency
        """,
        [],
        limit,
        lambda txn, currency, total: f"transaction #{txn}: its {currency} legs sum to {_money(total, currency)}",
    )


def transactions_with_too_few_legs(*, limit: int | None = None) -> Problems:
    """Every transaction has two legs or more."""
    return _problems(
        """
        SELECT count(*) OVER (), t.id, t.kind, coalesce(legs.n, 0)
        FROM ledger_transaction t
        LEFT JOIN (SELECT transaction_id, count(*) AS n FROM ledger_leg GROUP BY transaction_id) legs
            ON legs.transaction_id = t.id
        WHERE coalesce(legs.n, 0) < 2
        ORDER BY t.id
        """,
        [],
        limit,
        lambda txn, kind, n: f"transaction #{txn} ({kind}) has {n} leg{'' if n == 1 else 's'}",
    )


def unconserved_currencies(*, limit: int | None = None) -> Problems:
    """Invariant 2: money is conserved, so the balances of all accounts (sums of their legs) add up to zero."""
    return _problems(
        """
        SELECT count(*) OVER (), currency, sum(amount)
        FROM ledger_leg
        GROUP BY currency
        HAVING sum(amount) <> 0
        ORDER BY currency
        """,
        [],
        limit,
        lambda currency, total: f"{currency}: all balances add up to {_money(total, currency)}, not zero",
    )


def legs_in_a_foreign_currency(*, limit: int | None = None) -> Problems:
    """Each leg is in the currency of its account (otherwise the per-currency sums above mean nothing)."""
    return _problems(
        """
        SELECT count(*) OVER (), l.id, l.transaction_id, l.amount, l.currency,
               a.owner_kind, a.owner_id, a.purpose, a.currency
        FROM ledger_leg l
        JOIN ledger_account a ON a.id = l.account_id
        WHERE l.currency <> a.currency
        ORDER BY l.id
        """,
        [],
        limit,
        lambda leg, txn, amount, currency, *account: (
            f"leg #{leg} of transaction #{txn} moves {_money(amount, currency)} "
            f"into {_account(*account)}, held in {account[-1]}"
        ),
    )


def legs_without_their_references(*, limit: int | None = None) -> Problems:
    """Each leg's account and transaction exist (the legs' trigger checks it on insert, sql/0010; no foreign key)."""
    return _problems(
        """
        SELECT count(*) OVER (), l.id, l.transaction_id, l.account_id, a.id IS NULL, t.id IS NULL
        FROM ledger_leg l
        LEFT JOIN ledger_account a ON a.id = l.account_id
        LEFT JOIN ledger_transaction t ON t.id = l.transaction_id
        WHERE a.id IS NULL OR t.id IS NULL
        ORDER BY l.id
        """,
        [],
        limit,
        lambda leg, txn, account, no_account, no_txn: (
            f"leg #{leg} names {f'account #{account}' if no_account else ''}{' and ' if no_account and no_txn else ''}"
            f"{f'transaction #{txn}' if no_txn else ''}, which does not exist"
        ),
    )


def stale_cached_balances(*, limit: int | None = None) -> Problems:
    """Each account's cached balance equals the sum of its legs."""
    return _problems(
        """
        SELECT count(*) OVER (), a.id, a.owner_kind, a.owner_id, a.purpose, a.currency, a.balance,
               coalesce(legs.total, 0)
        FROM ledger_account a
        LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_leg GROUP BY account_id) legs
            ON legs.account_id = a.id
        WHERE a.balance <> coalesce(legs.total, 0)
        ORDER BY a.id
        """,
        [],
        limit,
        lambda pk, kind, owner, purpose, currency, cached, total: (
            f"account #{pk} {_account(kind, owner, purpose, currency)}: cached balance "
            f"{Money(int(cached), currency)}, its legs sum to {Money(int(total), currency)}"
        ),
    )


def unmatched_reversals(*, limit: int | None = None) -> Problems:
    """A reversal's legs are exactly the negation of the legs of the transaction it reverses (as multisets)."""
    return _problems(
        """
        WITH reversal AS (
            SELECT id, reverses_id FROM ledger_transaction WHERE reverses_id IS NOT NULL
        ), mine AS (
            SELECT r.id, l.account_id, l.currency, l.amount, count(*) AS n
            FROM reversal r JOIN ledger_leg l ON l.transaction_id = r.id
            GROUP BY r.id, l.account_id, l.currency, l.amount
        ), undone AS (
            SELECT r.id, l.account_id, l.currency, -l.amount AS amount, count(*) AS n
            FROM reversal r JOIN ledger_leg l ON l.transaction_id = r.reverses_id
            GROUP BY r.id, l.account_id, l.currency, l.amount
        ), mismatch AS (
            SELECT DISTINCT coalesce(mine.id, undone.id) AS id
            FROM mine FULL JOIN undone
                ON mine.id = undone.id AND mine.account_id = undone.account_id
                AND mine.currency = undone.currency AND mine.amount = undone.amount
            WHERE mine.n IS DISTINCT FROM undone.n
        )
        SELECT count(*) OVER (), r.id, r.reverses_id
        FROM mismatch m JOIN reversal r ON r.id = m.id
        ORDER BY r.id
        """,
        [],
        limit,
        lambda pk, original: f"transaction #{pk} reverses #{original} but its legs are not the exact negation",
    )


def forbidden_negative_balances(*, limit: int | None = None) -> Problems:
    """No account goes below zero unless it allows it, by its legs or by its cached balance."""
    return _problems(
        """
        SELECT count(*) OVER (), a.id, a.owner_kind, a.owner_id, a.purpose, a.currency,
               coalesce(legs.total, 0), a.balance
        FROM ledger_account a
        LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_leg GROUP BY account_id) legs
            ON legs.account_id = a.id
        WHERE NOT a.allow_negative AND (coalesce(legs.total, 0) < 0 OR a.balance < 0)
        ORDER BY a.id
        """,
        [],
        limit,
        lambda pk, kind, owner, purpose, currency, total, cached: (
            f"account #{pk} {_account(kind, owner, purpose, currency)} may not go negative, "
            f"but its legs sum to {Money(int(total), currency)} (cached {Money(int(cached), currency)})"
        ),
    )


# --- the payment tables against the ledger ---------------------------------------------------------------------
#
# Postings about a payment have the subject ("payment", id); a reversal keeps its original's subject and counts
# as the kind it reverses (with opposite amounts). Only two accounts are looked at, because only they say what
# the payment did: the payee's `received` account and the platform's `platform-revenue` account, both in the
# payment's currency. Legs through the gateway's clearing account or the payer's pass-through account do not
# change what the payee got or the fee the platform took, so the checks hold whichever of them a posting has.

PAYEE_PURPOSE = payments.RECEIVED
REVENUE_PURPOSE = payments.REVENUE

_PAYMENT_POSTINGS = """
    posting AS (
        SELECT p.id AS payment_id, t.id AS transaction_id, coalesce(o.kind, t.kind) AS kind,
               t.reverses_id IS NOT NULL AS reversal,
               coalesce(sum(l.amount) FILTER (WHERE a.owner_kind = p.payee_kind AND a.owner_id = p.payee_id
                                              AND a.purpose = %(payee)s), 0) AS payee,
               coalesce(sum(l.amount) FILTER (WHERE a.owner_kind = 'platform' AND a.owner_id = ''
                                              AND a.purpose = %(revenue)s), 0) AS revenue
        FROM ledger_payment p
        JOIN ledger_transaction t ON t.subject_kind = 'payment' AND t.subject_id = p.id::text
        LEFT JOIN ledger_transaction o ON o.id = t.reverses_id
        JOIN ledger_leg l ON l.transaction_id = t.id AND l.currency = p.currency
        JOIN ledger_account a ON a.id = l.account_id
        GROUP BY p.id, t.id, o.kind
    ), payment_posted AS (
        SELECT p.id, p.status, p.currency, p.captured_amount, p.fee_amount, p.refunded_amount,
               p.status = ANY(%(captured)s) AS captured,
               count(s.transaction_id) FILTER (WHERE s.kind = 'payment-capture' AND NOT s.reversal) AS captures,
               coalesce(sum(s.payee) FILTER (WHERE s.kind IN ('payment-capture', 'platform-fee')), 0) AS payee_net,
               coalesce(sum(s.revenue) FILTER (WHERE s.kind IN ('payment-capture', 'platform-fee')), 0) AS fee,
               -coalesce(sum(s.payee + s.revenue) FILTER (WHERE s.kind = 'refund'), 0) AS refunded
        FROM ledger_payment p
        LEFT JOIN posting s ON s.payment_id = p.id
        GROUP BY p.id
    )
"""


def _payment_params() -> dict[str, Any]:
    return {"payee": PAYEE_PURPOSE, "revenue": REVENUE_PURPOSE, "captured": list(CAPTURED_STATUSES)}


def _named_problems(sql: str, params: dict[str, Any], limit: int | None, describe: Callable[..., str]) -> Problems:
    """Like _problems, for a query with named parameters."""
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} LIMIT %(limit)s", {**params, "limit": limit})
        rows = cursor.fetchall()
    return Problems(total=int(rows[0][0]) if rows else 0, examples=[describe(*row[1:]) for row in rows])


def unposted_captures(*, limit: int | None = None) -> Problems:
    """Invariants 4 and 6: a captured payment's capture is posted once, and its payee got the capture minus the
    fee; a payment never captured (pending, authorized, voided, failed) has nothing posted to its payee."""

    def describe(pk: int, status: str, currency: str, captured: int, fee: int, captures: int, got: int) -> str:
        if status not in CAPTURED_STATUSES:
            return (
                f"payment #{pk} is {status}, but its capture is posted {captures} time(s) and its payee got "
                f"{_money(got, currency)}"
            )
        return (
            f"payment #{pk} ({status}): its capture is posted {captures} time(s) and its payee got "
            f"{Money(int(got), currency)}, not {Money(captured - fee, currency)} "
            f"({Money(captured, currency)} captured minus a {Money(fee, currency)} fee)"
        )

    return _named_problems(
        f"""
        WITH {_PAYMENT_POSTINGS}
        SELECT count(*) OVER (), id, status, currency, captured_amount, fee_amount, captures, payee_net
        FROM payment_posted
        WHERE CASE WHEN captured THEN captures <> 1 OR payee_net <> captured_amount - fee_amount
                   ELSE captures <> 0 OR payee_net <> 0 END
        ORDER BY id
        """,  # noqa: S608 - constant SQL
        _payment_params(),
        limit,
        describe,
    )


def unposted_fees(*, limit: int | None = None) -> Problems:
    """The platform fee posted for a payment equals its `fee_amount` (none for a payment never captured)."""

    def describe(pk: int, status: str, currency: str, expected: int, posted: int) -> str:
        return (
            f"payment #{pk} ({status}): the platform got {Money(int(posted), currency)} in fees for it, "
            f"not {Money(int(expected), currency)}"
        )

    return _named_problems(
        f"""
        WITH {_PAYMENT_POSTINGS}
        SELECT count(*) OVER (), id, status, currency, expected, fee
        FROM (SELECT *, CASE WHEN captured THEN fee_amount ELSE 0 END AS expected FROM payment_posted) p
        WHERE fee <> expected
        ORDER BY id
        """,  # noqa: S608 - constant SQL
        _payment_params(),
        limit,
        describe,
    )


def unposted_refunds(*, limit: int | None = None) -> Problems:
    """Invariant 6: what was taken back from a payment's payee and fee by refunds (minus the reversals of
    declined ones) equals its `refunded_amount` plus its refund still pending (posted before the gateway call)."""

    def describe(pk: int, status: str, currency: str, refunded: int, pending: int, posted: int) -> str:
        expected = f"{Money(int(refunded), currency)} refunded"
        if pending:
            expected += f" + {Money(int(pending), currency)} pending"
        return f"payment #{pk} ({status}): refunds of {Money(int(posted), currency)} are posted, not {expected}"

    return _named_problems(
        f"""
        WITH {_PAYMENT_POSTINGS}, pending AS (
            SELECT payment_id, sum(amount) AS amount
            FROM ledger_paymentoperation
            WHERE kind = 'refund' AND status = 'pending'
            GROUP BY payment_id
        )
        SELECT count(*) OVER (), p.id, p.status, p.currency, p.refunded_amount, coalesce(pending.amount, 0),
               p.refunded
        FROM payment_posted p
        LEFT JOIN pending ON pending.payment_id = p.id
        WHERE p.refunded <> p.refunded_amount + coalesce(pending.amount, 0)
        ORDER BY p.id
        """,  # noqa: S608 - constant SQL
        _payment_params(),
        limit,
        describe,
    )


def captured_and_voided_payments(*, limit: int | None = None) -> Problems:
    """Invariant 4: no authorization is both captured and voided (by its operations or by its status)."""
    return _problems(
        """
        SELECT count(*) OVER (), p.id, p.status
        FROM ledger_payment p
        WHERE EXISTS (SELECT 1 FROM ledger_paymentoperation o
                      WHERE o.payment_id = p.id AND o.kind = 'capture' AND o.status = 'succeeded')
          AND (p.status = 'voided'
               OR EXISTS (SELECT 1 FROM ledger_paymentoperation o
                          WHERE o.payment_id = p.id AND o.kind = 'void' AND o.status = 'succeeded'))
        ORDER BY p.id
        """,
        [],
        limit,
        lambda pk, status: f"payment #{pk} ({status}) was both captured and voided",
    )


def unposted_payouts(*, limit: int | None = None) -> Problems:
    """Every payout is posted once (its money taken from the owner's account); a failed payout's posting is
    reversed, so the money is back; a pending or paid one's is not."""

    def describe(pk: int, status: str, amount: int, currency: str, *rest: Any) -> str:
        owner_kind, owner_id, purpose, postings, reversals, taken = rest
        source = _account(owner_kind, owner_id, purpose, currency)
        return (
            f"payout #{pk} ({status}, {Money(amount, currency)} from {source}) is posted {postings} time(s), "
            f"reversed {reversals} time(s), and {Money(int(taken), currency)} is taken from the account"
        )

    return _problems(
        """
        WITH posting AS (
            SELECT po.id AS payout_id, t.id AS transaction_id, t.reverses_id IS NOT NULL AS reversal,
                   coalesce(sum(l.amount) FILTER (WHERE a.owner_kind = po.owner_kind AND a.owner_id = po.owner_id
                                                  AND a.purpose = po.purpose AND l.currency = po.currency), 0)
                       AS source
            FROM ledger_payout po
            JOIN ledger_transaction t ON t.subject_kind = 'payout' AND t.subject_id = po.id::text
            JOIN ledger_leg l ON l.transaction_id = t.id
            JOIN ledger_account a ON a.id = l.account_id
            GROUP BY po.id, t.id
        ), per_payout AS (
            SELECT po.id, po.status, po.amount, po.currency, po.owner_kind, po.owner_id, po.purpose,
                   count(s.transaction_id) FILTER (WHERE NOT s.reversal) AS postings,
                   count(s.transaction_id) FILTER (WHERE s.reversal) AS reversals,
                   -coalesce(sum(s.source), 0) AS taken
            FROM ledger_payout po
            LEFT JOIN posting s ON s.payout_id = po.id
            GROUP BY po.id
        )
        SELECT count(*) OVER (), id, status, amount, currency, owner_kind, owner_id, purpose,
               postings, reversals, taken
        FROM per_payout
        WHERE postings <> 1
           OR reversals <> CASE WHEN status = 'failed' THEN 1 ELSE 0 END
           OR taken <> CASE WHEN status = 'failed' THEN 0 ELSE amount END
        ORDER BY id
        """,
        [],
        limit,
        describe,
    )


# --- warnings: not wrong, but an operator should look -----------------------------------------------------------

# A payment step or payout still pending this long was abandoned by its caller, and the periodic job
# ledger.payments_resume_stale (which takes over at the same age) has not finished it yet: the gateway is still
# down or the step was refused. Not an inconsistency (the checks above count pending steps as such), so verify
# lists these as warnings and passes; failing would make its exit code flap with every gateway outage.
PENDING_STEP_WARNING_AFTER = payments.STALE_AFTER
_STEP_NOUNS = {"authorize": "authorization"}


def stale_pending_steps(*, limit: int | None = None, now: datetime | None = None) -> Problems:
    """Payment steps (authorize, capture, void, refund) and payouts pending for longer than
    PENDING_STEP_WARNING_AFTER: the gateway is still down, or nothing resumed them."""
    moment = now or timezone.now()
    cutoff = moment - PENDING_STEP_WARNING_AFTER

    def describe(what: str, pk: int, kind: str, since: datetime) -> str:
        minutes = int((moment - since).total_seconds() // 60)
        step = f"payout #{pk}" if what == "payout" else f"the {_STEP_NOUNS.get(kind, kind)} of payment #{pk}"
        return f"{step} has been pending since {since.isoformat(timespec='seconds')} ({minutes} min)"

    return _problems(
        """
        SELECT count(*) OVER (), what, id, kind, created_at FROM (
            SELECT 'payment' AS what, payment_id AS id, kind, created_at
            FROM ledger_paymentoperation WHERE status = 'pending' AND created_at < %s
            UNION ALL
            SELECT 'payout', id, 'payout', created_at
            FROM ledger_payout WHERE status = 'pending' AND created_at < %s
        ) stale
        ORDER BY created_at, what, id
        """,
        [cutoff, cutoff],
        limit,
        describe,
    )


@dataclass(frozen=True, slots=True)
class InvariantCheck:
    name: str
    title: str  # what holds when the check passes
    find: Callable[..., Problems]


INVARIANT_CHECKS: tuple[InvariantCheck, ...] = (
    InvariantCheck("balanced", "every transaction balances per currency", unbalanced_transactions),
    InvariantCheck("two-legs", "every transaction has two legs or more", transactions_with_too_few_legs),
    InvariantCheck("conservation", "all balances add up to zero per currency", unconserved_currencies),
    InvariantCheck("leg-currency", "every leg is in its account's currency", legs_in_a_foreign_currency),
    InvariantCheck("leg-references", "every leg's account and transaction exist", legs_without_their_references),
    InvariantCheck("cached-balance", "every cached balance equals the sum of its legs", stale_cached_balances),
    InvariantCheck("reversals", "every reversal exactly negates what it reverses", unmatched_reversals),
    InvariantCheck("no-overdraft", "no account is negative unless it may be", forbidden_negative_balances),
    InvariantCheck(
        "payment-captures", "every captured payment is posted to its payee once, and no other", unposted_captures
    ),
    InvariantCheck("payment-fees", "every payment's posted platform fee equals its fee", unposted_fees),
    InvariantCheck("payment-refunds", "every payment's posted refunds equal what it refunded", unposted_refunds),
    InvariantCheck("captured-and-voided", "no payment is both captured and voided", captured_and_voided_payments),
    InvariantCheck("payouts", "every payout is posted, and reversed if and only if it failed", unposted_payouts),
)

# Checks whose problems `ledger verify` reports as warnings: listed, but the ledger is not wrong, it passes.
WARNING_CHECKS: tuple[InvariantCheck, ...] = (
    InvariantCheck(
        "stale-pending",
        f"no payment step or payout pending for more than {int(PENDING_STEP_WARNING_AFTER.total_seconds() // 60)} "
        "minutes",
        stale_pending_steps,
    ),
)


def ledger_invariant_problems(*, limit: int | None = None) -> list[str]:
    """Every problem of every check, prefixed by the check's name; empty when the ledger is sound."""
    return [f"{check.name}: {example}" for check in INVARIANT_CHECKS for example in check.find(limit=limit).examples]
