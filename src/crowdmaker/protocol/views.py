"""Pages of the interface registry: the list (kind filter, search), one type with its whole history, proposals of
a new type or version by signed-in makers, and accept/deprecate buttons for operators.

Views parse input with a form and call one service or selector of `protocol`; a refusal is shown next to the
field it names, or above the page, and changes nothing. Views never write to the database themselves.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from crowdmaker.core.errors import DomainError, NotFound
from crowdmaker.people.models import User
from crowdmaker.protocol import selectors, services
from crowdmaker.protocol.forms import (
    InterfaceFilterForm,
    InterfaceProposeForm,
    InterfaceVersionProposeForm,
    dimensions_text,
)
from crowdmaker.protocol.models import InterfaceKind, InterfaceType
from crowdmaker.protocol.semver import Version

INTERFACES_PER_PAGE = 50


def _me(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # callers are behind login_required
    return user


def _may_decide(request: HttpRequest) -> bool:
    """Whether to show accept/deprecate buttons: the same rule `services._require_operator` enforces."""
    user = request.user
    return isinstance(user, User) and user.is_active and user.is_staff


def _interface(name: str) -> InterfaceType:
    try:
        return selectors.interface_detail(name=name)
    except NotFound as exc:
        raise Http404(exc.message) from exc


# --- reading -------------------------------------------------------------------------------------------------


def interface_list(request: HttpRequest) -> HttpResponse:
    form = InterfaceFilterForm(request.GET if ("kind" in request.GET or "q" in request.GET) else None)
    kind: str | None = None
    q: str | None = None
    status = 200
    if form.is_bound:
        if form.is_valid():
            kind = form.cleaned_data["kind"] or None
            q = form.cleaned_data["q"].strip() or None
        else:
            status = 400  # the errors are shown and the whole registry is listed
    paginator = Paginator(selectors.interface_list(kind=kind, q=q), INTERFACES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    rows = [(interface, selectors.latest_accepted(interface)) for interface in page.object_list]
    context = {"form": form, "page": page, "rows": rows, "kind": kind, "q": q or "", "kinds": InterfaceKind.choices}
    return render(request, "protocol/interface_list.html", context, status=status)


def _detail_page(request: HttpRequest, interface: InterfaceType, *, status: int = 200) -> HttpResponse:
    history = selectors.history_of(interface)
    context = {
        "interface": interface,
        "versions": list(reversed(history)),  # newest first; ids grow with versions, which only ever go up
        "latest": selectors.latest_accepted(interface),
        "can_decide": _may_decide(request),
    }
    return render(request, "protocol/interface_detail.html", context, status=status)


def interface_detail(request: HttpRequest, name: str) -> HttpResponse:
    return _detail_page(request, _interface(name))


# --- proposals -----------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def interface_propose(request: HttpRequest) -> HttpResponse:
    template = "protocol/interface_propose.html"
    if request.method == "GET":
        return render(request, template, {"form": InterfaceProposeForm()})
    form = InterfaceProposeForm(request.POST)
    if not form.is_valid():
        return render(request, template, {"form": form}, status=400)
    try:
        row = services.interface_type_propose(actor=_me(request), **form.cleaned_data)
    except DomainError as exc:
        form.add_domain_error(exc)
        return render(request, template, {"form": form}, status=exc.status)
    messages.success(request, f"{row.interface.name} {row.version} is proposed; an operator will decide on it.")
    return redirect("protocol:interface_detail", name=row.interface.name)


def _next_version(interface: InterfaceType) -> str:
    versions = [Version.parse(row.version) for row in selectors.history_of(interface)]
    latest = max(versions, default=None)
    return "1.0.0" if latest is None else f"{latest.major}.{latest.minor + 1}.0"


@login_required
@require_http_methods(["GET", "POST"])
def interface_version_propose(request: HttpRequest, name: str) -> HttpResponse:
    template = "protocol/interface_version_propose.html"
    interface = _interface(name)
    context: dict[str, Any] = {"interface": interface}
    if request.method == "GET":
        history = selectors.history_of(interface)
        initial = {
            "version": _next_version(interface),
            "dimensions": dimensions_text(history[-1].dimensions) if history else "",
        }
        return render(request, template, {**context, "form": InterfaceVersionProposeForm(initial=initial)})
    form = InterfaceVersionProposeForm(request.POST)
    if not form.is_valid():
        return render(request, template, {**context, "form": form}, status=400)
    try:
        row = services.interface_version_propose(actor=_me(request), name=interface.name, **form.cleaned_data)
    except DomainError as exc:
        form.add_domain_error(exc)
        return render(request, template, {**context, "form": form}, status=exc.status)
    messages.success(request, f"{interface.name} {row.version} is proposed; an operator will decide on it.")
    return redirect("protocol:interface_detail", name=interface.name)


# --- decisions (operators) -------------------------------------------------------------------------------------


def _decide(request: HttpRequest, name: str, version: str, *, accept: bool) -> HttpResponse:
    decide = services.interface_version_accept if accept else services.interface_version_deprecate
    try:
        row = decide(actor=_me(request), name=name, version=version)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
        return _detail_page(request, _interface(name), status=exc.status)
    messages.success(request, f"{name} {row.version} is {row.get_status_display().lower()}.")
    return redirect(reverse("protocol:interface_detail", kwargs={"name": name}) + f"#v{row.version}")


@login_required
@require_POST
def interface_version_accept(request: HttpRequest, name: str, version: str) -> HttpResponse:
    return _decide(request, name, version, accept=True)


@login_required
@require_POST
def interface_version_deprecate(request: HttpRequest, name: str, version: str) -> HttpResponse:
    return _decide(request, name, version, accept=False)
