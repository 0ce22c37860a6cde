"""JSON API of `commons`: the catalog of designs, their versions, lineage and attribution, forks, licences.

Reads are public (credentials that are sent are still checked); writes need a signed-in account or a
read-write token. Handlers validate input and call one service or selector.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, File, Form, Router, Schema, Status, UploadedFile
from ninja.pagination import paginate

from crowdmaker.commons import selectors, services
from crowdmaker.commons.licences import LICENCES
from crowdmaker.commons.models import Citation, Design, DesignImage, DesignVersion, VersionFile
from crowdmaker.core.api import Cursor, ErrorOut, InputSchema
from crowdmaker.core.errors import Invalid, NotFound
from crowdmaker.people import selectors as people_selectors
from crowdmaker.people.auth import PUBLIC_AUTH, signed_in_user

router = Router(tags=["commons"])

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
PUBLIC_ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}


# --- schemas -------------------------------------------------------------------------------------------------


class OwnerOut(Schema):
    kind: Literal["maker", "team"]
    handle: str = Field(..., description="The maker's handle or the team's slug.")
    name: str


class ForkedFromOut(Schema):
    slug: str
    title: str
    version: int


class DesignOut(Schema):
    slug: str
    title: str
    summary: str
    licence: str
    tags: list[str]
    interfaces: list[str] = Field(..., description="Interfaces the latest version provides or requires.")
    families: list[str] = Field(..., description="Families (cm:family) the latest version claims to follow.")
    owner: OwnerOut
    forked_from: ForkedFromOut | None
    fork_count: int = Field(0, description="Designs forked directly from any version of this one.")
    created_at: datetime

    @staticmethod
    def resolve_owner(design: Design) -> dict[str, str]:
        kind = "team" if design.owner_team_id else "maker"
        return {"kind": kind, "handle": selectors.owner_handle(design), "name": selectors.owner_name(design)}

    @staticmethod
    def resolve_forked_from(design: Design) -> dict[str, Any] | None:
        version = design.forked_from
        if version is None:
            return None
        return {"slug": version.design.slug, "title": version.design.title, "version": version.number}

    @staticmethod
    def resolve_fork_count(design: Design) -> int:
        return getattr(design, "fork_count", 0)


class BomLineOut(Schema):
    item: str
    quantity: int
    unit_cost: int = Field(..., description="In minor units (cents) of the currency.")
    currency: str


class VersionFileOut(Schema):
    name: str
    content_type: str
    size: int = Field(..., description="Bytes.")
    sha256: str
    url: str = Field(..., description="Where to download it (always as an attachment).")

    @staticmethod
    def resolve_url(file: VersionFile) -> str:
        return reverse("commons:version_file", args=[file.version.design.slug, file.version.number, file.name])


class VersionOut(Schema):
    number: int
    release_notes: str
    manifest: dict[str, Any]
    bom: list[BomLineOut]
    files: list[VersionFileOut]
    published_by: str
    published_at: datetime

    @staticmethod
    def resolve_published_by(version: DesignVersion) -> str:
        return version.published_by.handle

    @staticmethod
    def resolve_files(version: DesignVersion) -> list[VersionFile]:
        return list(version.files.all())  # versions_with_files prefetches them, each with its version


class AttributionOut(Schema):
    slug: str
    title: str
    owner: str
    licence: str
    licence_name: str
    version: int | None = Field(..., description="For an ancestor: the version its remix was forked from.")


class DesignRefOut(Schema):
    slug: str
    title: str


class LineageNodeOut(Schema):
    slug: str
    title: str
    forked_from_version: int | None
    children: list[LineageNodeOut]


LineageNodeOut.model_rebuild()


class LineageOut(Schema):
    ancestors: list[DesignRefOut] = Field(..., description="Parent first, then grandparent, ...")
    descendants: list[LineageNodeOut]
    truncated: bool


class ImageOut(Schema):
    id: int
    url: str
    alt: str
    content_type: str
    size: int

    @staticmethod
    def resolve_url(image: DesignImage) -> str:
        return image.file.url


class DesignDetailOut(DesignOut):
    description: str = Field(..., description="Markdown source as written.")
    description_html: str = Field(..., description="The description's Markdown rendered to sanitised HTML.")
    latest_version: VersionOut | None
    attribution: list[AttributionOut]
    lineage: LineageOut
    cites: list[DesignRefOut]
    images: list[ImageOut]

    @staticmethod
    def resolve_images(design: Design) -> list[DesignImage]:
        return list(design.images.order_by("id"))


class LicenceOut(Schema):
    spdx: str
    name: str
    url: str
    derivatives: bool
    commercial: bool
    share_alike: bool
    attribution: bool
    derivative_licences: list[str] = Field(..., description="For share-alike licences: what a fork may take.")


class DesignIn(InputSchema):
    slug: str = Field(..., min_length=2, max_length=50, description="Lowercase letters, digits, hyphens.")
    title: str = Field(..., min_length=1, max_length=120)
    summary: str = Field("", max_length=300)
    description: str = Field("", max_length=20000, description="Markdown.")
    licence: str = Field(..., max_length=40, description="SPDX id; see GET /licences.")
    tags: list[str] = Field(default_factory=list, max_length=10)
    team: str | None = Field(None, max_length=50, description="Publish for this team (you: owner or maintainer).")
    manifest: dict[str, Any] = Field(..., description="WoT Thing Description 1.1 with the cm: extension.")
    bom: list[Any] = Field(default_factory=list, max_length=500)
    release_notes: str = Field("", max_length=5000)


class VersionIn(InputSchema):
    manifest: dict[str, Any]
    bom: list[Any] = Field(default_factory=list, max_length=500)
    release_notes: str = Field("", max_length=5000)


class ForkIn(InputSchema):
    version: int = Field(..., ge=1, description="The number of the upstream version to fork.")
    slug: str = Field(..., min_length=2, max_length=50)
    title: str = Field(..., min_length=1, max_length=120)
    licence: str = Field(..., max_length=40, description="Must be allowed by the upstream licence.")
    summary: str | None = Field(None, max_length=300)
    description: str = Field("", max_length=20000)
    tags: list[str] | None = Field(None, max_length=10)
    team: str | None = Field(None, max_length=50)
    manifest: dict[str, Any] | None = Field(None, description="Defaults to the upstream version's manifest.")
    bom: list[Any] | None = Field(None, max_length=500, description="Defaults to the upstream version's.")
    release_notes: str = Field("", max_length=5000)


class DesignUpdateIn(InputSchema):
    title: str | None = Field(None, min_length=1, max_length=120)
    summary: str | None = Field(None, max_length=300)
    description: str | None = Field(None, max_length=20000, description="Markdown.")
    tags: list[str] | None = Field(None, max_length=10)


class CitationIn(InputSchema):
    cited: str = Field(..., min_length=2, max_length=50, description="The slug of the design this one builds on.")
    note: str = Field("", max_length=300)


class CitationOut(Schema):
    design: str
    cited: str
    note: str
    created_at: datetime

    @staticmethod
    def resolve_design(citation: Citation) -> str:
        return citation.design.slug

    @staticmethod
    def resolve_cited(citation: Citation) -> str:
        return citation.cited.slug


SORTS = ("new", "popular")


class CatalogCursor(Cursor):
    """Cursor pagination whose ordering follows the `sort` filter (one paginator per ordering, no shared state)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ordering=("-id",), **kwargs)
        self.by_sort = {"new": Cursor(ordering=("-id",)), "popular": Cursor(ordering=("-fork_count", "-id"))}

    def paginate_queryset(self, queryset: QuerySet[Any], pagination: Any, request: HttpRequest, **params: Any) -> Any:
        sort = params.get("sort")
        return self.by_sort[sort if isinstance(sort, str) and sort in SORTS else "new"].paginate_queryset(
            queryset, pagination, request, **params
        )


