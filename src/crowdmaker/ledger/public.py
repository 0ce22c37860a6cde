"""Reads of the public ledger: an owner's transactions with its net amounts, counterparts and running
balances, and its totals per kind. Only owners whose ledger is public, or viewers allowed full detail
(the owner's own people, operators), get an answer; detail (memos, subjects, account purposes) only the latter.

Nothing here writes. Persons are named through the owner registry, which pseudonymises them unless they chose
to be shown. A page of entries costs a fixed number of queries, whatever its length.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, OuterRef, QuerySet, Sum

from crowdmaker.core.errors import NotFound
from crowdmaker.ledger.models import Leg, Transaction
from crowdmaker.ledger.money import Money
from crowdmaker.ledger.owners import OwnerInfo, owner_can_see_detail, owner_describe, owners_describe

# In URLs an owner id cannot be empty; the platform (whose id is "") is addressed as /ledger/platform/-/.
EMPTY_OWNER_ID = "-"


@dataclass(frozen=True)
class LedgerAccess:
    owner: OwnerInfo
    detail: bool  # may this viewer see memos, subjects and account purposes?


@dataclass(frozen=True)
class Counterpart:
    label: str
    url: str = ""


@dataclass(frozen=True)
class EntryLeg:
    """One leg of an entry, shown with full detail only."""

    owner: str
    purpose: str
    amount: Money


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    kind: str
    posted_at: datetime
    amounts: list[Money]  # the owner's net amount per currency in this transaction (zero when it moved within)
    balances: list[Money]  # the owner's running balance per currency after this transaction
    counterparts: list[Counterpart]
    reverses_id: int | None
    memo: str | None = None  # these three: detail only
    subject: str | None = None
    legs: list[EntryLeg] | None = None


@dataclass(frozen=True)
class KindTotal:
    kind: str
    currency: str
    total: Money
    count: int


@dataclass(frozen=True)
class LedgerSummary:
    owner: OwnerInfo
    balances: list[Money]
    totals: list[KindTotal] = field(default_factory=list)
    transaction_count: int = 0


def owner_id_from_url(owner_id: str) -> str:
    return "" if owner_id == EMPTY_OWNER_ID else owner_id


def ledger_access(*, kind: str, owner_id: str, viewer: Any) -> LedgerAccess:
    """Who the owner is and how much this viewer may see; NotFound when it is unknown or not theirs to see.

    A private ledger answers exactly like a missing one, so outsiders cannot probe which persons exist.
    """
    owner = owner_describe(kind, owner_id)
    detail = owner is not None and owner_can_see_detail(kind, owner_id, viewer)
    if owner is None or not (owner.public or detail):
        raise NotFound("No public ledger here.", code="ledger_not_found")
    return LedgerAccess(owner=owner, detail=detail)


def _owner_legs(kind: str, owner_id: str) -> QuerySet[Leg]:
    return Leg.objects.filter(account__owner_kind=kind, account__owner_id=owner_id)


def owner_transactions(*, kind: str, owner_id: str) -> QuerySet[Transaction]:
    """The transactions with a leg on any of the owner's accounts, newest first."""
    touches = _owner_legs(kind, owner_id).filter(transaction=OuterRef("pk"))
    return Transaction.objects.filter(Exists(touches)).order_by("-posted_at", "-pk")


# The owner's net amount per transaction and currency, and the running balance after it: a window over all the
# owner's legs in posting order (the same order as the page, reversed), read back for the page's transactions.
_RUNNING_BALANCES = """
WITH net AS (
    SELECT leg.transaction_id, leg.currency, SUM(leg.amount) AS amount, txn.posted_at
    FROM ledger_leg leg
    JOIN ledger_account account ON account.id = leg.account_id
    JOIN ledger_transaction txn ON txn.id = leg.transaction_id
    WHERE account.owner_kind = %s AND account.owner_id = %s
    GROUP BY leg.transaction_id, leg.currency, txn.posted_at
), running AS (
    SELECT transaction_id, currency, amount,
           SUM(amount) OVER (PARTITION BY currency ORDER BY posted_at, transaction_id) AS balance
    FROM net
)
SELECT transaction_id, currency, amount, balance FROM running WHERE transaction_id = ANY(%s)
ORDER BY transaction_id, currency
"""


