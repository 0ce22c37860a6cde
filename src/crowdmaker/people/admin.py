"""Operators' admin for people: look up accounts, deactivate them, grant staff rights, inspect teams and tokens.

Accounts are created by sign-up or `crowdmaker createsuperuser`, teams by their makers: the admin edits only
the operator-owned flags and never shows a token's hash.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from crowdmaker.people.models import ApiToken, Membership, Profile, Team, TeamInvitation, User


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ("display_name", "bio", "links", "updated_at")
    readonly_fields = ("links", "updated_at")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("-date_joined",)
    list_display = ("handle", "email", "email_verified_at", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("handle", "email", "profile__display_name")
    # Verification is read-only: only the member's own link (or demo data) sets it, never an operator's click.
    readonly_fields = ("email", "handle", "email_verified_at", "date_joined", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "email_verified_at", "handle", "password")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("date_joined", "last_login")}),
    )
    inlines = (ProfileInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # people sign up themselves; operators use `crowdmaker createsuperuser`


class MembershipInline(admin.TabularInline):
    """Read-only: roles change and members leave only through the services, which keep a team's last owner."""

    model = Membership
    extra = 0
    fields = ("user", "role", "joined_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "created_by", "created_at")
    search_fields = ("slug", "name")
    readonly_fields = ("slug", "created_by", "created_at")
    inlines = (MembershipInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(TeamInvitation)
class TeamInvitationAdmin(admin.ModelAdmin):
    list_display = ("team", "invitee", "role", "status", "created_at", "expires_at")
    list_filter = ("status", "role")
    search_fields = ("team__slug", "invitee__handle")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "scope", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope",)
    search_fields = ("user__handle", "name", "prefix")
    fields = ("user", "name", "scope", "prefix", "created_at", "last_used_at", "revoked_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