# --- handlers -------------------------------------------------------------------------------------------------


def _detail(design: Design) -> Design:
    """The design with what its detail page shows attached as attributes, for DesignDetailOut."""

    def node(item: selectors.LineageNode) -> dict[str, Any]:
        return {
            "slug": item.design.slug,
            "title": item.design.title,
            "forked_from_version": item.forked_from_version,
            "children": [node(child) for child in item.children],
        }

    lineage = selectors.lineage(design=design)
    design.fork_count = Design.objects.filter(forked_from__design=design).count()  # type: ignore[attr-defined]
    design.description_html = selectors.description_html(design)  # type: ignore[attr-defined]
    design.latest_version = selectors.latest_version(design=design)  # type: ignore[attr-defined]
    design.attribution = selectors.attribution_chain(design=design)  # type: ignore[attr-defined]
    design.lineage = {  # type: ignore[attr-defined]
        "ancestors": [{"slug": d.slug, "title": d.title} for d in lineage.ancestors],
        "descendants": [node(item) for item in lineage.descendants],
        "truncated": lineage.truncated,
    }
    design.cites = [  # type: ignore[attr-defined]
        {"slug": c.cited.slug, "title": c.cited.title} for c in design.citations.select_related("cited")
    ]
    return design


@router.get(
    "/licences", auth=PUBLIC_AUTH, response={200: list[LicenceOut], **PUBLIC_ERRORS}, summary="Supported licences"
)
def licences_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {**licence.__dict__, "derivative_licences": list(licence.derivative_licences)} for licence in LICENCES.values()
    ]