def ledger_entries(*, access: LedgerAccess, transactions: Sequence[Transaction]) -> list[LedgerEntry]:
    """Entries for a page of the owner's transactions (as `owner_transactions` gives them), in the same order.

    Three queries plus one per owner kind among the counterparts, whatever the page's length.
    """
    owner = access.owner
    ids = [txn.pk for txn in transactions]
    if not ids:
        return []
    nets: dict[int, list[Money]] = defaultdict(list)
    balances: dict[int, list[Money]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(_RUNNING_BALANCES, [owner.kind, owner.id, ids])
        for txn_id, currency, amount, balance in cursor.fetchall():
            nets[txn_id].append(Money(int(amount), currency))
            balances[txn_id].append(Money(int(balance), currency))
    legs_by_txn: dict[int, list[Leg]] = defaultdict(list)
    for leg in Leg.objects.filter(transaction_id__in=ids).select_related("account").order_by("transaction_id", "pk"):
        legs_by_txn[leg.transaction_id].append(leg)
    others = {
        (leg.account.owner_kind, leg.account.owner_id)
        for legs in legs_by_txn.values()
        for leg in legs
        if (leg.account.owner_kind, leg.account.owner_id) != (owner.kind, owner.id)
    }
    described = owners_describe(others)
    described[(owner.kind, owner.id)] = owner

    def label(kind: str, owner_id: str) -> OwnerInfo:
        return described.get((kind, owner_id)) or OwnerInfo(kind=kind, id=owner_id, label=kind.title(), public=False)

    entries = []
    for txn in transactions:
        legs = legs_by_txn[txn.pk]
        counterparts: dict[tuple[str, str], Counterpart] = {}
        for leg in legs:
            key = (leg.account.owner_kind, leg.account.owner_id)
            if key != (owner.kind, owner.id) and key not in counterparts:
                info = label(*key)
                counterparts[key] = Counterpart(label=info.label, url=info.url)
        entry = LedgerEntry(
            id=txn.pk,
            kind=txn.kind,
            posted_at=txn.posted_at,
            amounts=nets[txn.pk],
            balances=balances[txn.pk],
            counterparts=list(counterparts.values()),
            reverses_id=txn.reverses_id,
        )
        if access.detail:
            entry = replace(
                entry,
                memo=txn.memo,
                subject=f"{txn.subject_kind}:{txn.subject_id}" if txn.subject_kind else "",
                legs=[
                    EntryLeg(
                        owner=label(leg.account.owner_kind, leg.account.owner_id).label,
                        purpose=leg.account.purpose,
                        amount=Money(leg.amount, leg.currency),
                    )
                    for leg in legs
                ],
            )
        entries.append(entry)
    return entries


def ledger_summary(*, access: LedgerAccess) -> LedgerSummary:
    """The owner's balance per currency (derived from its legs) and its net movement per transaction kind."""
    owner = access.owner
    legs = _owner_legs(owner.kind, owner.id)
    balances = [
        Money(int(row["total"]), row["currency"])
        for row in legs.values("currency").annotate(total=Sum("amount")).order_by("currency")
    ]
    totals = [
        KindTotal(
            kind=row["transaction__kind"],
            currency=row["currency"],
            total=Money(int(row["total"]), row["currency"]),
            count=row["count"],
        )
        for row in legs.values("transaction__kind", "currency")
        .annotate(total=Sum("amount"), count=Count("transaction", distinct=True))
        .order_by("transaction__kind", "currency")
    ]
    count = legs.values("transaction").distinct().count()
    return LedgerSummary(owner=owner, balances=balances, totals=totals, transaction_count=count)
