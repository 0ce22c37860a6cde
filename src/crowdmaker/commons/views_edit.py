"""Pages that write to the commons: publish a design (or start it from a Thing Description), publish a version,
fork, cite, edit a design's text and add images.

Each view parses input with a form from `commons.forms`, calls one service and redirects; a refusal is shown next
to the field it names and changes nothing. A visitor who may not edit a design gets the 403 page. Views never
write to the database themselves.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods

from crowdmaker.commons import selectors, services
from crowdmaker.commons.forms import (
    CiteForm,
    DesignEditForm,
    DesignForm,
    ForkForm,
    ImageForm,
    ImportForm,
    VersionForm,
    bom_text,
    manifest_text,
    tags_text,
)
from crowdmaker.commons.licences import licence_get
from crowdmaker.commons.models import MAX_IMAGES_PER_DESIGN, Design
from crowdmaker.core.errors import DomainError, Forbidden, NotFound
from crowdmaker.people.models import User
from crowdmaker.protocol.services import manifest_import

DESIGN_FORM = "commons/design_form.html"
VERSION_FORM = "commons/version_form.html"
FORK_FORM = "commons/fork_form.html"
CITE_FORM = "commons/cite_form.html"
EDIT_FORM = "commons/design_edit.html"
IMAGE_FORM = "commons/image_form.html"


def _me(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # callers are behind login_required
    return user


def _design(slug: str) -> Design:
    try:
        return selectors.design_by_slug(slug=slug)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _editable_design(request: HttpRequest, slug: str) -> tuple[Design, User]:
    design, me = _design(slug), _me(request)
    if not selectors.design_can_edit(design=design, user=me):
        raise PermissionDenied("Only the design's owners and maintainers may do that.")
    return design, me


def _render(request: HttpRequest, template: str, *, status: int = 200, **context: Any) -> HttpResponse:
    return render(request, template, context, status=status)


def _refused(form: Any, exc: DomainError) -> int:
    """Show a service's refusal on the form; a Forbidden becomes the 403 page."""
    if isinstance(exc, Forbidden):
        raise PermissionDenied(exc.message) from exc
    form.add_domain_error(exc)
    return exc.status


# --- a new design --------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def design_new(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    if request.method == "GET":
        return _render(request, DESIGN_FORM, form=DesignForm(user=me), import_form=ImportForm())
    if request.POST.get("action") == "import":
        return _design_import(request, me)
    form = DesignForm(request.POST, request.FILES, user=me)
    if not form.is_valid():
        return _render(request, DESIGN_FORM, form=form, import_form=ImportForm(), status=400)
    data = form.cleaned_data
    try:
        design = services.design_create(
            actor=me,
            slug=data["slug"],
            title=data["title"],
            licence=data["licence"],
            manifest=data["manifest"],
            summary=data["summary"],
            description=data["description"],
            tags=data["tags"],
            team=data["owner"],
            bom=data["bom"],
            release_notes=data["release_notes"],
            files=data["version_files"],
        )
    except DomainError as exc:
        form.add_domain_error(exc)
        return _render(request, DESIGN_FORM, form=form, import_form=ImportForm(), status=exc.status)
    messages.success(request, f"“{design.title}” is published.")
    return redirect("commons:design_detail", slug=design.slug)


def _design_import(request: HttpRequest, me: User) -> HttpResponse:
    """Read a Thing Description file and show the design form filled with its manifest and title."""
    import_form = ImportForm(request.POST, request.FILES)
    if not import_form.is_valid():
        return _render(request, DESIGN_FORM, form=DesignForm(user=me), import_form=import_form, status=400)
    try:
        manifest = manifest_import(raw=import_form.cleaned_data["thing_description"])
    except DomainError as exc:
        import_form.add_error("thing_description", exc.message)
        return _render(request, DESIGN_FORM, form=DesignForm(user=me), import_form=import_form, status=exc.status)
    title = manifest.get("title")
    title = title if isinstance(title, str) else ""
    initial = {"manifest": manifest_text(manifest), "title": title[:120], "slug": slugify(title)[:50].strip("-")}
    messages.info(request, "The form is filled from your Thing Description: complete it, then publish.")
    return _render(request, DESIGN_FORM, form=DesignForm(user=me, initial=initial), import_form=ImportForm())


# --- versions, forks, citations ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def version_new(request: HttpRequest, slug: str) -> HttpResponse:
    design, me = _editable_design(request, slug)
    if request.method == "GET":
        latest = selectors.latest_version(design=design)
        initial = {"manifest": manifest_text(latest.manifest), "bom": bom_text(latest.bom)} if latest else {}
        return _render(request, VERSION_FORM, design=design, latest=latest, form=VersionForm(initial=initial))
    form = VersionForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render(request, VERSION_FORM, design=design, form=form, status=400)
    data = form.cleaned_data
    try:
        version = services.design_version_publish(
            actor=me,
            design=design,
            manifest=data["manifest"],
            bom=data["bom"],
            release_notes=data["release_notes"],
            files=data["version_files"],
        )
    except DomainError as exc:
        status = _refused(form, exc)
        return _render(request, VERSION_FORM, design=design, form=form, status=status)
    messages.success(request, f"Version {version.number} of “{design.title}” is published.")
    return redirect("commons:version_detail", slug=design.slug, number=version.number)