@router.get(
    "/designs",
    auth=PUBLIC_AUTH,
    response={200: list[DesignOut], **PUBLIC_ERRORS},
    summary="Browse and search the catalog",
)
@paginate(CatalogCursor)
def designs_list(
    request: HttpRequest,
    q: str = "",
    licence: str | None = None,
    tag: str | None = None,
    interface: str | None = None,
    family: str | None = None,
    sort: str = "new",
) -> object:
    """Search words (`q`) match titles, summaries, tags and interface names; `interface` is a dotted name such as
    power.usb-c; `sort` is new (newest first) or popular (most forked first).
    """
    # Plain `str` parameters: ninja reads a paginated view's annotations in its own module, where no Literal is.
    if sort not in SORTS:
        raise Invalid(f"Sort by one of: {', '.join(SORTS)}.", code="validation_error", field="sort")
    return selectors.catalog(q=q[:200], licence=licence, tag=tag, interface=interface, family=family)


@router.post("/designs", response={201: DesignDetailOut, **ERRORS}, summary="Publish a design with its first version")
def design_create(request: HttpRequest, payload: DesignIn) -> Status:
    team = people_selectors.team_by_slug(slug=payload.team) if payload.team else None
    design = services.design_create(
        actor=signed_in_user(request),
        slug=payload.slug,
        title=payload.title,
        summary=payload.summary,
        description=payload.description,
        licence=payload.licence,
        tags=payload.tags,
        team=team,
        manifest=payload.manifest,
        bom=payload.bom,
        release_notes=payload.release_notes,
    )
    return Status(201, _detail(selectors.design_by_slug(slug=design.slug)))


@router.get(
    "/designs/{slug}",
    auth=PUBLIC_AUTH,
    response={200: DesignDetailOut, **PUBLIC_ERRORS},
    summary="A design with its latest version, attribution chain and lineage",
)
def design_detail(request: HttpRequest, slug: str) -> Design:
    return _detail(selectors.design_by_slug(slug=slug))


@router.patch(
    "/designs/{slug}",
    response={200: DesignDetailOut, **ERRORS},
    summary="Edit a design's title, summary, description or tags (owners and team maintainers)",
)
def design_update(request: HttpRequest, slug: str, payload: DesignUpdateIn) -> Design:
    """Only the fields sent change; published versions never do (publish a new version instead)."""
    changes = payload.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise Invalid("Leave the field out to keep it; it cannot be null.", code="validation_error", field=name)
    design = services.design_update(
        actor=signed_in_user(request), design=selectors.design_by_slug(slug=slug), **changes
    )
    return _detail(selectors.design_by_slug(slug=design.slug))


