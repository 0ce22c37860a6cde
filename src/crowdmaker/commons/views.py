"""Public pages of the commons: the catalog, a design's page, a version's page and a version's raw manifest.

Read-only: every read goes through `commons.selectors` and nothing here writes. An unknown design or version is
the project's 404 page; a bad catalog filter is a 400 page naming the field, with no results. Links to pages
that other modules provide (forms, systems) appear only when their routes exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe
from django_htmx.middleware import HtmxDetails

from crowdmaker.commons import selectors
from crowdmaker.commons.licences import LICENCES
from crowdmaker.commons.models import Design, DesignVersion, VersionFile
from crowdmaker.commons.systems import systems_of
from crowdmaker.core.errors import NotFound
from crowdmaker.core.markdown import markdown_html
from crowdmaker.people.models import User

HTMX_VARY = ("HX-Request", "HX-Boosted", "HX-History-Restore-Request")  # what chooses the catalog's full page
DESIGNS_PER_PAGE = 24
SEARCH_MAX_LENGTH = 200  # as in the API: longer search text is refused rather than cut
ADD_TO_SYSTEM_TEMPLATE = "commons/_add_to_system.html"  # provided by the systems pages, when present

SORTS = {
    "new": ("Newest first", ("-created_at", "-id")),
    "popular": ("Most remixed", ("-fork_count", "-created_at", "-id")),
    "relevance": ("Best match", ("-rank", "-created_at", "-id")),  # only with search words
}


def _viewer(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _url(name: str, *candidates: dict[str, Any]) -> str | None:
    """The URL of route `name` with the first of `candidates` (keyword arguments) it accepts; None when the
    route does not exist (yet), so a page never links to, or crashes on, a page that is not there."""
    for kwargs in candidates or ({},):
        try:
            return reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    return None


def _design(slug: str) -> Design:
    try:
        return selectors.design_by_slug(slug=slug)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _version(design: Design, number: int) -> DesignVersion:
    try:
        return selectors.version_of(design=design, number=number)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@dataclass(frozen=True)
class FileLink:
    file: VersionFile
    url: str


def _files(design: Design, version: DesignVersion) -> list[FileLink]:
    """A version's files with where to download each: the download route (an attachment, `nosniff`), or the
    storage's own URL while that route is not installed."""
    links = []
    for file in version.files.order_by("name", "id"):
        url = _url("commons:version_file", {"slug": design.slug, "number": version.number, "name": file.name})
        links.append(FileLink(file, url or file.file.url))
    return links


def _owner_url(design: Design) -> str:
    if design.owner_team is not None:
        return reverse("people:team_detail", kwargs={"slug": design.owner_team.slug})
    assert design.owner_user is not None
    return reverse("people:profile", kwargs={"handle": design.owner_user.handle})


# --- the catalog ---------------------------------------------------------------------------------------------


class CatalogForm(forms.Form):
    """The catalog's search and filters, read from the query string."""

    q = forms.CharField(
        label="Search designs", required=False, max_length=SEARCH_MAX_LENGTH,
        help_text="Words from titles, summaries, tags or interface names.",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "lamp, power.usb-c, …"}),
    )  # fmt: skip
    licence = forms.ChoiceField(
        label="Licence", required=False,
        choices=[("", "Any licence"), *((spdx, f"{licence.name} ({spdx})") for spdx, licence in LICENCES.items())],
        error_messages={"invalid_choice": "Choose one of the licences in the list."},
    )  # fmt: skip
    family = forms.CharField(
        label="Family", required=False, max_length=100, widget=forms.TextInput(attrs={"list": "catalog-families"})
    )
    interface = forms.CharField(
        label="Interface", required=False, max_length=100,
        widget=forms.TextInput(attrs={"list": "catalog-interfaces", "autocapitalize": "none", "spellcheck": "false"}),
    )  # fmt: skip
    tag = forms.CharField(
        label="Tag", required=False, max_length=32, widget=forms.TextInput(attrs={"autocapitalize": "none"})
    )
    sort = forms.ChoiceField(
        label="Sort by", required=False, choices=[(key, label) for key, (label, _) in SORTS.items()],
        error_messages={"invalid_choice": "Sort by newest, most remixed or best match."},
    )  # fmt: skip