def _asked_version(asked: str, versions: list[int]) -> int | None:
    """The version named by `?version=`, else the latest. Anything but the plain number of one of the design's
    versions is the 404 page, as on the version's own page: "²" is a digit to `str.isdigit` but not to `int`, and
    a number longer than any version's would only cost time to convert."""
    if not asked:
        return versions[0] if versions else None
    if re.fullmatch(r"[0-9]{1,9}", asked) and int(asked) in versions:
        return int(asked)
    raise Http404("This design has no such version.")


@login_required
@require_http_methods(["GET", "POST"])
def design_fork(request: HttpRequest, slug: str) -> HttpResponse:
    design, me = _design(slug), _me(request)
    licence = licence_get(design.licence)
    context: dict[str, Any] = {"design": design, "licence": licence}
    if not licence.derivatives:
        # Nothing to fill in: say why instead of showing a form that can only be refused.
        status = 200 if request.method == "GET" else Forbidden.status
        return _render(request, FORK_FORM, status=status, **context)
    versions = list(selectors.versions_of(design=design).order_by("-number").values_list("number", flat=True))

    def fork_form(*args: Any, **kwargs: Any) -> ForkForm:
        return ForkForm(*args, user=me, upstream_licence=design.licence, versions=versions, **kwargs)

    if request.method == "GET":
        number = _asked_version(request.GET.get("version", ""), versions)
        form = fork_form(initial={"version": number, "title": design.title})
        return _render(request, FORK_FORM, form=form, **context)
    form = fork_form(request.POST)
    if not form.is_valid():
        return _render(request, FORK_FORM, form=form, status=400, **context)
    data = form.cleaned_data
    try:
        fork = services.design_fork(
            actor=me,
            upstream=selectors.version_of(design=design, number=data["version"]),
            slug=data["slug"],
            title=data["title"],
            licence=data["licence"],
            team=data["owner"],
        )
    except Forbidden as exc:  # the upstream's licence changed to no-derivatives, or the team role went away
        form.add_error(None, exc.message)
        return _render(request, FORK_FORM, form=form, status=exc.status, **context)
    except DomainError as exc:
        form.add_domain_error(exc)
        return _render(request, FORK_FORM, form=form, status=exc.status, **context)
    messages.success(request, f"“{fork.title}” is your remix of “{design.title}”.")
    return redirect("commons:design_detail", slug=fork.slug)


@login_required
@require_http_methods(["GET", "POST"])
def design_cite(request: HttpRequest, slug: str) -> HttpResponse:
    design, me = _editable_design(request, slug)
    if request.method == "GET":
        return _render(request, CITE_FORM, design=design, form=CiteForm())
    form = CiteForm(request.POST)
    if not form.is_valid():
        return _render(request, CITE_FORM, design=design, form=form, status=400)
    try:
        cited = selectors.design_by_slug(slug=form.cleaned_data["cited"].strip())
        services.design_cite(actor=me, design=design, cited=cited, note=form.cleaned_data["note"])
    except NotFound as exc:
        form.add_error("cited", exc.message)
        return _render(request, CITE_FORM, design=design, form=form, status=422)
    except DomainError as exc:
        status = _refused(form, exc)
        return _render(request, CITE_FORM, design=design, form=form, status=status)
    messages.success(request, f"“{design.title}” now cites “{cited.title}”.")
    return redirect("commons:design_detail", slug=design.slug)


# --- the design's text and images ----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def design_edit(request: HttpRequest, slug: str) -> HttpResponse:
    design, me = _editable_design(request, slug)
    if request.method == "GET":
        initial = {"title": design.title, "summary": design.summary, "description": design.description,
                   "tags": tags_text(design.tags)}  # fmt: skip
        return _render(request, EDIT_FORM, design=design, form=DesignEditForm(initial=initial))
    form = DesignEditForm(request.POST)
    if not form.is_valid():
        return _render(request, EDIT_FORM, design=design, form=form, status=400)
    try:
        services.design_update(actor=me, design=design, **form.cleaned_data)
    except DomainError as exc:
        status = _refused(form, exc)
        return _render(request, EDIT_FORM, design=design, form=form, status=status)
    messages.success(request, "The design is saved.")
    return redirect("commons:design_detail", slug=design.slug)


@login_required
@require_http_methods(["GET", "POST"])
def design_image_add(request: HttpRequest, slug: str) -> HttpResponse:
    design, me = _editable_design(request, slug)
    context: dict[str, Any] = {
        "design": design,
        "image_count": design.images.count(),
        "max_images": MAX_IMAGES_PER_DESIGN,
    }
    if request.method == "GET":
        return _render(request, IMAGE_FORM, form=ImageForm(), **context)
    form = ImageForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render(request, IMAGE_FORM, form=form, status=400, **context)
    try:
        services.design_image_add(actor=me, design=design, upload=form.cleaned_data["file"],
                                  alt=form.cleaned_data["alt"])  # fmt: skip
    except DomainError as exc:
        status = _refused(form, exc)
        return _render(request, IMAGE_FORM, form=form, status=status, **context)
    messages.success(request, "The image is added.")
    return redirect("commons:design_detail", slug=design.slug)
