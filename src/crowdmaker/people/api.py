"""JSON API of `people`: the caller's account and profile, public profiles, teams, members, invitations and
the caller's API tokens. Handlers validate input and call one service or selector.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from crowdmaker.core.api import Cursor, ErrorOut, InputSchema
from crowdmaker.people import selectors, services
from crowdmaker.people.models import MAX_PROFILE_LINKS, Membership, Role, TeamInvitation, TokenScope, User

router = Router(tags=["people"])

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # the router's auth guarantees a signed-in account
    return user


# --- schemas -------------------------------------------------------------------------------------------------


class ProfileOut(Schema):
    handle: str
    display_name: str
    bio: str
    links: list[str]

    @staticmethod
    def resolve_display_name(user: User) -> str:
        return user.profile.display_name

    @staticmethod
    def resolve_bio(user: User) -> str:
        return user.profile.bio

    @staticmethod
    def resolve_links(user: User) -> list[str]:
        return list(user.profile.links)


class MeOut(ProfileOut):
    email: str
    date_joined: datetime
    show_on_public_ledgers: bool = Field(
        ..., description="Whether public ledgers show the caller's display name rather than a pseudonym."
    )
    email_verified: bool = Field(
        ..., description="Whether the caller opened the verification link mailed to `email` (needed to vote)."
    )

    @staticmethod
    def resolve_show_on_public_ledgers(user: User) -> bool:
        return user.profile.show_on_public_ledgers

    @staticmethod
    def resolve_email_verified(user: User) -> bool:
        return user.email_verified_at is not None


class EmailVerificationOut(Schema):
    sent_to: str = Field(..., description="The address the verification link is being mailed to.")


class ProfileIn(InputSchema):
    display_name: str | None = Field(None, min_length=1, max_length=80)
    bio: str | None = Field(None, max_length=2000)
    links: list[str] | None = Field(None, max_length=MAX_PROFILE_LINKS)
    show_on_public_ledgers: bool | None = Field(
        None, description="Show your display name on public ledgers (otherwise a pseudonym)."
    )


class TeamOut(Schema):
    slug: str
    name: str
    description: str
    created_at: datetime
    member_count: int


class TeamIn(InputSchema):
    slug: str = Field(..., min_length=2, max_length=50, description="Lowercase letters, digits, hyphens.")
    name: str = Field(..., min_length=1, max_length=80)
    description: str = Field("", max_length=2000)


class TeamPatch(InputSchema):
    name: str | None = Field(None, min_length=1, max_length=80)
    description: str | None = Field(None, max_length=2000)


class MemberOut(Schema):
    handle: str
    display_name: str
    role: Role
    joined_at: datetime

    @staticmethod
    def resolve_handle(membership: Membership) -> str:
        return membership.user.handle

    @staticmethod
    def resolve_display_name(membership: Membership) -> str:
        return membership.user.profile.display_name


class MembershipOut(Schema):
    team: str
    team_name: str
    role: Role

    @staticmethod
    def resolve_team(membership: Membership) -> str:
        return membership.team.slug

    @staticmethod
    def resolve_team_name(membership: Membership) -> str:
        return membership.team.name


class MemberPatch(InputSchema):
    role: Role


class InvitationIn(InputSchema):
    handle: str = Field(..., min_length=1, max_length=30, description="Handle of the maker to invite.")
    role: Role = Role.MEMBER


class InvitationOut(Schema):
    id: int
    team: str
    team_name: str
    invitee: str
    invited_by: str
    role: Role
    status: str
    created_at: datetime
    expires_at: datetime

    @staticmethod
    def resolve_team(invitation: TeamInvitation) -> str:
        return invitation.team.slug

    @staticmethod
    def resolve_team_name(invitation: TeamInvitation) -> str:
        return invitation.team.name

    @staticmethod
    def resolve_invitee(invitation: TeamInvitation) -> str:
        return invitation.invitee.handle

    @staticmethod
    def resolve_invited_by(invitation: TeamInvitation) -> str:
        return invitation.invited_by.handle


class TokenOut(Schema):
    id: int
    name: str
    scope: TokenScope
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


# --- the caller ------------------------------------------------------------------------------------------------


@router.get("/me", response={200: MeOut, **ERRORS}, summary="The signed-in account and its profile")
def me(request: HttpRequest) -> User:
    return selectors.user_by_handle(handle=_actor(request).handle)


@router.patch("/me/profile", response={200: MeOut, **ERRORS}, summary="Edit the caller's public profile")
def me_profile_update(request: HttpRequest, payload: ProfileIn) -> User:
    actor = _actor(request)
    services.profile_update(
        user=actor,
        display_name=payload.display_name,
        bio=payload.bio,
        links=payload.links,
        show_on_public_ledgers=payload.show_on_public_ledgers,
    )
    return selectors.user_by_handle(handle=actor.handle)


@router.post(
    "/me/email-verification",
    response={202: EmailVerificationOut, 429: ErrorOut, **ERRORS},
    summary="Mail the caller a new e-mail verification link (throttled per address)",
)
def me_email_verification(request: HttpRequest) -> Status:
    actor = _actor(request)
    services.email_verification_send(user=actor)
    return Status(202, {"sent_to": actor.email})


@router.get(
    "/me/teams",
    response={200: list[MembershipOut], **ERRORS},
    summary="Teams the caller belongs to, in the order joined",
)
@paginate(Cursor, ordering=("id",))
def me_teams(request: HttpRequest) -> object:
    return selectors.teams_of(user=_actor(request))


@router.get(
    "/me/invitations",
    response={200: list[InvitationOut], **ERRORS},
    summary="The caller's pending invitations, newest first",
)
@paginate(Cursor, ordering=("-id",))
def me_invitations(request: HttpRequest) -> object:
    return selectors.invitations_for(user=_actor(request)).select_related("invitee")


@router.post(
    "/me/invitations/{invitation_id}/accept",
    response={200: MembershipOut, **ERRORS},
    summary="Accept an invitation and join the team",
)
def invitation_accept(request: HttpRequest, invitation_id: int) -> object:
    return services.team_invitation_accept(actor=_actor(request), invitation_id=invitation_id)


@router.post(
    "/me/invitations/{invitation_id}/decline", response={200: InvitationOut, **ERRORS}, summary="Decline an invitation"
)
def invitation_decline(request: HttpRequest, invitation_id: int) -> object:
    return services.team_invitation_decline(actor=_actor(request), invitation_id=invitation_id)


@router.get(
    "/me/tokens", response={200: list[TokenOut], **ERRORS}, summary="The caller's API tokens (never the secret)"
)
@paginate(Cursor, ordering=("-id",))
def tokens_list(request: HttpRequest) -> object:
    return selectors.api_tokens_of(user=_actor(request))


@router.delete("/me/tokens/{token_id}", response={200: TokenOut, **ERRORS}, summary="Revoke one of the caller's tokens")
def token_revoke(request: HttpRequest, token_id: int) -> object:
    return services.api_token_revoke(actor=_actor(request), token_id=token_id)


# --- makers and teams ------------------------------------------------------------------------------------------


@router.get("/makers/{handle}", response={200: ProfileOut, **ERRORS}, summary="A maker's public profile")
def maker_detail(request: HttpRequest, handle: str) -> User:
    return selectors.user_by_handle(handle=handle)


@router.get(
    "/makers/{handle}/teams",
    response={200: list[MembershipOut], **ERRORS},
    summary="A maker's teams, in the order joined",
)
@paginate(Cursor, ordering=("id",))
def maker_teams(request: HttpRequest, handle: str) -> object:
    return selectors.teams_of(user=selectors.user_by_handle(handle=handle))


@router.get("/teams", response={200: list[TeamOut], **ERRORS}, summary="All teams, oldest first")
@paginate(Cursor)
def teams_list(request: HttpRequest) -> object:
    return selectors.teams_all()


@router.post("/teams", response={201: TeamOut, **ERRORS}, summary="Create a team; the caller becomes its owner")
def team_create(request: HttpRequest, payload: TeamIn) -> Status:
    team = services.team_create(
        actor=_actor(request), slug=payload.slug, name=payload.name, description=payload.description
    )
    return Status(201, selectors.team_by_slug(slug=team.slug))


@router.get("/teams/{slug}", response={200: TeamOut, **ERRORS}, summary="A team's public page")
def team_detail(request: HttpRequest, slug: str) -> object:
    return selectors.team_by_slug(slug=slug)


@router.patch("/teams/{slug}", response={200: TeamOut, **ERRORS}, summary="Edit a team (owners, maintainers)")
def team_update(request: HttpRequest, slug: str, payload: TeamPatch) -> object:
    team = selectors.team_by_slug(slug=slug)
    services.team_update(actor=_actor(request), team=team, name=payload.name, description=payload.description)
    return selectors.team_by_slug(slug=slug)


@router.get("/teams/{slug}/members", response={200: list[MemberOut], **ERRORS}, summary="A team's members")
@paginate(Cursor)
def team_members(request: HttpRequest, slug: str) -> object:
    return selectors.team_members(team=selectors.team_by_slug(slug=slug))


@router.patch(
    "/teams/{slug}/members/{handle}", response={200: MemberOut, **ERRORS}, summary="Change a member's role (owners)"
)
def team_member_update(request: HttpRequest, slug: str, handle: str, payload: MemberPatch) -> object:
    team = selectors.team_by_slug(slug=slug)
    return services.team_member_change_role(actor=_actor(request), team=team, member_handle=handle, role=payload.role)


@router.delete(
    "/teams/{slug}/members/{handle}",
    response={204: None, **ERRORS},
    summary="Remove a member (owners) or leave the team (yourself)",
)
def team_member_remove(request: HttpRequest, slug: str, handle: str) -> Status:
    team = selectors.team_by_slug(slug=slug)
    services.team_member_remove(actor=_actor(request), team=team, member_handle=handle)
    return Status(204, None)


@router.get(
    "/teams/{slug}/invitations",
    response={200: list[InvitationOut], **ERRORS},
    summary="Pending invitations, newest first (owners, maintainers)",
)
@paginate(Cursor, ordering=("-id",))
def team_invitations(request: HttpRequest, slug: str) -> object:
    return selectors.team_invitations_pending_for(team=selectors.team_by_slug(slug=slug), viewer=_actor(request))


@router.post(
    "/teams/{slug}/invitations", response={201: InvitationOut, **ERRORS}, summary="Invite a maker into the team"
)
def team_invitation_create(request: HttpRequest, slug: str, payload: InvitationIn) -> Status:
    team = selectors.team_by_slug(slug=slug)
    invitation = services.team_invitation_create(
        actor=_actor(request), team=team, invitee_handle=payload.handle, role=payload.role
    )
    return Status(201, invitation)


@router.delete(
    "/teams/{slug}/invitations/{invitation_id}",
    response={200: InvitationOut, **ERRORS},
    summary="Revoke a pending invitation (owners, maintainers)",
)
def team_invitation_revoke(request: HttpRequest, slug: str, invitation_id: int) -> object:
    team = selectors.team_by_slug(slug=slug)
    return services.team_invitation_revoke(actor=_actor(request), team=team, invitation_id=invitation_id)
