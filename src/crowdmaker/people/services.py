"""Every write of `people`: sign-up, e-mail verification, profiles, teams and their members and invitations,
API tokens.

Each service is atomic, keyword-only and raises a `core.errors.DomainError` for a refusal, having changed
nothing. Notifications go out only after commit, from tasks, never in the request.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from crowdmaker.core import sql
from crowdmaker.core.errors import Conflict, Forbidden, Invalid, NotFound, Throttled
from crowdmaker.core.services import throttle_key, throttle_take
from crowdmaker.core.text import clean_text, refuse_control_characters
from crowdmaker.people import selectors, tasks
from crowdmaker.people.models import (
    BIO_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    HANDLE_HELP,
    HANDLE_PATTERN,
    MAX_PROFILE_LINKS,
    SLUG_HELP,
    SLUG_PATTERN,
    ApiToken,
    InvitationStatus,
    Membership,
    Profile,
    Role,
    Team,
    TeamInvitation,
    TokenScope,
    User,
)

TOKEN_PREFIX = "cm_"  # noqa: S105 - a marker that tells our tokens apart, not a secret
INVITATION_LIFETIME = timedelta(days=14)
# Throttle scope of verification mails; the key is a hash of the address mailed, never the address itself.
EMAIL_VERIFICATION_BY_ADDRESS = "email_verification_address"


# --- accounts and profiles -------------------------------------------------------------------------------


def _clean_handle(handle: str, *, field: str = "handle", pattern: str = HANDLE_PATTERN, help: str = HANDLE_HELP) -> str:
    handle = handle.strip().lower()
    if not re.fullmatch(pattern, handle):
        raise Invalid(help, field=field)
    return handle


def _clean_email(email: str) -> str:
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise Invalid("Enter a valid e-mail address.", field="email") from exc
    # Lowercase whole: no mail provider in practice tells Ada@ from ada@, and people mistype the case.
    return email.lower()


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    handle: str,
    display_name: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    """Create an account and its public profile; refuse a taken e-mail or handle, or a weak password."""
    email = _clean_email(email)
    handle = _clean_handle(handle)
    display_name = clean_text(display_name or handle, field="display_name", max_length=80, required=True)
    user = User(email=email, handle=handle, is_staff=is_staff, is_superuser=is_superuser)
    if password is None:
        user.set_unusable_password()
    else:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise Invalid(" ".join(exc.messages), field="password") from exc
        user.set_password(password)
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict("An account with this e-mail address exists already.", code="email_taken", field="email")
    if User.objects.filter(handle=handle).exists():
        raise Conflict("This handle is taken.", code="handle_taken", field="handle")
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent sign-up won the race
        raise Conflict("This e-mail address or handle is taken.", code="account_taken", field="email") from exc
    Profile.objects.create(user=user, display_name=display_name)
    return user


@transaction.atomic
def user_signup(*, email: str, password: str, handle: str, display_name: str = "") -> tuple[User, bool]:
    """Create an account from the sign-up form and mail it a verification link (after commit).

    Returns the account and whether the mail is going out: it is not for an address mailed many times in the
    window (an account deleted and signed up again); the account stands all the same, and the notice on its
    settings page offers a new link.
    """
    user = user_create(email=email, password=password, handle=handle, display_name=display_name)
    try:
        email_verification_send(user=user)
    except Throttled:
        return user, False
    return user, True


# --- e-mail verification -------------------------------------------------------------------------------------


def _verification_throttle_message() -> str:
    minutes = max(1, math.ceil(settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS / 60))
    return (
        "A verification link was mailed to this address several times lately; look for it in your inbox and "
        f"spam folder, or ask again in {minutes} minute{'s' if minutes != 1 else ''}."
    )


@transaction.atomic
def email_verification_send(*, user: User) -> None:
    """Mail `user` a link that verifies their current address; refuse a verified account, or too many mails.

    Every mail to an address takes a throttle slot (sign-up's too), so no one can flood an inbox by pressing
    "resend". The link itself is made by the task when it sends, for the address the account has then.
    """
    current = User.objects.filter(pk=user.pk, is_active=True).first()
    if current is None:
        raise NotFound("No such account.")
    if current.email_verified_at is not None:
        raise Conflict("Your e-mail address is verified already.", code="email_verified_already")
    throttle_take(
        scope=EMAIL_VERIFICATION_BY_ADDRESS,
        key=throttle_key(current.email),
        limit=settings.CROWDMAKER_VERIFICATION_MAILS_PER_WINDOW,
        message=_verification_throttle_message(),
    )
    transaction.on_commit(lambda: tasks.email_verification_mail_send.enqueue(user_id=current.pk))


@transaction.atomic
def email_verify(*, token: str) -> tuple[User, bool]:
    """Mark the address a verification link names as verified; return the account and whether it was just now.

    A second use of a link (or of another link for the same address) changes nothing and returns False. A
    forged, expired or outdated link raises `Invalid` (see `selectors.email_verification_user`).
    """
    user = selectors.email_verification_user(token=token)
    if user.email_verified_at is not None:
        return user, False
    now = timezone.now()
    # Conditional on the address and on not being verified yet, so two clicks at once verify exactly once.
    updated = User.objects.filter(pk=user.pk, email=user.email, email_verified_at__isnull=True).update(
        email_verified_at=now
    )
    if updated:
        user.email_verified_at = now
        return user, True
    return selectors.email_verification_user(token=token), False  # refuses if the address changed meanwhile


@transaction.atomic
def email_verified_set(*, user: User) -> bool:
    """Mark `user`'s address verified without a link (demo data, operators); False if it was already."""
    now = timezone.now()
    updated = User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=now)
    if updated:
        user.email_verified_at = now
    return bool(updated)


