"""JSON API of systems: a user's saved systems, their check, "complete my system", "compatible with" and the SVG
diagram; a read-only view by share link; and what can join a design version.

Every /systems operation is the owner's: another account gets the same 404 as for a missing system. Handlers
validate input and call one service or selector of `commons.systems`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from crowdmaker.commons import selectors, systems
from crowdmaker.commons.api import PUBLIC_ERRORS
from crowdmaker.commons.diagram import system_svg
from crowdmaker.commons.models import System, SystemMember
from crowdmaker.core.api import Cursor, ErrorOut, InputSchema
from crowdmaker.people.auth import PUBLIC_AUTH, signed_in_user
from crowdmaker.protocol import engine

router = Router(tags=["systems"])

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
SVG = "image/svg+xml"


# --- schemas -------------------------------------------------------------------------------------------------


class SystemIn(InputSchema):
    name: str = Field(..., min_length=1, max_length=100)


class SystemMemberIn(InputSchema):
    design: str = Field(..., min_length=1, max_length=50, description="The design's slug.")
    version: int = Field(..., ge=1, description="The version number.")
    quantity: int = Field(1, ge=1, le=systems.MAX_QUANTITY)


class SystemMemberOut(Schema):
    id: int
    design: str
    title: str
    version: int
    quantity: int

    @staticmethod
    def resolve_design(member: SystemMember) -> str:
        return member.design_version.design.slug

    @staticmethod
    def resolve_title(member: SystemMember) -> str:
        return member.design_version.design.title

    @staticmethod
    def resolve_version(member: SystemMember) -> int:
        return member.design_version.number


class SystemOut(Schema):
    id: int
    name: str
    share_token: str = Field(..., description="Anyone with GET /shared/systems/{share_token} can read the system.")
    member_count: int = 0
    created_at: datetime


class SystemDetailOut(SystemOut):
    members: list[SystemMemberOut]

    @staticmethod
    def resolve_members(system: System) -> list[SystemMember]:
        return system.members_list  # type: ignore[attr-defined]


class RequirementOut(Schema):
    member: str = Field(..., description='The engine member: "<design>@v<version>#<copy>".')
    position: int = Field(..., description="Index in the member's cm:requires.")
    interface: str


class ProviderOut(Schema):
    member: str
    position: int = Field(..., description="Index in the member's cm:provides.")


class LinkOut(Schema):
    requirement: RequirementOut
    provider: ProviderOut


class TakenByOut(Schema):
    provider: ProviderOut
    used_by: list[str] = Field(..., description="Labels of the members whose loads fill that provider.")


class UnmetOut(Schema):
    member: str
    position: int
    label: str
    interface: str
    version_range: str
    reason: str = Field(..., description="no_provider, own_provider_only, version_mismatch, capacity_too_small, ...")
    message: str
    versions_seen: list[str]
    taken_by: list[TakenByOut]


class CheckOut(Schema):
    status: str = Field(..., description="complete, incomplete, or undecided (a search budget ran out).")
    complete: bool
    assignment: list[LinkOut]
    unmet: list[UnmetOut]
    maximal: bool
    undecided_interfaces: list[str]


class ProductOut(Schema):
    design: str
    version: int
    title: str


class SuggestionOut(Schema):
    products: list[ProductOut]
    score: float


class CompleteOut(Schema):
    status: str = Field(..., description="complete, found, none (proven), or budget_exhausted.")
    additions: int
    suggestions: list[SuggestionOut]
    checked: int
    elapsed_ms: float


class CompatibleProductOut(ProductOut):
    links: list[str]
    still_needs: list[str]


class CompatibleOut(Schema):
    products: list[CompatibleProductOut]
    examined: int
    budget_exhausted: bool


class SharedSystemOut(Schema):
    name: str
    created_at: datetime
    members: list[SystemMemberOut]
    check: CheckOut


# --- engine results as JSON -------------------------------------------------------------------------------------


def _check(check: systems.SystemCheck) -> dict[str, Any]:
    by_id = {m.id: m for m in check.engine_members}
    result = check.result

    def requirement(ref: engine.RequirementRef) -> dict[str, Any]:
        interface = by_id[ref.member_id].requires[ref.position].interface
        return {"member": ref.member_id, "position": ref.position, "interface": interface}

    return {
        "status": result.status,
        "complete": result.complete,
        "assignment": [
            {"requirement": requirement(req), "provider": {"member": prov.member_id, "position": prov.position}}
            for req, prov in sorted(result.assignment.items())
        ],
        "unmet": [
            {
                "member": u.requirement.member_id,
                "position": u.requirement.position,
                "label": u.label,
                "interface": u.interface,
                "version_range": u.version_range,
                "reason": u.reason,
                "message": u.message,
                "versions_seen": list(u.versions_seen),
                "taken_by": [
                    {
                        "provider": {"member": p.member_id, "position": p.position},
                        "used_by": [use.label for use in uses],
                    }
                    for p, uses in u.taken_by.items()
                ],
            }
            for u in result.unmet
        ],
        "maximal": result.maximal,
        "undecided_interfaces": list(result.undecided_interfaces),
    }


def _product(member: engine.Member) -> dict[str, Any]:
    slug, _, number = member.id.partition("@v")  # catalog members are "<slug>@v<number>"
    return {"design": slug, "version": int(number), "title": member.label}


def _compatible(result: engine.CompatibleResult) -> dict[str, Any]:
    return {
        "products": [
            {**_product(c.product), "links": list(c.links), "still_needs": list(c.still_needs)} for c in result.products
        ],
        "examined": result.examined,
        "budget_exhausted": result.budget_exhausted,
    }


def _detail(system: System) -> System:
    members = systems.system_members(system=system)
    system.members_list = members  # type: ignore[attr-defined]
    system.member_count = len(members)  # type: ignore[attr-defined]
    return system


# --- handlers -------------------------------------------------------------------------------------------------


@router.post("/systems", response={201: SystemDetailOut, **ERRORS}, summary="Save a new, empty system")
def system_create(request: HttpRequest, payload: SystemIn) -> Status:
    system = systems.system_create(actor=signed_in_user(request), name=payload.name)
    return Status(201, _detail(system))


@router.get("/systems", response={200: list[SystemOut], **ERRORS}, summary="Your systems, newest first")
@paginate(Cursor, ordering=("-id",))
def systems_list(request: HttpRequest) -> object:
    return systems.systems_of(owner=signed_in_user(request))


@router.get("/systems/{system_id}", response={200: SystemDetailOut, **ERRORS}, summary="One of your systems")
def system_detail(request: HttpRequest, system_id: int) -> System:
    return _detail(systems.system_owned(actor=signed_in_user(request), system_id=system_id))


@router.delete("/systems/{system_id}", response={204: None, **ERRORS}, summary="Delete one of your systems")
def system_delete(request: HttpRequest, system_id: int) -> Status:
    systems.system_delete(actor=signed_in_user(request), system_id=system_id)
    return Status(204, None)


@router.post(
    "/systems/{system_id}/members",
    response={201: SystemMemberOut, **ERRORS},
    summary="Add copies of a design version to a system (adding one already there raises its quantity)",
)
def system_member_add(request: HttpRequest, system_id: int, payload: SystemMemberIn) -> Status:
    actor = signed_in_user(request)
    systems.system_owned(actor=actor, system_id=system_id)  # another's system is a 404 before any design lookup
    version = selectors.version_of(design=selectors.design_by_slug(slug=payload.design), number=payload.version)
    member = systems.system_member_add(
        actor=actor, system_id=system_id, design_version=version, quantity=payload.quantity
    )
    return Status(201, member)


@router.delete(
    "/systems/{system_id}/members/{member_id}",
    response={204: None, **ERRORS},
    summary="Remove a member (all its copies) from a system",
)
def system_member_remove(request: HttpRequest, system_id: int, member_id: int) -> Status:
    systems.system_member_remove(actor=signed_in_user(request), system_id=system_id, member_id=member_id)
    return Status(204, None)


@router.get(
    "/systems/{system_id}/check",
    response={200: CheckOut, **ERRORS},
    summary="Whether the system is complete: the assignment and, for each unmet requirement, why",
)
def system_check(request: HttpRequest, system_id: int) -> dict[str, Any]:
    system = systems.system_owned(actor=signed_in_user(request), system_id=system_id)
    return _check(systems.system_check_result(system=system))


@router.get(
    "/systems/{system_id}/complete",
    response={200: CompleteOut, **ERRORS},
    summary="Complete my system: the fewest catalog products that make it complete (at most 2, within 0.5 s)",
)
def system_complete(request: HttpRequest, system_id: int) -> dict[str, Any]:
    system = systems.system_owned(actor=signed_in_user(request), system_id=system_id)
    result = systems.system_complete_suggestions(system=system)
    return {
        "status": result.status,
        "additions": result.additions,
        "suggestions": [{"products": [_product(p) for p in s.products], "score": s.score} for s in result.suggestions],
        "checked": result.checked,
        "elapsed_ms": round(result.elapsed_s * 1000, 1),
    }


@router.get(
    "/systems/{system_id}/compatible",
    response={200: CompatibleOut, **ERRORS},
    summary="Catalog products that could be added to the system without breaking it",
)
def system_compatible(request: HttpRequest, system_id: int) -> dict[str, Any]:
    system = systems.system_owned(actor=signed_in_user(request), system_id=system_id)
    return _compatible(systems.system_compatible(system=system))


def _svg(system: System) -> HttpResponse:
    check = systems.system_check_result(system=system)
    return HttpResponse(system_svg(check.engine_members, check.result, title=system.name), content_type=SVG)


@router.get(
    "/systems/{system_id}/diagram.svg",
    response={200: None, **ERRORS},
    openapi_extra={"responses": {200: {"description": "The diagram", "content": {SVG: {}}}}},
    summary="The system as an SVG diagram: members, satisfied links, unmet requirements in red",
)
def system_diagram(request: HttpRequest, system_id: int) -> HttpResponse:
    return _svg(systems.system_owned(actor=signed_in_user(request), system_id=system_id))


@router.get(
    "/shared/systems/{share_token}",
    auth=None,
    response={200: SharedSystemOut, **PUBLIC_ERRORS},
    summary="A system shared by link (read-only, no account needed)",
)
def shared_system(request: HttpRequest, share_token: str) -> dict[str, Any]:
    system = systems.system_shared(share_token=share_token)
    check = systems.system_check_result(system=system)
    return {"name": system.name, "created_at": system.created_at, "members": check.members, "check": _check(check)}


@router.get(
    "/shared/systems/{share_token}/diagram.svg",
    auth=None,
    response={200: None, **PUBLIC_ERRORS},
    openapi_extra={"responses": {200: {"description": "The diagram", "content": {SVG: {}}}}},
    summary="The diagram of a system shared by link",
)
def shared_system_diagram(request: HttpRequest, share_token: str) -> HttpResponse:
    return _svg(systems.system_shared(share_token=share_token))


@router.get(
    "/designs/{slug}/versions/{number}/compatible",
    auth=PUBLIC_AUTH,
    response={200: CompatibleOut, **PUBLIC_ERRORS},
    summary="Catalog products this design version can join",
)
def version_compatible(request: HttpRequest, slug: str, number: int) -> dict[str, Any]:
    version = selectors.version_of(design=selectors.design_by_slug(slug=slug), number=number)
    return _compatible(systems.version_compatible(version=version))
