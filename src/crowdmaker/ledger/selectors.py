"""Reads of the ledger: balances derived from legs, and the invariant checks that `ledger verify` runs.

Every figure here is computed from the legs by the database (GROUP BY, never a Python loop over rows), so the
checks stay fast on millions of legs. Nothing here writes; a check returns the problems it found, readable by
an operator, and never repairs them (corrections are reversing transactions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Sum

from crowdmaker.ledger.models import Account, Leg
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
    InvariantCheck("cached-balance", "every cached balance equals the sum of its legs", stale_cached_balances),
    InvariantCheck("reversals", "every reversal exactly negates what it reverses", unmatched_reversals),
    InvariantCheck("no-overdraft", "no account is negative unless it may be", forbidden_negative_balances),
)


def ledger_invariant_problems(*, limit: int | None = None) -> list[str]:
    """Every problem of every check, prefixed by the check's name; empty when the ledger is sound."""
    return [f"{check.name}: {example}" for check in INVARIANT_CHECKS for example in check.find(limit=limit).examples]