def _clean_links(links: list[str]) -> list[str]:
    if len(links) > MAX_PROFILE_LINKS:
        raise Invalid(f"At most {MAX_PROFILE_LINKS} links, please.", field="links")
    validate_url = URLValidator(schemes=["http", "https"])
    cleaned = []
    for position, link in enumerate(links):
        link = link.strip()
        if not link:
            continue
        if len(link) > 300:
            raise Invalid("A link may have at most 300 characters.", field=f"links.{position}")
        refuse_control_characters(link, field=f"links.{position}")
        try:
            validate_url(link)
        except ValidationError as exc:
            raise Invalid(f"Not a web address (http or https): {link}", field=f"links.{position}") from exc
        cleaned.append(link)
    return cleaned


@transaction.atomic
def profile_update(
    *,
    user: User,
    display_name: str | None = None,
    bio: str | None = None,
    links: list[str] | None = None,
    show_on_public_ledgers: bool | None = None,
) -> Profile:
    """Change the fields given (None leaves a field as it is)."""
    profile = Profile.objects.select_for_update().get(user=user)
    if display_name is not None:
        profile.display_name = clean_text(display_name, field="display_name", max_length=80, required=True)
    if bio is not None:
        profile.bio = clean_text(bio, field="bio", max_length=BIO_MAX_LENGTH, multiline=True)
    if links is not None:
        profile.links = _clean_links(links)
    if show_on_public_ledgers is not None:
        profile.show_on_public_ledgers = bool(show_on_public_ledgers)
    profile.save()
    return profile


# --- teams ---------------------------------------------------------------------------------------------------


# Lock order, everywhere: an invitation (if any), then the team row, then membership rows in primary-key order.
# A role check takes the same locks as a role change or removal, so it cannot act on a role that is going away.


def _lock_role(team: Team, actor: User, allowed: set[str], message: str) -> tuple[Team, str]:
    """Lock the team, then the actor's membership; refuse unless the actor holds one of the `allowed` roles."""
    locked = Team.objects.select_for_update().filter(pk=team.pk).first()
    if locked is None:
        raise NotFound("No team has this address.")
    role = Membership.objects.select_for_update().filter(team=locked, user=actor).values_list("role", flat=True).first()
    if role is None:
        # Outsiders learn nothing about a team's internals beyond what its public page shows.
        raise Forbidden("Only members of this team may do that.", code="not_a_member")
    if role not in allowed:
        raise Forbidden(message, code="role_required")
    return locked, role


def _clean_role(role: str) -> str:
    if role not in Role.values:
        raise Invalid(f"Role must be one of: {', '.join(Role.values)}.", field="role")
    return role


@transaction.atomic
def team_create(*, actor: User, slug: str, name: str, description: str = "") -> Team:
    slug = _clean_handle(slug, field="slug", pattern=SLUG_PATTERN, help=SLUG_HELP)
    name = clean_text(name, field="name", max_length=80, required=True)
    description = clean_text(description, field="description", max_length=DESCRIPTION_MAX_LENGTH, multiline=True)
    if Team.objects.filter(slug=slug).exists():
        raise Conflict("A team with this address exists already.", code="slug_taken", field="slug")
    try:
        with transaction.atomic():
            team = Team.objects.create(slug=slug, name=name, description=description, created_by=actor)
    except IntegrityError as exc:
        raise Conflict("A team with this address exists already.", code="slug_taken", field="slug") from exc
    Membership.objects.create(team=team, user=actor, role=Role.OWNER)
    return team


@transaction.atomic
def team_update(*, actor: User, team: Team, name: str | None = None, description: str | None = None) -> Team:
    team, _ = _lock_role(team, actor, {Role.OWNER, Role.MAINTAINER}, "Only owners and maintainers may edit the team.")
    if name is not None:
        team.name = clean_text(name, field="name", max_length=80, required=True)
    if description is not None:
        team.description = clean_text(
            description, field="description", max_length=DESCRIPTION_MAX_LENGTH, multiline=True
        )
    team.save(update_fields=["name", "description"])
    return team