@router.post(
    "/designs/{slug}/citations",
    response={201: CitationOut, **ERRORS},
    summary="Record that this design builds on another one (besides the design it was forked from)",
)
def design_cite(request: HttpRequest, slug: str, payload: CitationIn) -> Status:
    design = selectors.design_by_slug(slug=slug)
    try:
        cited = selectors.design_by_slug(slug=payload.cited)
    except NotFound as exc:
        raise Invalid("No design has the address you cite.", code="cited_unknown", field="cited") from exc
    citation = services.design_cite(actor=signed_in_user(request), design=design, cited=cited, note=payload.note)
    return Status(201, citation)


@router.get(
    "/designs/{slug}/versions",
    auth=PUBLIC_AUTH,
    response={200: list[VersionOut], **PUBLIC_ERRORS},
    summary="A design's versions, newest first",
)
@paginate(Cursor, ordering=("-number",))
def versions_list(request: HttpRequest, slug: str) -> object:
    return selectors.versions_with_files(design=selectors.design_by_slug(slug=slug))


@router.post(
    "/designs/{slug}/versions", response={201: VersionOut, **ERRORS}, summary="Publish the next version of a design"
)
def version_publish(request: HttpRequest, slug: str, payload: VersionIn) -> Status:
    version = services.design_version_publish(
        actor=signed_in_user(request),
        design=selectors.design_by_slug(slug=slug),
        manifest=payload.manifest,
        bom=payload.bom,
        release_notes=payload.release_notes,
    )
    return Status(201, version)


@router.post(
    "/designs/{slug}/versions/multipart",
    response={201: VersionOut, **ERRORS},
    summary="Publish the next version with files (multipart form: `metadata` JSON plus `files`)",
)
def version_publish_with_files(
    request: HttpRequest, slug: str, metadata: Form[str], files: File[list[UploadedFile]]
) -> Status:
    """`metadata` is the JSON body that POST /designs/{slug}/versions takes; `files` may repeat (at most 20,
    50 MiB each; CAD, STL, 3MF, STEP, Gerber zips, PDF, KiCad, firmware sources ...). All or nothing."""
    try:
        payload = VersionIn.model_validate_json(metadata)
    except ValueError as exc:
        raise Invalid(f"The metadata is not a valid version: {str(exc).splitlines()[0]}", code="validation_error",
                      field="metadata") from exc  # fmt: skip
    version = services.design_version_publish(
        actor=signed_in_user(request),
        design=selectors.design_by_slug(slug=slug),
        manifest=payload.manifest,
        bom=payload.bom,
        release_notes=payload.release_notes,
        files=files,
    )
    return Status(201, version)


@router.get(
    "/designs/{slug}/versions/{number}",
    auth=PUBLIC_AUTH,
    response={200: VersionOut, **PUBLIC_ERRORS},
    summary="One version of a design",
)
def version_detail(request: HttpRequest, slug: str, number: int) -> DesignVersion:
    return selectors.version_of(design=selectors.design_by_slug(slug=slug), number=number)


@router.post(
    "/designs/{slug}/fork",
    response={201: DesignDetailOut, **ERRORS},
    summary="Fork a version of a design into a new design (the licence must allow it)",
)
def design_fork(request: HttpRequest, slug: str, payload: ForkIn) -> Status:
    upstream = selectors.version_of(design=selectors.design_by_slug(slug=slug), number=payload.version)
    team = people_selectors.team_by_slug(slug=payload.team) if payload.team else None
    design = services.design_fork(
        actor=signed_in_user(request),
        upstream=upstream,
        slug=payload.slug,
        title=payload.title,
        licence=payload.licence,
        summary=payload.summary,
        description=payload.description,
        tags=payload.tags,
        team=team,
        manifest=payload.manifest,
        bom=payload.bom,
        release_notes=payload.release_notes,
    )
    return Status(201, _detail(selectors.design_by_slug(slug=design.slug)))


@router.post(
    "/designs/{slug}/images",
    response={201: ImageOut, **ERRORS},
    summary="Add a picture to a design's page (PNG, JPEG or WebP, at most 5 MiB; multipart form)",
)
def design_image_add(request: HttpRequest, slug: str, file: File[UploadedFile], alt: Form[str] = "") -> Status:
    image = services.design_image_add(
        actor=signed_in_user(request), design=selectors.design_by_slug(slug=slug), upload=file, alt=alt
    )
    return Status(201, image)