def _catalog_designs(form: CatalogForm) -> tuple[QuerySet[Design], str]:
    data = form.cleaned_data
    q = data["q"].strip()
    sort = data["sort"] or ("relevance" if q else "new")
    if sort == "relevance" and not q:
        sort = "new"  # nothing to match against: newest first
    designs = selectors.catalog(
        q=q, licence=data["licence"] or None, tag=data["tag"] or None,
        interface=data["interface"] or None, family=data["family"] or None,
    )  # fmt: skip
    return designs.order_by(*SORTS[sort][1]), sort


@require_safe
def catalog(request: HttpRequest) -> HttpResponse:
    form = CatalogForm(request.GET)
    page = None
    sort = "new"
    status = 200
    if form.is_valid():
        designs, sort = _catalog_designs(form)
        page = Paginator(designs, DESIGNS_PER_PAGE).get_page(request.GET.get("page"))
    else:
        status = 400
    kept = request.GET.copy()
    kept.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "sort": sort,
        "filtered": any(request.GET.get(name) for name in ("q", "licence", "family", "interface", "tag")),
        "query": kept.urlencode(),
        "facets": selectors.catalog_facets(),
        "new_design_url": _url("commons:design_new"),
    }
    # htmx swaps only the results (the form stays as the visitor is typing in it). Back and forward restore the
    # whole page from this URL when htmx's history cache misses: that request gets the full page.
    htmx = getattr(request, "htmx", None)
    partial = isinstance(htmx, HtmxDetails) and bool(htmx) and not htmx.boosted and not htmx.history_restore_request
    template = "commons/_catalog_results.html" if partial else "commons/catalog.html"
    response = render(request, template, context, status=status)
    # One URL, two bodies: a cache (the browser's too) must keep them apart.
    patch_vary_headers(response, HTMX_VARY)
    return response


# --- a design's page -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeStep:
    """One step of a nested list, flattened so the template needs no recursion (a chain may be 50 deep):
    "ul" and "/ul" open and close a list, "li" opens an item about `node`, "/li" closes it."""

    tag: str
    design: Design | None = None
    forked_from_version: int | None = None
    current: bool = False


def _lineage_steps(design: Design, lineage: selectors.Lineage) -> list[TreeStep]:
    """The oldest ancestor at the top, each generation nested in its parent, this design, then its forks."""
    steps: list[TreeStep] = []
    chain = [*reversed(lineage.ancestors), design]
    for item in chain:
        version = item.forked_from.number if item is not chain[0] and item.forked_from else None
        steps += [TreeStep("ul"), TreeStep("li", item, version, current=item is design)]

    def descend(nodes: list[selectors.LineageNode]) -> None:
        # Depth first without Python recursion: what is still to write, next first.
        if not nodes:
            return
        steps.append(TreeStep("ul"))
        pending: list[selectors.LineageNode | str] = [*nodes, "/ul"]
        while pending:
            item = pending.pop(0)
            if isinstance(item, str):
                steps.append(TreeStep(item))
                continue
            steps.append(TreeStep("li", item.design, item.forked_from_version))
            if item.children:
                steps.append(TreeStep("ul"))
                pending[:0] = [*item.children, "/ul", "/li"]
            else:
                steps.append(TreeStep("/li"))

    descend(lineage.descendants)
    steps += [TreeStep("/li"), TreeStep("/ul")] * len(chain)
    return steps


def _actions(design: Design, *, can_edit: bool, signed_in: bool, latest: DesignVersion | None) -> list[dict[str, str]]:
    """Links to the forms that exist, for who may use them."""
    slug = {"slug": design.slug}
    wanted: list[tuple[str, str, tuple[dict[str, Any], ...]]] = []
    if can_edit:
        wanted += [
            ("commons:version_new", "Publish a new version", (slug,)),
            ("commons:design_edit", "Edit the design", (slug,)),
            ("commons:design_image_add", "Add an image", (slug,)),
            ("commons:design_cite", "Cite a design", (slug,)),
        ]
    if signed_in and latest is not None and LICENCES[design.licence].derivatives:
        wanted.append(("commons:design_fork", "Remix (fork) this design", (slug,)))
    actions = []
    for name, label, candidates in wanted:
        url = _url(name, *candidates)
        if url is not None:
            actions.append({"url": url, "label": label, "name": name.split(":")[1]})
    return actions


