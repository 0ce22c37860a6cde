"""The interface registry (PROTOCOL.md "Interface registry"): interface types and their versions.

Rows are written only by `protocol.services`; history is never rewritten. A version's content is frozen from
the moment it is accepted (a database trigger refuses any other change), and the only later change is
accepted -> deprecated. A new meaning is always a new version row.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

# The same grammar as a manifest's "interface" (manifest.INTERFACE_NAME): lower-case dotted segments of letters
# and digits, hyphens only between them, at least two segments ("power.usb-c", "mechanical.din-rail-35").
INTERFACE_NAME_SQL = r"^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)+$"
# A full MAJOR.MINOR.PATCH without leading zeros: the form `semver.Version.__str__` writes.
VERSION_SQL = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$"
INTERFACE_NAME_MAX_LENGTH = 100


class InterfaceKind(models.TextChoices):
    POWER = "power", "Power"
    DATA = "data", "Data"
    MECHANICAL = "mechanical", "Mechanical"
    SOFTWARE = "software", "Software"


class VersionStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    ACCEPTED = "accepted", "Accepted"
    DEPRECATED = "deprecated", "Deprecated"


class InterfaceType(models.Model):
    name = models.CharField(max_length=INTERFACE_NAME_MAX_LENGTH, unique=True)
    kind = models.CharField(max_length=20, choices=InterfaceKind.choices)
    description = models.TextField(blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="proposed_interface_types",
        help_text="Empty for the registry's seeded starter set.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    versions: Any  # reverse accessor, declared for type checkers

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]
        constraints: ClassVar[list[Any]] = [
            models.CheckConstraint(condition=Q(name__regex=INTERFACE_NAME_SQL), name="protocol_interface_name_form"),
            models.CheckConstraint(condition=Q(kind__in=InterfaceKind.values), name="protocol_interface_kind_known"),
            # The kind is the name's first segment, so "power.*" can never be filed under data.
            models.CheckConstraint(
                condition=Q(name__startswith=models.functions.Concat(models.F("kind"), models.Value("."))),
                name="protocol_interface_name_starts_with_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class InterfaceVersion(models.Model):
    interface = models.ForeignKey(InterfaceType, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=40, help_text="MAJOR.MINOR.PATCH, normalised.")
    # Capacity/load dimensions: {"watts": {"unit": "W", "description": "..."}}; checked by services.
    dimensions = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=VersionStatus.choices, default=VersionStatus.PROPOSED)
    changelog = models.TextField(blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="proposed_interface_versions",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True, help_text="When it was accepted.")

    class Meta:
        ordering: ClassVar[list[str]] = ["interface_id", "id"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["interface", "version"], name="protocol_interface_version_unique"),
            models.CheckConstraint(condition=Q(version__regex=VERSION_SQL), name="protocol_interface_version_form"),
            models.CheckConstraint(
                condition=Q(status__in=VersionStatus.values), name="protocol_interface_version_status_known"
            ),
            models.CheckConstraint(
                condition=Q(status=VersionStatus.PROPOSED) | Q(decided_at__isnull=False),
                name="protocol_interface_version_decided_when_accepted",
            ),
        ]

    def __str__(self) -> str:
        return f"version {self.version}"
