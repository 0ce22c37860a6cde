"""Operators' admin for selection: read-only views of calls and submissions with their stored aggregates.

Everything here is written by `selection.services` (aggregates move with each vote and intent), so the admin
adds, changes and deletes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from crowdmaker.selection.models import OpenCall, Submission


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OpenCall)
class OpenCallAdmin(ReadOnlyAdmin):
    list_display = ("slug", "title", "organizer_team", "opens_at", "closes_at", "required_family", "threshold_kind",
                    "threshold", "currency", "prior_weight", "top_n")  # fmt: skip
    search_fields = ("slug", "title")
    ordering = ("-opens_at",)


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = ("id", "call", "design_version", "entered_by", "vote_count", "vote_sum", "intent_count",
                    "intent_value", "created_at")  # fmt: skip
    list_select_related = ("call", "design_version__design", "entered_by")
    search_fields = ("call__slug", "design_version__design__slug")
    ordering = ("-id",)
