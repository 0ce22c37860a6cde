"""Reads of `people`: profiles, teams and their members, invitations, tokens and e-mail verification links,
shaped for pages and API."""

from __future__ import annotations

import re

from django.db.models import Count, QuerySet

from crowdmaker.core.errors import Forbidden, Invalid, NotFound
from crowdmaker.people import verification_tokens
from crowdmaker.people.models import (
    HANDLE_PATTERN,
    SLUG_PATTERN,
    ApiToken,
    InvitationStatus,
    Membership,
    Role,
    Team,
    TeamInvitation,
    User,
)


def user_by_handle(*, handle: str) -> User:
    handle = handle.lower()
    # A string that cannot be a handle names no one; it never reaches the database (a NUL would break the query).
    user = None
    if re.fullmatch(HANDLE_PATTERN, handle):
        user = User.objects.select_related("profile").filter(handle=handle, is_active=True).first()
    if user is None:
        raise NotFound("No maker has this handle.")
    return user


def makers_recent(*, limit: int = 8) -> QuerySet[User]:
    return User.objects.select_related("profile").filter(is_active=True).order_by("-date_joined")[:limit]


def teams_all() -> QuerySet[Team]:
    return Team.objects.annotate(member_count=Count("memberships"))


def teams_recent(*, limit: int = 8) -> QuerySet[Team]:
    return teams_all().order_by("-created_at")[:limit]


def team_by_slug(*, slug: str) -> Team:
    slug = slug.lower()
    team = teams_all().filter(slug=slug).first() if re.fullmatch(SLUG_PATTERN, slug) else None
    if team is None:
        raise NotFound("No team has this address.")
    return team


def team_members(*, team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user__profile")


def teams_of(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("team").order_by("team__name")


def team_role(*, team: Team, user: User) -> str | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(team=team, user=user).values_list("role", flat=True).first()


def team_can_manage(*, role: str | None) -> bool:
    return role in (Role.OWNER, Role.MAINTAINER)


def team_invitations_pending(*, team: Team) -> QuerySet[TeamInvitation]:
    return TeamInvitation.objects.filter(team=team, status=InvitationStatus.PENDING).select_related(
        "invitee__profile", "invited_by"
    )


def team_invitations_pending_for(*, team: Team, viewer: User) -> QuerySet[TeamInvitation]:
    """The team's pending invitations, which only its owners and maintainers may see."""
    if not team_can_manage(role=team_role(team=team, user=viewer)):
        raise Forbidden("Only owners and maintainers may see the team's invitations.", code="role_required")
    return team_invitations_pending(team=team).select_related("team")


def invitations_for(*, user: User) -> QuerySet[TeamInvitation]:
    return (
        TeamInvitation.objects.filter(invitee=user, status=InvitationStatus.PENDING)
        .select_related("team", "invited_by__profile")
        .order_by("-created_at")
    )


def api_tokens_of(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def profile_with_teams(*, handle: str) -> tuple[User, list[Membership]]:
    user = user_by_handle(handle=handle)
    memberships = list(teams_of(user=user))
    return user, memberships


def email_verification_user(*, token: str) -> User:
    """The active account a genuine, unexpired verification token names, if it was mailed to the current address.

    Raises `Invalid`: `verification_link_invalid` (forged, mangled, or its account is gone),
    `verification_link_expired`, or `verification_email_changed` (mailed to an address the account no longer has).
    """
    user_id, digest = verification_tokens.email_verification_read(token)
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise Invalid(verification_tokens.INVALID_MESSAGE, code="verification_link_invalid")
    if not verification_tokens.address_matches(digest, user.email):
        raise Invalid(
            "This link was mailed to an address your account no longer uses. Ask for a new one from your settings.",
            code="verification_email_changed",
        )
    return user
