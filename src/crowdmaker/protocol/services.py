"""Writes of the interface registry: propose an interface type or a new version, accept or deprecate a version;
and `manifest_import`, which turns an uploaded Thing Description into the starting manifest of a design.

Each service is atomic, keyword-only and raises a `core.errors.DomainError` for a refusal, having changed
nothing. History is never rewritten: a change of meaning is a new version row, accepted versions are frozen
(the database refuses edits too, see migration 0002), and only operators (`is_staff`) decide.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from crowdmaker.core.errors import Conflict, Forbidden, Invalid, NotFound
from crowdmaker.core.text import clean_text
from crowdmaker.people.models import User
from crowdmaker.protocol.manifest import (
    DIMENSION_NAME,
    FAMILY,
    INTERFACE_NAME,
    PROVIDES,
    REQUIRES,
    read_json,
    validate_manifest,
)
from crowdmaker.protocol.models import (
    INTERFACE_NAME_MAX_LENGTH,
    InterfaceKind,
    InterfaceType,
    InterfaceVersion,
    VersionStatus,
)
from crowdmaker.protocol.semver import Version, VersionSyntaxError

# Limits on what a maker may propose; generous for real interfaces, small enough to keep pages readable.
MAX_DIMENSIONS = 20
MAX_DIMENSION_NAME_LENGTH = 40
MAX_UNIT_LENGTH = 20
MAX_DIMENSION_DESCRIPTION_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 2000
MAX_CHANGELOG_LENGTH = 5000


def _clean_name(name: str) -> str:
    if not isinstance(name, str) or len(name) > INTERFACE_NAME_MAX_LENGTH or not INTERFACE_NAME.match(name):
        raise Invalid(
            "An interface name is lower-case dotted segments of letters, digits and inner hyphens, at least two "
            f'segments and at most {INTERFACE_NAME_MAX_LENGTH} characters, such as "power.usb-c".',
            code="invalid_interface_name",
            field="name",
        )
    return name


def _clean_version(version: str) -> str:
    """The normalised MAJOR.MINOR.PATCH ("1.2" -> "1.2.0")."""
    try:
        return str(Version.parse(version))
    except VersionSyntaxError as error:
        raise Invalid(f"Not a version: {error}.", code="invalid_version", field="version") from error


def clean_dimensions(dimensions: Any) -> dict[str, dict[str, str]]:
    """Check a version's capacity/load dimensions: {name: {"unit": str, "description": str}}."""

    def refuse(message: str, at: str = "") -> Invalid:
        return Invalid(message, code="invalid_dimensions", field=f"dimensions.{at}" if at else "dimensions")

    if not isinstance(dimensions, dict):
        raise refuse('Dimensions are an object such as {"watts": {"unit": "W", "description": "..."}}.')
    if len(dimensions) > MAX_DIMENSIONS:
        raise refuse(f"At most {MAX_DIMENSIONS} dimensions.")
    cleaned: dict[str, dict[str, str]] = {}
    for name, spec in dimensions.items():
        if not isinstance(name, str) or len(name) > MAX_DIMENSION_NAME_LENGTH or not DIMENSION_NAME.match(name):
            raise refuse(
                "A dimension name starts with a lower-case letter, then letters, digits, '_' or '-', at most "
                f"{MAX_DIMENSION_NAME_LENGTH} characters.",
                str(name),
            )
        if not isinstance(spec, dict) or set(spec) != {"unit", "description"}:
            raise refuse('Each dimension is exactly {"unit": "...", "description": "..."}.', name)
        unit, description = spec["unit"], spec["description"]
        if not isinstance(unit, str) or not unit.strip() or len(unit.strip()) > MAX_UNIT_LENGTH:
            raise refuse(f"The unit is a non-empty text of at most {MAX_UNIT_LENGTH} characters.", f"{name}.unit")
        if not isinstance(description, str) or len(description.strip()) > MAX_DIMENSION_DESCRIPTION_LENGTH:
            raise refuse(
                f"The description is a text of at most {MAX_DIMENSION_DESCRIPTION_LENGTH} characters.",
                f"{name}.description",
            )
        cleaned[name] = {"unit": unit.strip(), "description": description.strip()}
    return cleaned


def _require_operator(actor: User) -> None:
    if not (actor.is_active and actor.is_staff):
        raise Forbidden("Only operators decide on interface versions.", code="operators_only")


def _locked_type(name: str) -> InterfaceType:
    try:
        return InterfaceType.objects.select_for_update().get(name=name)
    except InterfaceType.DoesNotExist:
        raise NotFound(f"No interface type {name!r} in the registry.", code="interface_not_found") from None


def _locked_version(interface: InterfaceType, version: str) -> InterfaceVersion:
    try:
        return InterfaceVersion.objects.select_for_update().get(interface=interface, version=_clean_version(version))
    except InterfaceVersion.DoesNotExist:
        raise NotFound(
            f"{interface.name} has no version {version}.", code="interface_version_not_found", field="version"
        ) from None


