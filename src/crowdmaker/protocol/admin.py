"""Operators' admin for the interface registry: interface types and their versions, read-only.

Proposals and decisions go through `protocol.services` (and the API), which keep the history; the admin
offers no add, change, delete or write action.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from crowdmaker.protocol.models import InterfaceType, InterfaceVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InterfaceVersionInline(admin.TabularInline):
    model = InterfaceVersion
    fields = ("version", "status", "dimensions", "changelog", "proposed_by", "created_at", "decided_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("id",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(InterfaceType)
class InterfaceTypeAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "proposed_by", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "description")
    list_select_related = ("proposed_by",)
    fields = ("name", "kind", "description", "proposed_by", "created_at")
    readonly_fields = fields
    inlines = (InterfaceVersionInline,)


@admin.register(InterfaceVersion)
class InterfaceVersionAdmin(ReadOnlyAdmin):
    list_display = ("interface", "version", "status", "proposed_by", "created_at", "decided_at")
    list_filter = ("status", "interface__kind")
    search_fields = ("interface__name", "version")
    list_select_related = ("interface", "proposed_by")
    fields = ("interface", "version", "status", "dimensions", "changelog", "proposed_by", "created_at", "decided_at")
    readonly_fields = fields
