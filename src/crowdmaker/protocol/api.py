"""JSON API of `protocol`: manifest validation and import, and the interface registry.

Handlers parse input and call the protocol's own functions; they never store anything.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from crowdmaker.core.api import ErrorOut
from crowdmaker.protocol.manifest import read_json, validate_manifest

router = Router(tags=["manifests"])

# The body is the manifest itself, any JSON value, so it is read by hand and described to OpenAPI here.
MANIFEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "description": "A W3C WoT Thing Description 1.1 document (JSON-LD), optionally with our "
                    "cm:provides, cm:requires and cm:family members. Any JSON value is accepted and judged.",
                }
            }
        },
    }
}


class ProblemOut(Schema):
    pointer: str  # RFC 6901 JSON pointer into the manifest; "" is the whole document
    reason: str


class ManifestValidationOut(Schema):
    valid: bool
    problems: list[ProblemOut]


@router.post(
    "/manifests/validate",
    response={200: ManifestValidationOut, 400: ErrorOut, 401: ErrorOut, 413: ErrorOut},
    openapi_extra=MANIFEST_BODY,
    summary="Validate a manifest",
)
def manifest_validate(request: HttpRequest, registry: bool = False) -> ManifestValidationOut:
    """Judge a manifest (the request body) as a Thing Description 1.1 with our extension; stores nothing.

    The answer is 200 whether the manifest is valid or not; `problems` says where (a JSON pointer) and why.
    With `registry=true` a valid TD is also checked against the interface registry, as publishing a design
    does. A body that is not JSON at all is a 400 `invalid_json`.
    """
    try:
        document = read_json(request.body.decode("utf-8"))
    except ValueError as error:  # UnicodeDecodeError is a ValueError too
        # The message prefix is ninja's own for unreadable bodies; core.api turns it into `invalid_json`.
        raise HttpError(400, f"Cannot parse request body ({error})") from error
    problems = validate_manifest(document)
    if registry and not problems and isinstance(document, dict):
        problems = registry_selectors.manifest_registry_problems(document)
    return ManifestValidationOut(
        valid=not problems, problems=[ProblemOut(pointer=p.pointer, reason=p.reason) for p in problems]
    )


class ManifestImportOut(Schema):
    manifest: dict[str, Any]


@router.post(
    "/manifests/import",
    response={200: ManifestImportOut, 401: ErrorOut, 413: ErrorOut, 422: ErrorOut},
    openapi_extra=MANIFEST_BODY,
    summary="Turn a Thing Description into the starting manifest of a design",
)
def manifest_import(request: HttpRequest) -> ManifestImportOut:
    """The body is a Thing Description file (e.g. one of the W3C plugfest TDs); the answer is the manifest to
    start a design from: the TD with the `cm` prefix and empty `cm:provides`, `cm:requires`, `cm:family` added
    where missing. Stores nothing. Not JSON or not a valid TD: 422 with the first problem's pointer."""
    return ManifestImportOut(manifest=registry_services.manifest_import(raw=request.body))


# === Interface registry ===========================================================================================
# Public reads of the registry (anonymous callers allowed), proposals by signed-in makers with a write token,
# decisions by operators. Handlers validate input and call one service or selector of `protocol`.

from datetime import datetime  # noqa: E402

from ninja import Field, Status  # noqa: E402
from ninja.pagination import paginate  # noqa: E402

from crowdmaker.core.api import Cursor, InputSchema  # noqa: E402
from crowdmaker.core.errors import Invalid  # noqa: E402
from crowdmaker.people.auth import PUBLIC_AUTH, signed_in_user  # noqa: E402
from crowdmaker.protocol import selectors as registry_selectors  # noqa: E402
from crowdmaker.protocol import services as registry_services  # noqa: E402
from crowdmaker.protocol.models import InterfaceKind, InterfaceType, InterfaceVersion, VersionStatus  # noqa: E402

registry_router = Router(tags=["interfaces"])

REGISTRY_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class DimensionSpec(Schema):
    unit: str
    description: str


class DimensionIn(InputSchema):
    unit: str = Field(..., min_length=1, max_length=registry_services.MAX_UNIT_LENGTH, examples=["W"])
    description: str = Field("", max_length=registry_services.MAX_DIMENSION_DESCRIPTION_LENGTH)


class InterfaceVersionOut(Schema):
    version: str
    status: VersionStatus
    dimensions: dict[str, DimensionSpec] = Field(
        ..., description="Capacity/load dimensions: a provider's capacity and a requirement's load use these names."
    )
    changelog: str
    proposed_by: str | None = Field(None, description="Handle of the proposer; null for the seeded starter set.")
    created_at: datetime
    decided_at: datetime | None

    @staticmethod
    def resolve_proposed_by(row: InterfaceVersion) -> str | None:
        return row.proposed_by.handle if row.proposed_by else None


