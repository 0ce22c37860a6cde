"""Reads of the interface registry: the listing with each type's latest accepted version, a type with its
whole history, a version's dimensions, and whether a manifest's interfaces are registered. Never writes.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from crowdmaker.core.errors import NotFound
from crowdmaker.protocol.manifest import PROVIDES, REQUIRES, Problem, pointer_join
from crowdmaker.protocol.models import InterfaceType, InterfaceVersion, VersionStatus
from crowdmaker.protocol.semver import Version, VersionRange, VersionSyntaxError


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


DECIDED = (VersionStatus.ACCEPTED, VersionStatus.DEPRECATED)


def manifest_registry_problems(manifest: dict[str, Any]) -> list[Problem]:
    """What a (TD-valid) manifest says that the interface registry does not back, as pointed problems.

    Every `cm:provides` entry must name a registered interface at an accepted or deprecated version (products
    built on a deprecated version still exist; a merely proposed one is not the protocol yet) and use only that
    version's capacity dimensions; every
    `cm:requires` range must match at least one registered version, and its load dimensions must be ones those
    versions define. One query reads every version of the interfaces named.
    """
    entries = [
        (key, index, entry)
        for key in (PROVIDES, REQUIRES)
        for index, entry in enumerate(manifest.get(key) or [])
        if isinstance(entry, dict)
    ]
    names = {entry.get("interface") for _, _, entry in entries}
    registered: dict[str, list[tuple[Version, dict[str, Any]]]] = {}
    rows = InterfaceVersion.objects.filter(
        interface__name__in=[n for n in names if isinstance(n, str)], status__in=DECIDED
    )  # a proposed version is not part of the protocol until an operator accepts it
    for registered_name, version, dimensions in rows.values_list("interface__name", "version", "dimensions"):
        registered.setdefault(registered_name, []).append((Version.parse(version), dimensions or {}))
    known_types = set(InterfaceType.objects.filter(name__in=[n for n in names if isinstance(n, str)]).values_list(
        "name", flat=True
    ))  # fmt: skip
    problems: list[Problem] = []
    for key, index, entry in entries:
        at = pointer_join(pointer_join("", key), index)
        name, text = entry.get("interface"), entry.get("version")
        if not isinstance(name, str) or not isinstance(text, str):
            continue  # the TD validator reports these
        if name not in known_types:
            problems.append(Problem(pointer_join(at, "interface"),
                f"{name} is not in the interface registry; propose it there first, or use a registered interface."))  # fmt: skip
            continue
        versions = registered.get(name, [])
        available = ", ".join(str(v) for v, _ in sorted(versions, key=lambda item: item[0])) or "none"
        if key == PROVIDES:
            matching = [dims for version, dims in versions if str(version) == str(Version.parse(text))]
            amounts, missing = "capacity", f"The registry has no version {text} of {name}"
        else:
            wanted = VersionRange.parse(text)
            matching = [dims for version, dims in versions if wanted.contains(version)]
            amounts, missing = "load", f"The registry has no version of {name} in the range {text}"
        if not matching:
            problems.append(Problem(pointer_join(at, "version"),
                f"{missing} (accepted: {available})."))  # fmt: skip
            continue
        dimensions = {dimension for dims in matching for dimension in dims}
        for dimension in entry.get(amounts) or {}:
            if dimension not in dimensions:
                known = ", ".join(sorted(dimensions)) or "none"
                problems.append(Problem(pointer_join(pointer_join(at, amounts), dimension),
                    f'{name} has no dimension "{dimension}" (its dimensions: {known}).'))  # fmt: skip
    return problems
