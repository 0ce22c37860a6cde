"""Accounts, profiles, teams, memberships, invitations and API tokens, with their invariants as constraints.

Rows are written only through `people.services`; nothing here has side effects on save.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Length, Lower
from django.utils import timezone

# `field__length` in the constraints below compiles to SQL's length(); registered once, here.
models.CharField.register_lookup(Length)
models.TextField.register_lookup(Length)

HANDLE_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,28}[a-z0-9])?$"
HANDLE_HELP = "2 to 30 lowercase letters, digits or hyphens; no hyphen at either end."
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$"
SLUG_HELP = "2 to 50 lowercase letters, digits or hyphens; no hyphen at either end."
MAX_PROFILE_LINKS = 5
BIO_MAX_LENGTH = 2000
DESCRIPTION_MAX_LENGTH = 2000


class UserManager(BaseUserManager["User"]):
    """Used by Django's `createsuperuser` and auth backend; the platform signs people up via services."""

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username or "")

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        from crowdmaker.core.errors import DomainError
        from crowdmaker.people.services import user_create

        try:
            return user_create(email=email, password=password, **extra)
        except DomainError as exc:
            # Django's commands (createsuperuser) report a ValidationError as a clear error, not a traceback.
            raise ValidationError({exc.field or NON_FIELD_ERRORS: exc.message}) from exc

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(max_length=254, unique=True, help_text="Stored in lowercase.")
    handle = models.CharField(
        max_length=30,
        validators=[RegexValidator(HANDLE_PATTERN, HANDLE_HELP)],
        help_text="Public name in links: /makers/<handle>/. " + HANDLE_HELP,
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May sign in to the operators' admin.")
    date_joined = models.DateTimeField(default=timezone.now)
    email_verified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the member opened the verification link mailed to `email`."
    )

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["handle"]

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(email=Lower("email")), name="people_user_email_lowercase"),
            models.UniqueConstraint("handle", name="people_user_handle_unique"),
            models.CheckConstraint(condition=models.Q(handle__regex=HANDLE_PATTERN), name="people_user_handle_format"),
        ]

    def __str__(self) -> str:
        return self.handle


class Profile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=80)
    bio = models.TextField(blank=True, max_length=BIO_MAX_LENGTH)
    links = ArrayField(models.URLField(max_length=300), size=MAX_PROFILE_LINKS, default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    show_on_public_ledgers = models.BooleanField(
        default=False,
        help_text="Show this person's display name on public ledgers; otherwise they appear under a pseudonym.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(display_name=""), name="people_profile_display_name_set"),
            models.CheckConstraint(
                condition=models.Q(bio__length__lte=BIO_MAX_LENGTH), name="people_profile_bio_length"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name


class Team(models.Model):
    slug = models.CharField(max_length=50, validators=[RegexValidator(SLUG_PATTERN, SLUG_HELP)])
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("slug", name="people_team_slug_unique"),
            models.CheckConstraint(condition=models.Q(slug__regex=SLUG_PATTERN), name="people_team_slug_format"),
            models.CheckConstraint(condition=~models.Q(name=""), name="people_team_name_set"),
            models.CheckConstraint(
                condition=models.Q(description__length__lte=DESCRIPTION_MAX_LENGTH),
                name="people_team_description_length",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MAINTAINER = "maintainer", "Maintainer"
    MEMBER = "member", "Member"


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("team", "user", name="people_membership_once_per_team"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="people_membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} as {self.role}"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class TeamInvitation(models.Model):
    """An invitation of an existing account into a team, with the role it will have once accepted."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    invitee = models.ForeignKey(User, on_delete=models.CASCADE, related_name="team_invitations")
    invited_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=20, choices=Role.choices)
    status = models.CharField(max_length=20, choices=InvitationStatus.choices, default=InvitationStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "team",
                "invitee",
                condition=models.Q(status="pending"),
                name="people_invitation_one_pending_per_invitee",
            ),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="people_invitation_role_valid"),
            models.CheckConstraint(
                condition=models.Q(status__in=InvitationStatus.values), name="people_invitation_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status="pending", responded_at__isnull=True)
                | (~models.Q(status="pending") & models.Q(responded_at__isnull=False)),
                name="people_invitation_responded_when_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invitee} to {self.team} as {self.role} ({self.status})"


class TokenScope(models.TextChoices):
    READ = "read", "Read only"
    WRITE = "write", "Read and write"


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the token itself is shown once, at creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    scope = models.CharField(max_length=10, choices=TokenScope.choices)
    prefix = models.CharField(max_length=12, help_text="The first characters, so the owner can tell tokens apart.")
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("token_hash", name="people_apitoken_hash_unique"),
            models.CheckConstraint(condition=models.Q(scope__in=TokenScope.values), name="people_apitoken_scope_valid"),
            models.CheckConstraint(condition=models.Q(token_hash__length=64), name="people_apitoken_hash_length"),
            models.CheckConstraint(condition=~models.Q(name=""), name="people_apitoken_name_set"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