@transaction.atomic
def team_invitation_create(*, actor: User, team: Team, invitee_handle: str, role: str) -> TeamInvitation:
    """Invite an existing account. Owners may offer any role; maintainers may invite members only."""
    role = _clean_role(role)
    team, actor_role = _lock_role(
        team, actor, {Role.OWNER, Role.MAINTAINER}, "Only owners and maintainers may invite people."
    )
    if actor_role == Role.MAINTAINER and role != Role.MEMBER:
        raise Forbidden("Maintainers may invite members only; ask an owner.", code="role_required", field="role")
    invitee_handle = invitee_handle.strip().lower()
    invitee = None
    if re.fullmatch(HANDLE_PATTERN, invitee_handle):
        invitee = User.objects.filter(handle=invitee_handle, is_active=True).first()
    if invitee is None:
        raise NotFound("No maker has this handle.", field="handle")
    if Membership.objects.filter(team=team, user=invitee).exists():
        raise Conflict("This maker is a member already.", code="already_member", field="handle")
    now = timezone.now()
    if TeamInvitation.objects.filter(team=team, invitee=invitee, status=InvitationStatus.PENDING).exists():
        raise Conflict("This maker has a pending invitation already.", code="already_invited", field="handle")
    try:
        with transaction.atomic():
            invitation = TeamInvitation.objects.create(
                team=team, invitee=invitee, invited_by=actor, role=role, expires_at=now + INVITATION_LIFETIME
            )
    except IntegrityError as exc:
        raise Conflict("This maker has a pending invitation already.", code="already_invited", field="handle") from exc
    # The e-mail goes out from a task, never in the request: a mail server's hiccup cannot fail the invitation.
    transaction.on_commit(lambda: tasks.invitation_email_send.enqueue(invitation_id=invitation.pk))
    return invitation


def _pending_invitation_for_update(invitation_id: int) -> TeamInvitation:
    invitation = TeamInvitation.objects.select_for_update().select_related("team").filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound("No such invitation.")
    return invitation


def _close(invitation: TeamInvitation, status: str) -> None:
    invitation.status = status
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at"])


@transaction.atomic
def team_invitation_accept(*, actor: User, invitation_id: int) -> Membership:
    invitation = _pending_invitation_for_update(invitation_id)
    if invitation.invitee_id != actor.pk:
        raise NotFound("No such invitation.")
    if invitation.status != InvitationStatus.PENDING:
        raise Conflict(f"This invitation is {invitation.status}.", code="invitation_closed")
    if invitation.expires_at <= timezone.now():
        # Not marked expired here: the refusal rolls this transaction back; `team_invitations_expire` closes it.
        raise Conflict("This invitation has expired.", code="invitation_closed")
    _close(invitation, InvitationStatus.ACCEPTED)
    return team_member_add(team=invitation.team, user=actor, role=invitation.role)


@transaction.atomic
def team_member_add(*, team: Team, user: User, role: str) -> Membership:
    """Make `user` a member (no permission check: callers are an accepted invitation, demo data, operators)."""
    role = _clean_role(role)
    membership, _ = Membership.objects.get_or_create(team=team, user=user, defaults={"role": role})
    return membership


@transaction.atomic
def team_invitation_decline(*, actor: User, invitation_id: int) -> TeamInvitation:
    invitation = _pending_invitation_for_update(invitation_id)
    if invitation.invitee_id != actor.pk:
        raise NotFound("No such invitation.")
    if invitation.status != InvitationStatus.PENDING:
        raise Conflict(f"This invitation is {invitation.status}.", code="invitation_closed")
    _close(invitation, InvitationStatus.DECLINED)
    return invitation


@transaction.atomic
def team_invitation_revoke(*, actor: User, team: Team, invitation_id: int) -> TeamInvitation:
    invitation = _pending_invitation_for_update(invitation_id)
    if invitation.team_id != team.pk:
        raise NotFound("No such invitation.")
    _lock_role(
        invitation.team, actor, {Role.OWNER, Role.MAINTAINER}, "Only owners and maintainers may revoke invitations."
    )
    if invitation.status != InvitationStatus.PENDING:
        raise Conflict(f"This invitation is {invitation.status}.", code="invitation_closed")
    _close(invitation, InvitationStatus.REVOKED)
    return invitation


@transaction.atomic
def team_invitations_expire(*, now: datetime | None = None) -> int:
    """Close pending invitations past their expiry; running it again finds nothing left to do."""
    now = now or timezone.now()
    return TeamInvitation.objects.filter(status=InvitationStatus.PENDING, expires_at__lte=now).update(
        status=InvitationStatus.EXPIRED, responded_at=now
    )