@transaction.atomic
def interface_type_propose(
    *,
    actor: User,
    name: str,
    kind: str,
    description: str,
    version: str = "1.0.0",
    dimensions: dict[str, Any],
    changelog: str = "",
) -> InterfaceVersion:
    """Propose a new interface type with its first version (status proposed); returns that version."""
    name = _clean_name(name)
    if kind not in InterfaceKind.values:
        raise Invalid(f"The kind is one of {', '.join(InterfaceKind.values)}.", code="invalid_kind", field="kind")
    if name.split(".", 1)[0] != kind:
        raise Invalid(
            f'A {kind} interface\'s name starts with "{kind}.", e.g. "{kind}.{name.split(".", 1)[1]}".',
            code="name_kind_mismatch",
            field="name",
        )
    description = clean_text(description, field="description", max_length=MAX_DESCRIPTION_LENGTH, multiline=True)
    changelog = clean_text(changelog, field="changelog", max_length=MAX_CHANGELOG_LENGTH, multiline=True)
    normalised = _clean_version(version)
    cleaned = clean_dimensions(dimensions)
    if InterfaceType.objects.filter(name=name).exists():
        raise Conflict(f"{name} is already in the registry; propose a new version of it.", code="interface_exists")
    try:
        with transaction.atomic():  # a concurrent proposal of the same name loses on the unique constraint
            interface = InterfaceType.objects.create(name=name, kind=kind, description=description, proposed_by=actor)
    except IntegrityError:
        raise Conflict(
            f"{name} is already in the registry; propose a new version of it.", code="interface_exists"
        ) from None
    return InterfaceVersion.objects.create(
        interface=interface,
        version=normalised,
        dimensions=cleaned,
        changelog=changelog,
        status=VersionStatus.PROPOSED,
        proposed_by=actor,
    )


@transaction.atomic
def interface_version_propose(
    *, actor: User, name: str, version: str, dimensions: dict[str, Any], changelog: str = ""
) -> InterfaceVersion:
    """Propose a new version of an existing type; it must be higher than every version the type has."""
    normalised = _clean_version(version)
    cleaned = clean_dimensions(dimensions)
    changelog = clean_text(changelog, field="changelog", max_length=MAX_CHANGELOG_LENGTH, multiline=True)
    interface = _locked_type(name)  # serialises proposals for one type, so "higher than the latest" holds
    existing = [Version.parse(v) for v in interface.versions.values_list("version", flat=True)]
    if Version.parse(normalised) in existing:
        raise Conflict(f"{name} {normalised} already exists.", code="version_exists", field="version")
    latest = max(existing, default=None)
    if latest is not None and Version.parse(normalised) < latest:
        raise Conflict(
            f"{name} is already at {latest}; a new version must be higher.", code="version_not_higher", field="version"
        )
    return InterfaceVersion.objects.create(
        interface=interface,
        version=normalised,
        dimensions=cleaned,
        changelog=changelog,
        status=VersionStatus.PROPOSED,
        proposed_by=actor,
    )


@transaction.atomic
def interface_version_accept(*, actor: User, name: str, version: str) -> InterfaceVersion:
    """An operator accepts a proposed version; from then on it is frozen."""
    _require_operator(actor)
    interface = _locked_type(name)
    row = _locked_version(interface, version)
    if row.status != VersionStatus.PROPOSED:
        raise Conflict(f"{name} {row.version} is {row.status}, not proposed.", code="version_not_proposed")
    row.status = VersionStatus.ACCEPTED
    row.decided_at = timezone.now()
    row.save(update_fields=["status", "decided_at"])
    return row


@transaction.atomic
def interface_version_deprecate(*, actor: User, name: str, version: str) -> InterfaceVersion:
    """An operator deprecates an accepted version (it stays in the registry and in history)."""
    _require_operator(actor)
    interface = _locked_type(name)
    row = _locked_version(interface, version)
    if row.status != VersionStatus.ACCEPTED:
        raise Conflict(f"{name} {row.version} is {row.status}, not accepted.", code="version_not_accepted")
    row.status = VersionStatus.DEPRECATED
    row.save(update_fields=["status"])
    return row


# --- importing a Thing Description -------------------------------------------------------------------------

MAX_IMPORT_BYTES = 1024 * 1024  # the largest plugfest TD is ~90 KB
CM_PREFIX = "cm"
CM_NAMESPACE = "https://crowdmaker.org/ns/protocol#"


def manifest_import(*, raw: bytes) -> dict[str, Any]:
    """An uploaded Thing Description (any TD 1.0/1.1 the validator accepts) as the starting manifest of a design.

    Writes nothing. The document is kept as it is, with what a maker fills in next added when missing: the `cm`
    prefix in `@context` and empty `cm:provides`, `cm:requires` and `cm:family` lists. A file that is too large,
    not UTF-8, not JSON or not a valid TD is refused with the first problem's JSON pointer and reason.
    """
    if len(raw) > MAX_IMPORT_BYTES:
        raise Invalid(f"A Thing Description may be at most {MAX_IMPORT_BYTES // 1024} KiB.", code="file_too_large",
                      field="manifest")  # fmt: skip
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("The file is not UTF-8 text.", code="manifest_not_json", field="manifest") from exc
    try:
        document = read_json(text)
    except json.JSONDecodeError as exc:
        raise Invalid(f"The file is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
                      code="manifest_not_json", field="manifest") from exc  # fmt: skip
    except ValueError as exc:  # NaN, an infinite number, a huge integer, too deep
        raise Invalid(f"The file is not JSON we accept: {exc}.", code="manifest_not_json", field="manifest") from exc
    problems = validate_manifest(document)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise Invalid(f"The Thing Description is not valid at {first.pointer or '/'}: {first.reason}{more}",
                      code="manifest_invalid", field="manifest")  # fmt: skip
    assert isinstance(document, dict)  # a valid TD is an object
    context = document["@context"]
    entries = context if isinstance(context, list) else [context]
    if not any(isinstance(entry, dict) and CM_PREFIX in entry for entry in entries):
        document["@context"] = [*entries, {CM_PREFIX: CM_NAMESPACE}]
    for key in (PROVIDES, REQUIRES, FAMILY):
        document.setdefault(key, [])
    return document
