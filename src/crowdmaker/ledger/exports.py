"""`crowdmaker ledger export`: the ledger as CSV (one row per leg) or Beancount.

Amounts are written as exact decimals computed from integer minor units; no float is ever involved.
"""

from __future__ import annotations

import csv
from typing import IO, Any

from django.core.management.base import CommandError

from crowdmaker.ledger.models import Leg
from crowdmaker.ledger.money import CURRENCIES

CSV_HEADER = ["transaction_id", "posted_at", "kind", "memo", "account", "currency", "amount", "amount_minor"]


def decimal_text(amount_minor: int, currency: str) -> str:
    """Minor units as an exact decimal string with the currency's number of digits ("-12.05")."""
    digits = CURRENCIES.get(currency, 2)
    sign = "-" if amount_minor < 0 else ""
    whole, minor = divmod(abs(amount_minor), 10**digits)
    return f"{sign}{whole}.{minor:0{digits}d}" if digits else f"{sign}{whole}"


def parse_owner(owner: str | None) -> tuple[str, str] | None:
    if owner is None:
        return None
    kind, sep, owner_id = owner.partition(":")
    if not kind or (not sep and kind != "platform"):
        raise CommandError(f"--owner must be kind:id (e.g. team:7), not {owner!r}.")
    return kind, owner_id


def account_label(owner_kind: str, owner_id: str, purpose: str) -> str:
    return f"{owner_kind}:{owner_id}/{purpose}"


def write_csv(stream: IO[str], owner: tuple[str, str] | None = None) -> None:
    legs = Leg.objects.select_related("transaction", "account").order_by(
        "transaction__posted_at", "transaction_id", "pk"
    )
    if owner is not None:
        legs = legs.filter(account__owner_kind=owner[0], account__owner_id=owner[1])
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for leg in legs.iterator(chunk_size=2000):
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


def run_export(*, out: Any, err: Any, fmt: str, owner: str | None, output: str | None) -> None:
    """Write the export to `output` (a path) or to `out`."""
    selected = parse_owner(owner)
    writers = {"csv": write_csv}
    if fmt not in writers:
        raise CommandError(f"Unknown export format {fmt!r}.")
    if output:
        with open(output, "w", encoding="utf-8", newline="") as stream:
            writers[fmt](stream, selected)
        err.write(f"Wrote {output}\n")
    else:
        writers[fmt](out, selected)
