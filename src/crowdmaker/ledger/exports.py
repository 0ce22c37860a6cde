"""`crowdmaker ledger export`: the ledger as CSV (one row per leg) or as a Beancount file `bean-check` accepts.

Amounts are exact decimals computed from integer minor units; no float is ever involved. Exports only read, in
one snapshot of the database (REPEATABLE READ, READ ONLY): a posting committed while an export runs is either
wholly in it (accounts, legs and balance assertions) or not at all, so bean-check never fails on a sound ledger.

Beancount mapping (the platform's own books). The ledger's sign says "adds to this account"; Beancount's says
debit. Every Beancount posting is the *negation* of its leg, and each account gets the root that makes the
resulting balances read naturally from the platform's side:
- gateway accounts (money held at the payment processor) are Assets: a capture of 100 EUR is +100 there;
- accounts of campaigns, projects, teams and persons are Liabilities: what the platform holds for them and
  owes them (the same capture is -100, a credit, in Liabilities:Campaign:7:Campaign-Escrow);
- platform accounts are Income when their purpose speaks of revenue, income or fees, Expenses when it speaks of
  expenses, costs or losses, and Assets otherwise (e.g. Income:Platform:Revenue for "platform-revenue").
Negating every leg keeps each transaction balanced per currency, so the whole file balances exactly as the
ledger does. Each account is opened, restricted to its currency, on the date it was created; after the last
transaction a `balance` assertion per account (with zero tolerance) checks the ledger's cached balance against
the postings. Names are <Root>:<Kind>:<Id>:<Purpose>, the purpose title-cased per hyphenated word and without
a leading "<kind>-" (Liabilities:Campaign:7:Escrow for a campaign's "campaign-escrow"); ids that are not valid
components get a hashed form. Two accounts that would share a name make the export fail rather than merge.

With `--owner kind:id` only that owner's legs are exported; each transaction then gets one counter-posting per
currency on Equity:External (everything outside that owner), so it still balances.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from typing import IO, Any

from django.core.management.base import CommandError
from django.db.models import QuerySet

from crowdmaker.ledger.models import Account, Leg, Transaction
from crowdmaker.ledger.money import CURRENCIES
from crowdmaker.ledger.selectors import read_snapshot

CSV_HEADER = ["transaction_id", "posted_at", "kind", "memo", "account", "currency", "amount", "amount_minor"]
EXTERNAL_ACCOUNT = "Equity:External"
# Legs are read in chunks so that an export of millions of legs runs in constant memory.
CHUNK_SIZE = 2000


def decimal_text(amount_minor: int, currency: str) -> str:
    """Minor units as an exact decimal string with the currency's number of digits ("-12.05")."""
    digits = CURRENCIES.get(currency, 2)
    sign = "-" if amount_minor < 0 else ""
    whole, minor = divmod(abs(amount_minor), 10**digits)
    return f"{sign}{whole}.{minor:0{digits}d}" if digits else f"{sign}{whole}"


def parse_owner(owner: str | None) -> tuple[str, str] | None:
    """'team:7' -> ("team", "7"); 'platform' (or 'platform:') -> ("platform", "")."""
    if owner is None:
        return None
    kind, sep, owner_id = owner.partition(":")
    if not re.fullmatch(r"[a-z][a-z0-9-]*", kind) or (not sep and kind != "platform"):
        raise CommandError(f"--owner must be kind:id (e.g. team:7, or platform), not {owner!r}.")
    return kind, owner_id


def account_label(owner_kind: str, owner_id: str, purpose: str) -> str:
    owner = f"{owner_kind}:{owner_id}" if owner_id else owner_kind
    return f"{owner}/{purpose}"


def _legs(owner: tuple[str, str] | None) -> QuerySet[Leg]:
    legs = Leg.objects.select_related("transaction", "account").order_by(
        "transaction__posted_at", "transaction_id", "pk"
    )
    if owner is not None:
        legs = legs.filter(account__owner_kind=owner[0], account__owner_id=owner[1])
    return legs


def _accounts(owner: tuple[str, str] | None) -> QuerySet[Account]:
    accounts = Account.objects.order_by("pk")
    if owner is not None:
        accounts = accounts.filter(owner_kind=owner[0], owner_id=owner[1])
    return accounts


# --- CSV -------------------------------------------------------------------------------------------------------


def write_csv(stream: IO[str], owner: tuple[str, str] | None = None) -> None:
    """One row per leg, in posting order, with the ledger's own signs (positive adds to the account)."""
    with read_snapshot():
        _write_csv_rows(stream, owner)


def _write_csv_rows(stream: IO[str], owner: tuple[str, str] | None) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for leg in _legs(owner).iterator(chunk_size=CHUNK_SIZE):
        txn, account = leg.transaction, leg.account
        writer.writerow(
            [
                txn.pk,
                txn.posted_at.isoformat(),
                txn.kind,
                txn.memo,
                account_label(account.owner_kind, account.owner_id, account.purpose),
                leg.currency,
                decimal_text(leg.amount, leg.currency),
                leg.amount,
            ]
        )


# --- Beancount -------------------------------------------------------------------------------------------------

# Beancount account components: a capital letter or digit, then letters, digits or hyphens.
_COMPONENT = re.compile(r"[A-Z0-9][A-Za-z0-9-]*")


def _component(text: str) -> str:
    """A valid Beancount account component for `text`; distinct texts always give distinct components."""
    candidate = "-".join(part[:1].upper() + part[1:] for part in text.split("-"))
    if _COMPONENT.fullmatch(candidate) and candidate.lower() == text.lower():
        return candidate
    cleaned = re.sub(r"[^A-Za-z0-9-]", "", text)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"X{cleaned[:1].upper()}{cleaned[1:]}-{digest}"


