"""JSON API of the public ledger: an owner's transactions with running balances, and its summary.

Anyone may read a public owner's ledger, so this router is mounted (in config.api) with the API's own
authentication followed by `people.auth.anyone` (mounted in config/api.py): credentials that are sent are still checked (a bad token is a 401) and say
whether the caller sees full detail, and no credentials read as an anonymous visitor. An unknown or private owner
is a 404 `ledger_not_found`, alike, so nobody can probe who exists. Read-only; it never writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from crowdmaker.core.api import Cursor, ErrorOut
from crowdmaker.ledger import public
from crowdmaker.ledger.exports import decimal_text
from crowdmaker.ledger.models import Transaction
from crowdmaker.ledger.money import Money

router = Router(tags=["ledger"])


class LedgerMoneyOut(Schema):
    amount: str = Field(..., description="Exact decimal with the currency's minor-unit digits, e.g. '12.50'.")
    amount_minor: int = Field(..., description="The same amount in minor units (cents), as stored.")
    currency: str


class LedgerOwnerOut(Schema):
    kind: str
    id: str
    label: str = Field(..., description="A team's name; a person's pseudonym unless they chose to be shown.")
    public: bool
    url: str


class LedgerCounterpartOut(Schema):
    label: str
    url: str


class LedgerEntryLegOut(Schema):
    owner: str
    purpose: str
    amount: LedgerMoneyOut


class LedgerEntryOut(Schema):
    id: int
    kind: str
    posted_at: datetime
    amounts: list[LedgerMoneyOut] = Field(..., description="The owner's net amount in this transaction, per currency.")
    balances: list[LedgerMoneyOut] = Field(..., description="The owner's running balance after it, per currency.")
    counterparts: list[LedgerCounterpartOut]
    reverses: int | None = Field(None, description="The id of the transaction this one reverses.")
    memo: str | None = Field(None, description="Full detail only (the owner's people and operators).")
    subject: str | None = Field(None, description="Full detail only: what it belongs to, as kind:id.")
    legs: list[LedgerEntryLegOut] | None = Field(None, description="Full detail only: every leg.")


class LedgerKindTotalOut(Schema):
    kind: str
    total: LedgerMoneyOut
    count: int


class LedgerSummaryOut(Schema):
    owner: LedgerOwnerOut
    detail: bool = Field(..., description="Whether the caller sees full detail.")
    balances: list[LedgerMoneyOut]
    totals: list[LedgerKindTotalOut] = Field(..., description="Net amount and transaction count per kind.")
    transaction_count: int


PUBLIC_ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _money_out(money: Money) -> dict[str, Any]:
    return {
        "amount": decimal_text(money.amount, money.currency),
        "amount_minor": money.amount,
        "currency": money.currency,
    }


def _entry_out(entry: public.LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "posted_at": entry.posted_at,
        "amounts": [_money_out(money) for money in entry.amounts],
        "balances": [_money_out(money) for money in entry.balances],
        "counterparts": [{"label": c.label, "url": c.url} for c in entry.counterparts],
        "reverses": entry.reverses_id,
        "memo": entry.memo,
        "subject": entry.subject,
        "legs": None
        if entry.legs is None
        else [{"owner": leg.owner, "purpose": leg.purpose, "amount": _money_out(leg.amount)} for leg in entry.legs],
    }


def _ledger_access(request: HttpRequest, kind: str, owner_id: str) -> public.LedgerAccess:
    """The access of this request's caller, looked up once per request (the handler and its paginator ask)."""
    cache: dict[tuple[str, str], public.LedgerAccess] = request.__dict__.setdefault("_ledger_access", {})
    if (kind, owner_id) not in cache:
        cache[kind, owner_id] = public.ledger_access(
            kind=kind, owner_id=public.owner_id_from_url(owner_id), viewer=request.user
        )
    return cache[kind, owner_id]


class LedgerEntriesCursor(Cursor):
    """Cursor pages of an owner's transactions, each turned into a ledger entry in a fixed number of queries."""

    def paginate_queryset(self, queryset: QuerySet[Any], pagination: Any, request: HttpRequest, **params: Any) -> Any:
        page = super().paginate_queryset(queryset, pagination, request, **params)
        access = _ledger_access(request, params["kind"], params["owner_id"])
        page["results"] = [
            _entry_out(entry) for entry in public.ledger_entries(access=access, transactions=list(page["results"]))
        ]
        return page


@router.get(
    "/ledger/{kind}/{owner_id}/transactions",
    response={200: list[LedgerEntryOut], **PUBLIC_ERRORS},
    summary="An owner's public ledger: its transactions, newest first, with running balances",
    description=(
        "Readable without credentials for public owners (teams, campaigns, projects, the platform as `platform/-`). "
        "A person's ledger is visible to that person and to operators only. People appear under a pseudonym "
        "unless they chose to be shown. The owner's own people and operators also get memo, subject and legs."
    ),
)
@paginate(LedgerEntriesCursor, ordering=("-posted_at", "-id"))
def ledger_transactions(request: HttpRequest, kind: str, owner_id: str) -> QuerySet[Transaction]:
    access = _ledger_access(request, kind, owner_id)
    return public.owner_transactions(kind=access.owner.kind, owner_id=access.owner.id)


@router.get(
    "/ledger/{kind}/{owner_id}/summary",
    response={200: LedgerSummaryOut, **PUBLIC_ERRORS},
    summary="An owner's public ledger in brief: balance per currency and totals per kind",
)
def ledger_summary(request: HttpRequest, kind: str, owner_id: str) -> dict[str, Any]:
    access = _ledger_access(request, kind, owner_id)
    summary = public.ledger_summary(access=access)
    owner = summary.owner
    return {
        "owner": {"kind": owner.kind, "id": owner.id, "label": owner.label, "public": owner.public, "url": owner.url},
        "detail": access.detail,
        "balances": [_money_out(money) for money in summary.balances],
        "totals": [
            {"kind": total.kind, "total": _money_out(total.total), "count": total.count} for total in summary.totals
        ],
        "transaction_count": summary.transaction_count,
    }
