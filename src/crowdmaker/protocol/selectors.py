"""Reads of the interface registry: the listing with each type's latest accepted version, a type with its
whole history, and a version's dimensions for the manifest validator and the engine. Never writes.
"""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from crowdmaker.core.errors import NotFound
from crowdmaker.protocol.models import InterfaceType, InterfaceVersion, VersionStatus
from crowdmaker.protocol.semver import Version, VersionSyntaxError


def interface_list(*, kind: str | None = None, q: str | None = None) -> QuerySet[InterfaceType]:
    """Types by name; each has `accepted_versions` prefetched (one query per page, whatever its size)."""
    types = InterfaceType.objects.select_related("proposed_by").prefetch_related(
        Prefetch(
            "versions",
            queryset=InterfaceVersion.objects.filter(status=VersionStatus.ACCEPTED).select_related("proposed_by"),
            to_attr="accepted_versions",
        )
    )
    if kind:
        types = types.filter(kind=kind)
    if q:
        types = types.filter(Q(name__icontains=q) | Q(description__icontains=q))
    return types.order_by("name")


def latest_accepted(interface: InterfaceType) -> InterfaceVersion | None:
    """The highest accepted version of a type from `interface_list` (prefetched), or None."""
    accepted: list[InterfaceVersion] | None = getattr(interface, "accepted_versions", None)
    if accepted is None:  # not from a selector here: ask the database
        accepted = list(interface.versions.filter(status=VersionStatus.ACCEPTED))
    return max(accepted, key=lambda row: Version.parse(row.version), default=None)


def history_of(interface: InterfaceType) -> list[InterfaceVersion]:
    """All versions of a type, oldest first: prefetched by `interface_detail`, else asked of the database."""
    history: list[InterfaceVersion] | None = getattr(interface, "history", None)
    if history is None:
        history = list(interface.versions.select_related("proposed_by").order_by("id"))
    return history


def interface_detail(*, name: str) -> InterfaceType:
    """A type with `history`: all its versions, oldest first (each row is one step of the history)."""
    try:
        return (
            InterfaceType.objects.select_related("proposed_by")
            .prefetch_related(
                Prefetch(
                    "versions",
                    queryset=InterfaceVersion.objects.select_related("proposed_by").order_by("id"),
                    to_attr="history",
                ),
                Prefetch(
                    "versions",
                    queryset=InterfaceVersion.objects.filter(status=VersionStatus.ACCEPTED).select_related(
                        "proposed_by"
                    ),
                    to_attr="accepted_versions",
                ),
            )
            .get(name=name)
        )
    except InterfaceType.DoesNotExist:
        raise NotFound(f"No interface type {name!r} in the registry.", code="interface_not_found") from None


def interface_dimensions(*, name: str, version: str) -> dict[str, dict[str, str]]:
    """The capacity/load dimensions of one registered version ({"watts": {"unit": "W", ...}}).

    Any status is answered (a deprecated version still describes the products built on it); an unknown type or
    version raises NotFound.
    """
    try:
        normalised = str(Version.parse(version))
    except VersionSyntaxError:
        normalised = None
    row = (
        InterfaceVersion.objects.filter(interface__name=name, version=normalised).values_list("dimensions", flat=True)
        if normalised
        else None
    )
    found = row.first() if row is not None else None
    if found is None:
        raise NotFound(f"{name} {version} is not in the registry.", code="interface_version_not_found")
    return dict(found)