def beancount_root(owner_kind: str, purpose: str) -> str:
    if owner_kind == "gateway":
        return "Assets"
    if owner_kind == "platform":
        if any(word in purpose for word in ("expense", "cost", "loss")):
            return "Expenses"
        if any(word in purpose for word in ("revenue", "income", "fee")):
            return "Income"
        return "Assets"
    return "Liabilities"


def beancount_account(owner_kind: str, owner_id: str, purpose: str) -> str:
    """E.g. Liabilities:Team:3:Received, Assets:Gateway:Sandbox:Gateway-Clearing, Income:Platform:Revenue."""
    parts = [beancount_root(owner_kind, purpose), _component(owner_kind)]
    if owner_id:
        parts.append(_component(owner_id))
    # "platform-revenue" under Platform reads as Platform:Revenue; the owner's kind is not repeated.
    prefix = f"{owner_kind}-"
    parts.append(_component(purpose[len(prefix) :] if purpose.startswith(prefix) else purpose))
    return ":".join(parts)


def _string(text: str) -> str:
    one_line = " ".join(text.split())
    return '"' + one_line.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


@dataclass(frozen=True)
class _Opening:
    name: str
    currencies: tuple[str, ...]
    opened: date


def _transaction_lines(txn: Transaction, legs: list[Leg], owner: tuple[str, str] | None) -> Iterator[str]:
    yield f"{_day(txn.posted_at).isoformat()} * {_string(txn.kind)} {_string(txn.memo or txn.kind)}"
    yield f"  ledger-id: {_string(str(txn.pk))}"
    if txn.subject_kind:
        yield f"  subject: {_string(f'{txn.subject_kind}:{txn.subject_id}')}"
    if txn.reverses_id:
        yield f"  reverses: {_string(str(txn.reverses_id))}"
    external: dict[str, int] = {}
    for leg in legs:
        account = leg.account
        name = beancount_account(account.owner_kind, account.owner_id, account.purpose)
        yield f"  {name}  {decimal_text(-leg.amount, leg.currency)} {leg.currency}"
        external[leg.currency] = external.get(leg.currency, 0) + leg.amount
    if owner is not None:
        for currency, amount in sorted(external.items()):
            if amount:
                yield f"  {EXTERNAL_ACCOUNT}  {decimal_text(amount, currency)} {currency}"
    yield ""


def _beancount_lines(owner: tuple[str, str] | None) -> Iterator[str]:
    title = "Crowdmaker ledger" + (f" of {account_label(owner[0], owner[1], '')[:-1]}" if owner else "")
    yield f"option {_string('title')} {_string(title)}"
    yield ""
    accounts = list(_accounts(owner))
    first_posting = (
        Transaction.objects.filter(legs__account__in=accounts).order_by("posted_at").values_list("posted_at", flat=True)
    ).first()
    openings: dict[str, _Opening] = {}
    purposes: dict[str, set[tuple[str, str, str]]] = {}
    for account in accounts:
        name = beancount_account(account.owner_kind, account.owner_id, account.purpose)
        opened = _day(account.created_at)
        if first_posting is not None:
            opened = min(opened, _day(first_posting))
        known = openings.get(name)
        purposes.setdefault(name, set()).add((account.owner_kind, account.owner_id, account.purpose))
        if len(purposes[name]) > 1:
            raise CommandError(f"Two accounts would share the Beancount name {name}: {sorted(purposes[name])}.")
        currencies = tuple(sorted({account.currency, *(known.currencies if known else ())}))
        openings[name] = _Opening(name, currencies, min(opened, known.opened) if known else opened)
    if owner is not None and first_posting is not None:
        openings[EXTERNAL_ACCOUNT] = _Opening(EXTERNAL_ACCOUNT, (), _day(first_posting))
    for opening in sorted(openings.values(), key=lambda o: (o.opened, o.name)):
        yield f"{opening.opened.isoformat()} open {opening.name}  {','.join(opening.currencies)}".rstrip()
    yield ""

    last_day: date | None = None
    legs = _legs(owner).iterator(chunk_size=CHUNK_SIZE)
    for _, grouped in groupby(legs, key=lambda leg: leg.transaction_id):
        txn_legs = list(grouped)
        txn = txn_legs[0].transaction
        last_day = _day(txn.posted_at)
        yield from _transaction_lines(txn, txn_legs, owner)

    if last_day is not None:
        # Balances are asserted at the start of the day after the last posting, from the cached balances: an
        # account whose cache disagrees with its legs makes bean-check fail.
        checked = (last_day + timedelta(days=1)).isoformat()
        for account in accounts:
            name = beancount_account(account.owner_kind, account.owner_id, account.purpose)
            amount = decimal_text(-account.balance, account.currency)
            yield f"{checked} balance {name}  {amount} ~ 0 {account.currency}"  # exact: no tolerance


def write_beancount(stream: IO[str], owner: tuple[str, str] | None = None) -> None:
    with read_snapshot():
        for line in _beancount_lines(owner):
            stream.write(line + "\n")


WRITERS = {"csv": write_csv, "beancount": write_beancount}


def run_export(*, out: Any, err: Any, fmt: str, owner: str | None, output: str | None) -> None:
    """Write the export to `output` (a path) or to `out` (the command's standard output)."""
    selected = parse_owner(owner)
    writer = WRITERS.get(fmt)
    if writer is None:
        raise CommandError(f"Unknown export format {fmt!r}; use one of: {', '.join(WRITERS)}.")
    if output:
        with open(output, "w", encoding="utf-8", newline="") as stream:
            writer(stream, selected)
        err.write(f"Wrote the {fmt} export to {output}.\n")
    else:
        writer(out, selected)