def _lock_memberships(team: Team) -> dict[int, Membership]:
    """Lock the team's membership rows in primary-key order, so owner counts cannot race."""
    Team.objects.select_for_update().filter(pk=team.pk).first()
    memberships = (
        Membership.objects.select_for_update(of=("self",)).select_related("user").filter(team=team).order_by("pk")
    )
    return {m.user_id: m for m in memberships}


def _member_by_handle(memberships: dict[int, Membership], handle: str) -> Membership:
    handle = handle.strip().lower()
    target = next((m for m in memberships.values() if m.user.handle == handle), None)
    if target is None:
        raise NotFound("This maker is not a member of the team.", field="handle")
    return target


@transaction.atomic
def team_member_change_role(*, actor: User, team: Team, member_handle: str, role: str) -> Membership:
    role = _clean_role(role)
    memberships = _lock_memberships(team)
    acting = memberships.get(actor.pk)
    if acting is None:
        raise Forbidden("Only members of this team may do that.", code="not_a_member")
    if acting.role != Role.OWNER:
        raise Forbidden("Only owners may change roles.", code="role_required")
    target = _member_by_handle(memberships, member_handle)
    owners = sum(1 for m in memberships.values() if m.role == Role.OWNER)
    if target.role == Role.OWNER and role != Role.OWNER and owners == 1:
        raise Conflict("A team needs at least one owner; make someone else owner first.", code="last_owner")
    target.role = role
    target.save(update_fields=["role"])
    return target


@transaction.atomic
def team_member_remove(*, actor: User, team: Team, member_handle: str) -> None:
    """Owners remove anyone; anyone may leave. The last owner can do neither to themself."""
    memberships = _lock_memberships(team)
    acting = memberships.get(actor.pk)
    if acting is None:
        raise Forbidden("Only members of this team may do that.", code="not_a_member")
    target = _member_by_handle(memberships, member_handle)
    if target.pk != acting.pk and acting.role != Role.OWNER:
        raise Forbidden("Only owners may remove other members.", code="role_required")
    owners = sum(1 for m in memberships.values() if m.role == Role.OWNER)
    if target.role == Role.OWNER and owners == 1:
        raise Conflict("A team needs at least one owner; make someone else owner first.", code="last_owner")
    target.delete()


# --- API tokens ----------------------------------------------------------------------------------------------


def _token_digest(raw_token: str) -> str:
    # Tokens carry 240 random bits, so a fast hash is enough: no one can brute-force the pre-image.
    return hashlib.sha256(raw_token.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str, scope: str) -> tuple[ApiToken, str]:
    """Create a token and return it with the raw token, which is never stored and never shown again."""
    name = clean_text(name, field="name", max_length=80, required=True)
    if scope not in TokenScope.values:
        raise Invalid(f"Scope must be one of: {', '.join(TokenScope.values)}.", field="scope")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(30)
    token = ApiToken.objects.create(user=user, name=name, scope=scope, prefix=raw[:10], token_hash=_token_digest(raw))
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: User, token_id: int) -> ApiToken:
    """Revoke one of the actor's own tokens. Another user's token is reported as not found."""
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user=actor).first()
    if token is None:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


# The active token of a hash with its user, in one statement kept as text: every API request asks (the ORM's
# compiling of it was a third of the token check's CPU).
BEARER_LOOKUP = """
SELECT {token}, {user} FROM {tokens} t JOIN {users} u ON u.id = t.user_id
WHERE t.token_hash = %s AND t.revoked_at IS NULL AND u.is_active
"""
# Marks it used, once a minute at most (of concurrent requests with one token, one writes).
BEARER_TOUCH = "UPDATE {tokens} SET last_used_at = %s WHERE id = %s AND (last_used_at IS NULL OR last_used_at < %s)"


def api_token_authenticate(*, raw_token: str) -> ApiToken | None:
    """The active token matching `raw_token`, marking it used at most once a minute; None if there is none."""
    if not raw_token.startswith(TOKEN_PREFIX) or len(raw_token) > 100:
        return None
    statement = BEARER_LOOKUP.format(token=sql.columns(ApiToken, "t"), user=sql.columns(User, "u"),
                                    tokens=ApiToken._meta.db_table, users=User._meta.db_table)  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(statement, [_token_digest(raw_token)])
        row = cursor.fetchone()
    if row is None:
        return None
    token = sql.instance(ApiToken, row)
    ApiToken.user.field.set_cached_value(token, sql.instance(User, row, sql.width(ApiToken)))
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CROWDMAKER_TOKEN_TOUCH_SECONDS)
    if token.last_used_at is None or token.last_used_at < stale:
        with connection.cursor() as cursor:
            cursor.execute(BEARER_TOUCH.format(tokens=ApiToken._meta.db_table), [now, token.pk, stale])
    return token
