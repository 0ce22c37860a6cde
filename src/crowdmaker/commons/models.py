"""Designs, their immutable versions and citations, with their invariants as constraints.

Rows are written only through `commons.services`. A DesignVersion is immutable: a trigger (sql/0001) refuses
UPDATE and DELETE on it, so a published version can only be superseded by a new one.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from crowdmaker.commons.licences import SPDX_IDS
from crowdmaker.people.models import SLUG_HELP, SLUG_PATTERN, Team, User

TAG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$"
TAG_HELP = "1 to 32 lowercase letters, digits or hyphens; no hyphen at either end."
MAX_TAGS = 10
TITLE_MAX_LENGTH = 120
SUMMARY_MAX_LENGTH = 300
DESCRIPTION_MAX_LENGTH = 20000
RELEASE_NOTES_MAX_LENGTH = 5000


class Design(models.Model):
    slug = models.CharField(max_length=50, validators=[RegexValidator(SLUG_PATTERN, SLUG_HELP)])
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    summary = models.CharField(max_length=SUMMARY_MAX_LENGTH, blank=True)
    description = models.TextField(blank=True, help_text="Markdown, stored raw; rendered sanitised.")
    owner_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="designs")
    owner_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="designs")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    licence = models.CharField(max_length=40, choices=[(spdx, spdx) for spdx in SPDX_IDS])
    tags = ArrayField(models.CharField(max_length=32), size=MAX_TAGS, default=list, blank=True)
    interfaces = ArrayField(
        models.CharField(max_length=100), default=list, blank=True,
        help_text="Interface names the latest version provides or requires (kept by the services, for search).",
    )  # fmt: skip
    families = ArrayField(
        models.CharField(max_length=100), default=list, blank=True,
        help_text="The families (cm:family) the latest version claims to follow (kept by the services).",
    )  # fmt: skip
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When design_update last changed the title (it keys the catalog cache with the versions).",
    )
    forked_from = models.ForeignKey(
        "DesignVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="forks",
        help_text="The exact version this design was forked from.",
    )  # fmt: skip

    class Meta:
        constraints = [
            models.UniqueConstraint("slug", name="commons_design_slug_unique"),
            models.CheckConstraint(condition=models.Q(slug__regex=SLUG_PATTERN), name="commons_design_slug_format"),
            models.CheckConstraint(condition=~models.Q(title=""), name="commons_design_title_set"),
            models.CheckConstraint(
                condition=models.Q(owner_user__isnull=False, owner_team__isnull=True)
                | models.Q(owner_user__isnull=True, owner_team__isnull=False),
                name="commons_design_one_owner",
            ),
            models.CheckConstraint(condition=models.Q(licence__in=SPDX_IDS), name="commons_design_licence_known"),
        ]
        indexes = [
            GinIndex(fields=["tags"], name="commons_design_tags_gin"),
            GinIndex(fields=["interfaces"], name="commons_design_interfaces_gin"),
            GinIndex(fields=["families"], name="commons_design_families_gin"),
            models.Index(fields=["-created_at", "-id"], name="commons_design_new"),
            models.Index(fields=["edited_at"], name="commons_design_edited"),  # max() keys the catalog cache
        ]

    def __str__(self) -> str:
        return self.title


class DesignVersion(models.Model):
    design = models.ForeignKey(Design, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    release_notes = models.TextField(blank=True)
    manifest = models.JSONField(help_text="A WoT Thing Description 1.1 with the cm: extension (validated).")
    bom = models.JSONField(default=list, blank=True, help_text="[{item, quantity, unit_cost, currency}]")
    published_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("design", "number", name="commons_designversion_number_unique"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="commons_designversion_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.design.slug} v{self.number}"


class Citation(models.Model):
    """`design` cites `cited` as an upstream influence (besides, or instead of, a fork)."""

    design = models.ForeignKey(Design, on_delete=models.CASCADE, related_name="citations")
    cited = models.ForeignKey(Design, on_delete=models.PROTECT, related_name="cited_by")
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("design", "cited", name="commons_citation_once"),
            models.CheckConstraint(condition=~models.Q(design=models.F("cited")), name="commons_citation_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.design} cites {self.cited}"


MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGES_PER_DESIGN = 10


class DesignImage(models.Model):
    """A picture on a design's page, stored through Django's storage API (local folder or S3 by configuration)."""

    design = models.ForeignKey(Design, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(max_length=200, db_index=True)  # looked up by name when served under MEDIA_URL
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    alt = models.CharField(max_length=200, blank=True, help_text="Text for people who cannot see the image.")
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(content_type__in=["image/png", "image/jpeg", "image/webp"]),
                name="commons_designimage_type_known",
            ),
            models.CheckConstraint(
                condition=models.Q(size__gt=0, size__lte=MAX_IMAGE_BYTES), name="commons_designimage_size_limit"
            ),
        ]

    def __str__(self) -> str:
        return self.file.name or ""


MAX_VERSION_FILE_BYTES = 50 * 1024 * 1024
MAX_FILES_PER_VERSION = 20
FILE_NAME_MAX_LENGTH = 120
SHA256_PATTERN = r"^[0-9a-f]{64}$"


# What a design version may carry, by file name extension: the type we serve it as, and what its first bytes
# must look like ("zip", "pdf", "text": UTF-8 without NUL, "any": binary formats without a reliable signature).
VERSION_FILE_TYPES: dict[str, tuple[str, str]] = {
    "stl": ("model/stl", "any"),
    "3mf": ("model/3mf", "zip"),
    "step": ("model/step", "text"),
    "stp": ("model/step", "text"),
    "obj": ("model/obj", "text"),
    "scad": ("text/plain", "text"),
    "fcstd": ("application/zip", "zip"),
    "dxf": ("image/vnd.dxf", "text"),
    "svg": ("image/svg+xml", "text"),
    "gcode": ("text/plain", "text"),
    "kicad_pcb": ("text/plain", "text"),
    "kicad_sch": ("text/plain", "text"),
    "kicad_pro": ("application/json", "text"),
    "zip": ("application/zip", "zip"),
    "pdf": ("application/pdf", "pdf"),
    "png": ("image/png", "png"),
    "jpg": ("image/jpeg", "jpeg"),
    "jpeg": ("image/jpeg", "jpeg"),
    "md": ("text/markdown", "text"),
    "txt": ("text/plain", "text"),
    "csv": ("text/csv", "text"),
    "json": ("application/json", "text"),
    "yaml": ("text/plain", "text"),
    "ino": ("text/plain", "text"),
    "c": ("text/plain", "text"),
    "h": ("text/plain", "text"),
    "py": ("text/plain", "text"),
}
VERSION_FILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._ -]*$"


class VersionFile(models.Model):
    """A file published with a design version (CAD, STL, Gerbers, firmware ...), immutable like the version.

    Stored through Django's storage API; `name` is the file name people download it as, `sha256` lets them check
    the download. A trigger (sql/0002) refuses UPDATE and DELETE.
    """

    version = models.ForeignKey(DesignVersion, on_delete=models.PROTECT, related_name="files")
    file = models.FileField(max_length=255)
    name = models.CharField(max_length=FILE_NAME_MAX_LENGTH)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint("version", Lower("name"), name="commons_versionfile_name_once"),
            models.CheckConstraint(
                condition=models.Q(name__regex=VERSION_FILE_NAME_PATTERN), name="commons_versionfile_name_form"
            ),
            models.CheckConstraint(
                condition=models.Q(content_type__in=sorted({t for t, _ in VERSION_FILE_TYPES.values()})),
                name="commons_versionfile_type_known",
            ),
            models.CheckConstraint(
                condition=models.Q(size__gt=0, size__lte=MAX_VERSION_FILE_BYTES), name="commons_versionfile_size_limit"
            ),
            models.CheckConstraint(condition=models.Q(sha256__regex=SHA256_PATTERN), name="commons_versionfile_sha256"),
            models.CheckConstraint(condition=~models.Q(name=""), name="commons_versionfile_name_set"),
        ]

    def __str__(self) -> str:
        return self.name


SYSTEM_NAME_MAX_LENGTH = 100
SHARE_TOKEN_LENGTH = 43  # secrets.token_urlsafe(32): 256 random bits


class System(models.Model):
    """A user's saved combination of design versions ("my home"); readable by anyone holding its share link."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="systems")
    name = models.CharField(max_length=SYSTEM_NAME_MAX_LENGTH)
    share_token = models.CharField(max_length=SHARE_TOKEN_LENGTH, help_text="Random; the read-only share link.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("share_token", name="commons_system_share_token_unique"),
            models.CheckConstraint(condition=~models.Q(name=""), name="commons_system_name_set"),
        ]
        indexes = [models.Index(fields=["owner", "-id"], name="commons_system_owner")]

    def __str__(self) -> str:
        return self.name


class SystemMember(models.Model):
    """`quantity` copies of one design version in a system (a system is a multiset)."""

    system = models.ForeignKey(System, on_delete=models.CASCADE, related_name="members")
    design_version = models.ForeignKey(DesignVersion, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("system", "design_version", name="commons_systemmember_once"),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="commons_systemmember_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.design_version}"
