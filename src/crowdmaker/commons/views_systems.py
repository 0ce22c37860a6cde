"""Pages of systems: my systems, one system with its check, diagram, "complete my system" and "compatible with",
the read-only page behind a share link, adding a design version to a system, and what can join a version.

Views parse input with a form and call the services and selectors of `commons.systems` only. A system is its
owner's: anyone else gets the same 404 as for a system that does not exist, on every page and action. A refusal
is shown on the page with its reason and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from crowdmaker.commons import selectors, systems
from crowdmaker.commons.diagram import system_svg
from crowdmaker.commons.forms_systems import (
    NEW_SYSTEM,
    AddToSystemForm,
    ProductsForm,
    SystemCreateForm,
    SystemMemberAddForm,
    product_key,
)
from crowdmaker.commons.models import DesignVersion, System
from crowdmaker.core.errors import DomainError, NotFound
from crowdmaker.people.models import User
from crowdmaker.protocol import engine

DESIGN_SUGGESTIONS = 200  # designs offered as you type a design's address (a <datalist>)
REASONS = {
    engine.NO_PROVIDER: "no provider",
    engine.OWN_PROVIDER_ONLY: "only itself",
    engine.VERSION_MISMATCH: "wrong version",
    engine.CAPACITY_TOO_SMALL: "too small",
    engine.CAPACITY_EXHAUSTED: "capacity used up",
    engine.UNDECIDED: "undecided",
}


def _me(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # callers are behind login_required
    return user


def _owned(request: HttpRequest, system_id: int) -> System:
    try:
        return systems.system_owned(actor=_me(request), system_id=system_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _version(slug: str, number: int) -> DesignVersion:
    try:
        return selectors.version_of(design=selectors.design_by_slug(slug=slug), number=number)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _refusal_status(exc: DomainError) -> int:
    # A design or version named in a form that does not exist is bad input on a page that does exist.
    return 422 if isinstance(exc, NotFound) else exc.status


# --- engine results in words -------------------------------------------------------------------------------------


def _product(member: engine.Member) -> dict[str, Any]:
    """A catalog product (engine id "<slug>@v<number>") for the templates."""
    slug, _, number = member.id.partition("@v")
    return {"design": slug, "version": int(number), "title": member.label, "key": product_key(slug, int(number))}


def _check_context(system: System) -> dict[str, Any]:
    check = systems.system_check_result(system=system)
    by_id = {member.id: member for member in check.engine_members}
    links = []
    for requirement, provider in sorted(check.result.assignment.items()):
        requirer = by_id[requirement.member_id]
        links.append(
            {
                "requirer": requirer.label,
                "interface": requirer.requires[requirement.position].interface,
                "provider": by_id[provider.member_id].label,
            }
        )
    return {
        "system": system,
        "members": check.members,
        "unit_count": sum(member.quantity for member in check.members),
        "check": check.result,
        "unmet": [(REASONS.get(u.reason, u.reason), u) for u in check.result.unmet],
        "links": links,
        # The diagram escapes every piece of text it draws (titles and messages come from makers).
        "diagram": mark_safe(system_svg(check.engine_members, check.result, title=system.name)),  # noqa: S308
    }


def _completion(system: System) -> dict[str, Any]:
    result = systems.system_complete_suggestions(system=system)
    return {
        "status": result.status,
        "additions": result.additions,
        "suggestions": [[_product(p) for p in suggestion.products] for suggestion in result.suggestions],
        "max_additions": systems.COMPLETE_MAX_ADDITIONS,
    }


def _compatible(result: engine.CompatibleResult) -> dict[str, Any]:
    return {
        "products": [
            {**_product(c.product), "links": list(c.links), "still_needs": list(c.still_needs)} for c in result.products
        ],
        "budget_exhausted": result.budget_exhausted,
    }


def _system_page(
    request: HttpRequest, system: System, *, status: int = 200, add_form: SystemMemberAddForm | None = None
) -> HttpResponse:
    context = _check_context(system)
    if context["members"] and not context["check"].complete:
        context["completion"] = _completion(system)
    if context["members"]:
        context["compatible"] = _compatible(systems.system_compatible(system=system))
    context.update(
        add_form=add_form or SystemMemberAddForm(),
        share_url=request.build_absolute_uri(reverse("commons:system_shared", args=[system.share_token])),
        design_slugs=selectors.catalog().order_by("slug").values_list("slug", "title")[:DESIGN_SUGGESTIONS],
    )
    return render(request, "commons/system_detail.html", context, status=status)


# --- my systems --------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def system_list(request: HttpRequest) -> HttpResponse:
    template = "commons/system_list.html"
    me = _me(request)
    form = SystemCreateForm(request.POST if request.method == "POST" else None)
    status = 200
    if form.is_bound:
        if form.is_valid():
            try:
                system = systems.system_create(actor=me, name=form.cleaned_data["name"])
            except DomainError as exc:
                form.add_domain_error(exc)
                status = exc.status
            else:
                messages.success(request, f"“{system.name}” is saved. Add products to it below.")
                return redirect("commons:system_detail", system_id=system.id)
        else:
            status = 400
    mine = systems.systems_of(owner=me).order_by("-id")
    return render(request, template, {"form": form, "systems": mine}, status=status)


@login_required
def system_detail(request: HttpRequest, system_id: int) -> HttpResponse:
    return _system_page(request, _owned(request, system_id))


@login_required
@require_POST
def system_member_add(request: HttpRequest, system_id: int) -> HttpResponse:
    system = _owned(request, system_id)  # another's system is a 404 before any design lookup
    form = SystemMemberAddForm(request.POST)
    if not form.is_valid():
        return _system_page(request, system, status=400, add_form=form)
    quantity = form.cleaned_data["quantity"]
    try:
        design = selectors.design_by_slug(slug=form.cleaned_data["design"])
    except NotFound as exc:
        form.add_error("design", exc.message)
        return _system_page(request, system, status=_refusal_status(exc), add_form=form)
    number = form.cleaned_data["version"]
    try:
        version = (
            selectors.version_of(design=design, number=number) if number else selectors.latest_version(design=design)
        )
        if version is None:
            raise NotFound("This design has no published version.")
    except NotFound as exc:
        form.add_error("version", exc.message)
        return _system_page(request, system, status=_refusal_status(exc), add_form=form)
    try:
        systems.system_member_add(actor=_me(request), system_id=system.id, design_version=version, quantity=quantity)
    except DomainError as exc:
        form.add_domain_error(exc)
        return _system_page(request, system, status=_refusal_status(exc), add_form=form)
    messages.success(request, f"Added {quantity} \N{MULTIPLICATION SIGN} {design.title} (version {version.number}).")
    return redirect("commons:system_detail", system_id=system.id)


@login_required
@require_POST
def system_products_add(request: HttpRequest, system_id: int) -> HttpResponse:
    """One click adds a whole suggestion (or one compatible product): all of it, or nothing."""
    system = _owned(request, system_id)
    form = ProductsForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.errors["product"]))
        return _system_page(request, system, status=400)
    me = _me(request)
    added = []
    try:
        with transaction.atomic():  # several additions: a refusal of the last one undoes the first
            for slug, number in form.cleaned_data["product"]:
                version = selectors.version_of(design=selectors.design_by_slug(slug=slug), number=number)
                systems.system_member_add(actor=me, system_id=system.id, design_version=version, quantity=1)
                added.append(version.design.title)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _system_page(request, system, status=_refusal_status(exc))
    messages.success(request, f"Added {', '.join(added)}.")
    return redirect("commons:system_detail", system_id=system.id)


@login_required
@require_POST
def system_member_remove(request: HttpRequest, system_id: int, member_id: int) -> HttpResponse:
    system = _owned(request, system_id)
    member = next((m for m in systems.system_members(system=system) if m.id == member_id), None)
    if member is None:
        raise Http404("This system has no such member.")
    try:
        systems.system_member_remove(actor=_me(request), system_id=system.id, member_id=member_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    messages.success(request, f"Removed {member.design_version.design.title} from “{system.name}”.")
    return redirect("commons:system_detail", system_id=system.id)


@login_required
@require_http_methods(["GET", "POST"])
def system_delete(request: HttpRequest, system_id: int) -> HttpResponse:
    system = _owned(request, system_id)
    if request.method == "GET":
        return render(request, "commons/system_delete.html", {"system": system})
    try:
        systems.system_delete(actor=_me(request), system_id=system.id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    messages.success(request, f"“{system.name}” is deleted.")
    return redirect("commons:system_list")


def system_shared(request: HttpRequest, share_token: str) -> HttpResponse:
    """Read-only, for anyone holding the link: no owner actions, even for the owner (they have their own page)."""
    try:
        system = systems.system_shared(share_token=share_token)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    context = _check_context(system)
    context["is_owner"] = request.user.is_authenticated and request.user.pk == system.owner_id
    return render(request, "commons/system_shared.html", context)


# --- from a design version ---------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def version_add_to_system(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """Add a design version to one of my systems, or to a new one; the design page includes the form."""
    template = "commons/system_add_version.html"
    version = _version(slug, number)
    me = _me(request)
    mine = list(systems.systems_of(owner=me).order_by("-id"))
    context: dict[str, Any] = {"design": version.design, "version": version, "systems": mine}
    if request.method == "GET":
        return render(request, template, {**context, "form": AddToSystemForm(systems=mine)})
    form = AddToSystemForm(request.POST, systems=mine)
    if not form.is_valid():
        return render(request, template, {**context, "form": form}, status=400)
    quantity = form.cleaned_data["quantity"]
    try:
        with transaction.atomic():  # a new system and its first product, or neither
            if form.cleaned_data["system"] == NEW_SYSTEM:
                system = systems.system_create(actor=me, name=form.cleaned_data["new_system_name"])
            else:
                system = systems.system_owned(actor=me, system_id=int(form.cleaned_data["system"]))
            systems.system_member_add(actor=me, system_id=system.id, design_version=version, quantity=quantity)
    except DomainError as exc:
        form.add_domain_error(exc)
        return render(request, template, {**context, "form": form}, status=_refusal_status(exc))
    messages.success(
        request,
        f"Added {quantity} \N{MULTIPLICATION SIGN} {version.design.title} (version {version.number}) to “{system.name}”.",
    )
    return redirect("commons:system_detail", system_id=system.id)


def version_compatible(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    version = _version(slug, number)
    context = {
        "design": version.design,
        "version": version,
        "compatible": _compatible(systems.version_compatible(version=version)),
    }
    return render(request, "commons/system_version_compatible.html", context)