def _add_to_system(viewer: User | None) -> dict[str, Any]:
    """The "add to a system" fragment of the systems pages, with the viewer's systems, when it is installed."""
    try:
        get_template(ADD_TO_SYSTEM_TEMPLATE)
    except TemplateDoesNotExist:
        return {"add_to_system_template": None}
    mine = list(systems_of(owner=viewer).order_by("-id")) if viewer is not None else []
    return {"add_to_system_template": ADD_TO_SYSTEM_TEMPLATE, "systems": mine}


def _version_context(design: Design, version: DesignVersion | None) -> dict[str, Any]:
    """What the design and version pages show about one version: interfaces, families, BOM and files."""
    if version is None:
        return {}
    provides, requires = selectors.manifest_entries(version.manifest)
    families = version.manifest.get("cm:family") or []
    return {
        "provides": provides,
        "requires": requires,
        "families": [name for name in families if isinstance(name, str)],
        "bom": selectors.bom_summary(version.bom),
        "files": _files(design, version),
        "manifest_url": reverse("commons:version_manifest", kwargs={"slug": design.slug, "number": version.number}),
        "compatible_url": _url("commons:version_compatible", {"slug": design.slug, "number": version.number}),
    }


@require_safe
def design_detail(request: HttpRequest, slug: str) -> HttpResponse:
    design = _design(slug)
    viewer = _viewer(request)
    versions = list(selectors.versions_of(design=design).order_by("-number"))
    latest = versions[0] if versions else None
    can_edit = selectors.design_can_edit(design=design, user=viewer)
    lineage = selectors.lineage(design=design)
    context = {
        "design": design,
        "owner_name": selectors.owner_name(design),
        "owner_url": _owner_url(design),
        "licence": LICENCES[design.licence],
        "description_html": selectors.description_html(design),
        "images": list(design.images.order_by("id")),
        "latest": latest,
        "versions": versions,
        "attribution": selectors.attribution_chain(design=design),
        "lineage": lineage,
        "lineage_steps": _lineage_steps(design, lineage),
        "cites": list(selectors.citations_of(design=design)),
        "cited_by": list(selectors.cited_by(design=design)),
        "can_edit": can_edit,
        "actions": _actions(design, can_edit=can_edit, signed_in=viewer is not None, latest=latest),
        **_version_context(design, latest),
    }
    if latest is not None:
        context.update(version=latest, **_add_to_system(viewer))  # the fragment adds `version`
    return render(request, "commons/design_detail.html", context)


# --- a version's page and its manifest -------------------------------------------------------------------------


def _fork_url(design: Design, version: DesignVersion, *, signed_in: bool) -> str | None:
    """The fork form, starting from this version, for a signed-in visitor when the licence allows remixes."""
    url = _url("commons:design_fork", {"slug": design.slug})
    if url is None or not signed_in or not LICENCES[design.licence].derivatives:
        return None
    return f"{url}?version={version.number}"


@require_safe
def version_detail(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    design = _design(slug)
    version = _version(design, number)
    numbers = list(selectors.versions_of(design=design).values_list("number", flat=True))
    context = {
        "design": design,
        "version": version,
        "owner_name": selectors.owner_name(design),
        "owner_url": _owner_url(design),
        "licence": LICENCES[design.licence],
        "release_notes_html": markdown_html(version.release_notes),
        "manifest_text": json.dumps(version.manifest, indent=2, ensure_ascii=False),
        "forks": list(selectors.forks_of_version(version=version)),
        "attribution": selectors.attribution_chain(design=design),
        "previous_number": max((n for n in numbers if n < number), default=None),
        "next_number": min((n for n in numbers if n > number), default=None),
        "latest_number": max(numbers),
        "fork_url": _fork_url(design, version, signed_in=_viewer(request) is not None),
        **_version_context(design, version),
        **_add_to_system(_viewer(request)),
    }
    return render(request, "commons/version_detail.html", context)


@require_safe
def version_manifest(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """The version's manifest exactly as published, as a Thing Description download."""
    design = _design(slug)
    version = _version(design, number)
    response = HttpResponse(
        json.dumps(version.manifest, indent=2, ensure_ascii=False) + "\n",
        content_type="application/td+json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{design.slug}-v{version.number}.td.json"'
    return response
