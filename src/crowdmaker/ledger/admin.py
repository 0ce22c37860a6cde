"""Operators' admin for the ledger: accounts with their balances, transactions with their legs, and legs.

Everything is read-only. Money moves only through `ledger.services.transaction_post`, and corrections are
reversing transactions, so the admin offers no add, change or delete, nor any action that writes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from crowdmaker.ledger.models import Account, Leg, Transaction
from crowdmaker.ledger.money import Money
from crowdmaker.ledger.selectors import account_balance_from_legs


class ReadOnlyAdmin(admin.ModelAdmin):
    """A view-only admin: operators look, the services write."""

    actions = None
    show_full_result_count = False  # one COUNT(*) per page of a filtered list, not two, on millions of legs

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _amount(amount: int, currency: str) -> str:
    return str(Money(amount, currency))


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "owner_kind", "owner_id", "purpose", "currency", "cached_balance", "allow_negative")
    list_filter = ("owner_kind", "purpose", "currency", "allow_negative")
    search_fields = ("owner_kind", "owner_id", "purpose")
    ordering = ("owner_kind", "owner_id", "purpose", "currency")
    fields = (
        "owner_kind",
        "owner_id",
        "purpose",
        "currency",
        "allow_negative",
        "cached_balance",
        "balance_from_legs",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="balance", ordering="balance")
    def cached_balance(self, account: Account) -> str:
        return _amount(account.balance, account.currency)

    @admin.display(description="balance from the legs")
    def balance_from_legs(self, account: Account) -> str:
        return str(account_balance_from_legs(account=account))


class LegInline(admin.TabularInline):
    model = Leg
    extra = 0
    fields = ("account", "signed_amount")
    readonly_fields = fields
    ordering = ("pk",)

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("account")

    @admin.display(description="amount")
    def signed_amount(self, leg: Leg) -> str:
        return _amount(leg.amount, leg.currency)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "subject", "memo", "reverses_id", "idempotency_key", "posted_at")
    list_filter = ("kind", "subject_kind", "posted_at")
    # Owner and purpose are those of the accounts the legs move money into.
    search_fields = (
        "kind",
        "memo",
        "subject_id",
        "idempotency_key",
        "legs__account__owner_id",
        "=legs__account__purpose",
    )
    date_hierarchy = "posted_at"
    ordering = ("-posted_at", "-id")
    fields = ("kind", "memo", "subject_kind", "subject_id", "idempotency_key", "reverses", "reversal", "posted_at")
    readonly_fields = fields
    inlines = (LegInline,)

    @admin.display(description="subject")
    def subject(self, posted: Transaction) -> str:
        return f"{posted.subject_kind}:{posted.subject_id}" if posted.subject_kind else ""

    @admin.display(description="reversed by")
    def reversal(self, posted: Transaction) -> str:
        reversal = Transaction.objects.filter(reverses=posted).first()
        return str(reversal) if reversal else ""


@admin.register(Leg)
class LegAdmin(ReadOnlyAdmin):
    list_display = ("id", "transaction", "account", "signed_amount")
    list_filter = ("currency", "account__owner_kind", "account__purpose", "transaction__kind")
    search_fields = ("account__owner_id", "=account__purpose", "=transaction__kind")
    list_select_related = ("transaction", "account")
    ordering = ("-id",)
    fields = ("transaction", "account", "signed_amount")
    readonly_fields = fields

    @admin.display(description="amount", ordering="amount")
    def signed_amount(self, leg: Leg) -> str:
        return _amount(leg.amount, leg.currency)