class InterfaceOut(Schema):
    name: str
    kind: InterfaceKind
    description: str
    proposed_by: str | None
    created_at: datetime
    latest_version: InterfaceVersionOut | None = Field(
        None, description="The highest accepted version (semver order), or null if none is accepted yet."
    )

    @staticmethod
    def resolve_proposed_by(interface: InterfaceType) -> str | None:
        return interface.proposed_by.handle if interface.proposed_by else None

    @staticmethod
    def resolve_latest_version(interface: InterfaceType) -> InterfaceVersion | None:
        return registry_selectors.latest_accepted(interface)


class InterfaceDetailOut(InterfaceOut):
    versions: list[InterfaceVersionOut] = Field(..., description="Every version ever proposed, oldest first.")

    @staticmethod
    def resolve_versions(interface: InterfaceType) -> list[InterfaceVersion]:
        return registry_selectors.history_of(interface)


MAX_QUERY_LENGTH = 100


class InterfaceIn(InputSchema):
    name: str = Field(..., min_length=3, max_length=100, examples=["power.poe"])
    kind: InterfaceKind
    description: str = Field("", max_length=registry_services.MAX_DESCRIPTION_LENGTH)
    version: str = Field("1.0.0", max_length=40, description="The first version, MAJOR[.MINOR[.PATCH]].")
    dimensions: dict[str, DimensionIn] = Field(default_factory=dict)
    changelog: str = Field("", max_length=registry_services.MAX_CHANGELOG_LENGTH)


class InterfaceVersionIn(InputSchema):
    version: str = Field(..., min_length=1, max_length=40, examples=["1.1.0"])
    dimensions: dict[str, DimensionIn] = Field(default_factory=dict)
    changelog: str = Field("", max_length=registry_services.MAX_CHANGELOG_LENGTH)


def _dimensions(dimensions: dict[str, DimensionIn]) -> dict[str, dict[str, str]]:
    return {name: spec.model_dump() for name, spec in dimensions.items()}


@registry_router.get(
    "/interfaces",
    auth=PUBLIC_AUTH,
    response={200: list[InterfaceOut], 401: ErrorOut, 422: ErrorOut},
    summary="The interface registry, by name",
)
@paginate(Cursor, ordering=("name",))
def interface_list(request: HttpRequest, kind: str | None = None, q: str | None = None) -> object:
    """`kind` (power, data, mechanical, software) keeps one kind; `q` is a substring of the name or description,
    any case, at most 100 characters.
    """
    # Plain `str` parameters: ninja resolves the annotations of a paginated handler outside this module.
    if kind is not None and kind not in InterfaceKind.values:
        raise Invalid(f"The kind is one of {', '.join(InterfaceKind.values)}.", code="validation_error", field="kind")
    if q is not None and len(q) > MAX_QUERY_LENGTH:
        raise Invalid(f"At most {MAX_QUERY_LENGTH} characters.", code="validation_error", field="q")
    return registry_selectors.interface_list(kind=kind, q=q)


@registry_router.get(
    "/interfaces/{name}",
    auth=PUBLIC_AUTH,
    response={200: InterfaceDetailOut, 401: ErrorOut, 404: ErrorOut},
    summary="An interface type with its whole version history",
)
def interface_detail(request: HttpRequest, name: str) -> InterfaceType:
    return registry_selectors.interface_detail(name=name)


@registry_router.post(
    "/interfaces",
    response={201: InterfaceDetailOut, **REGISTRY_ERRORS},
    summary="Propose a new interface type with its first version",
)
def interface_propose(request: HttpRequest, payload: InterfaceIn) -> Status:
    row = registry_services.interface_type_propose(
        actor=signed_in_user(request),
        name=payload.name,
        kind=payload.kind,
        description=payload.description,
        version=payload.version,
        dimensions=_dimensions(payload.dimensions),
        changelog=payload.changelog,
    )
    return Status(201, registry_selectors.interface_detail(name=row.interface.name))


@registry_router.post(
    "/interfaces/{name}/versions",
    response={201: InterfaceVersionOut, **REGISTRY_ERRORS},
    summary="Propose a new version of an interface type (higher than all its versions)",
)
def interface_version_propose(request: HttpRequest, name: str, payload: InterfaceVersionIn) -> Status:
    row = registry_services.interface_version_propose(
        actor=signed_in_user(request),
        name=name,
        version=payload.version,
        dimensions=_dimensions(payload.dimensions),
        changelog=payload.changelog,
    )
    return Status(201, row)


@registry_router.post(
    "/interfaces/{name}/versions/{version}/accept",
    response={200: InterfaceVersionOut, **REGISTRY_ERRORS},
    summary="Accept a proposed version (operators)",
)
def interface_version_accept(request: HttpRequest, name: str, version: str) -> InterfaceVersion:
    return registry_services.interface_version_accept(actor=signed_in_user(request), name=name, version=version)


@registry_router.post(
    "/interfaces/{name}/versions/{version}/deprecate",
    response={200: InterfaceVersionOut, **REGISTRY_ERRORS},
    summary="Deprecate an accepted version (operators)",
)
def interface_version_deprecate(request: HttpRequest, name: str, version: str) -> InterfaceVersion:
    return registry_services.interface_version_deprecate(actor=signed_in_user(request), name=name, version=version)


router.add_router("", registry_router)
