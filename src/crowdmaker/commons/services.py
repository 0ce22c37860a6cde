"""Every write of `commons`: creating and editing designs, publishing versions, forking, citing, pictures.

Each service is atomic, keyword-only and raises a `core.errors.DomainError` for a refusal, having changed
nothing. Lock order: the design row (for publishing), then the actor's team membership.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from crowdmaker.commons.licences import fork_licence_check, licence_get
from crowdmaker.commons.models import (
    DESCRIPTION_MAX_LENGTH,
    FILE_NAME_MAX_LENGTH,
    MAX_FILES_PER_VERSION,
    MAX_IMAGE_BYTES,
    MAX_IMAGES_PER_DESIGN,
    MAX_TAGS,
    MAX_VERSION_FILE_BYTES,
    RELEASE_NOTES_MAX_LENGTH,
    SUMMARY_MAX_LENGTH,
    TAG_HELP,
    TAG_PATTERN,
    TITLE_MAX_LENGTH,
    VERSION_FILE_NAME_PATTERN,
    VERSION_FILE_TYPES,
    Citation,
    Design,
    DesignImage,
    DesignVersion,
    VersionFile,
)
from crowdmaker.core.errors import Conflict, Forbidden, Invalid, NotFound
from crowdmaker.core.images import image_check, image_store
from crowdmaker.core.text import clean_text
from crowdmaker.people.models import SLUG_HELP, SLUG_PATTERN, Membership, Role, Team, User
from crowdmaker.protocol.manifest import FAMILY, PROVIDES, REQUIRES, validate_manifest
from crowdmaker.protocol.selectors import manifest_registry_problems

EDITOR_ROLES = frozenset({Role.OWNER, Role.MAINTAINER})
MAX_BOM_LINES = 500
MAX_BOM_QUANTITY = 999_999_999  # the bill of materials form takes up to 9 digits ...
MAX_BOM_UNIT_COST = 999_999_999_999  # ... and 12 digits of minor units
CURRENCY_PATTERN = r"^[A-Z]{3}$"
BOM_KEYS = frozenset({"item", "quantity", "unit_cost", "currency"})


# --- cleaning --------------------------------------------------------------------------------------------------


def _clean_slug(slug: str) -> str:
    slug = slug.strip().lower()
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise Invalid(SLUG_HELP, field="slug")
    return slug


def _clean_tags(tags: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for position, tag in enumerate(tags):
        tag = tag.strip().lower()
        if not re.fullmatch(TAG_PATTERN, tag):
            raise Invalid(f"Tag {tag!r}: {TAG_HELP}", field=f"tags.{position}")
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise Invalid(f"At most {MAX_TAGS} tags, please.", field="tags")
    return cleaned


def _check_manifest(manifest: Any) -> dict[str, Any]:
    """A valid TD 1.1 whose `cm:` interfaces the registry backs (PROTOCOL.md), else the first problem, pointed."""
    problems = validate_manifest(manifest)
    if not problems:
        assert isinstance(manifest, dict)
        problems = manifest_registry_problems(manifest)
    if problems:
        first = problems[0]
        raise Invalid(
            f"The manifest is not valid at {first.pointer or '/'}: {first.reason}",
            code="manifest_invalid",
            field="manifest",
        )
    assert isinstance(manifest, dict)  # a valid Thing Description is an object
    return manifest


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean_bom(bom: Any) -> list[dict[str, Any]]:
    """A bill of materials: a list of {item, quantity (int > 0), unit_cost (int minor units >= 0), currency}."""
    if not isinstance(bom, list):
        raise Invalid("The bill of materials must be a list of lines.", field="bom")
    if len(bom) > MAX_BOM_LINES:
        raise Invalid(f"At most {MAX_BOM_LINES} lines in a bill of materials, please.", field="bom")
    cleaned = []
    for position, line in enumerate(bom):
        at = f"bom.{position}"
        if not isinstance(line, dict) or set(line) != BOM_KEYS:
            raise Invalid("Each line needs exactly: item, quantity, unit_cost, currency.", field=at)
        if not isinstance(line["item"], str):
            raise Invalid("The item must be text.", field=f"{at}.item")
        item = clean_text(line["item"], field=f"{at}.item", max_length=200, required=True)
        if not _is_int(line["quantity"]) or not 0 < line["quantity"] <= MAX_BOM_QUANTITY:
            raise Invalid(f"The quantity must be a whole number from 1 to {MAX_BOM_QUANTITY:,}.",
                          field=f"{at}.quantity")  # fmt: skip
        if not _is_int(line["unit_cost"]) or not 0 <= line["unit_cost"] <= MAX_BOM_UNIT_COST:
            raise Invalid(f"The unit cost must be a whole number of minor units (cents) from 0 to "
                          f"{MAX_BOM_UNIT_COST:,}.", field=f"{at}.unit_cost")  # fmt: skip
        if not isinstance(line["currency"], str) or not re.fullmatch(CURRENCY_PATTERN, line["currency"]):
            raise Invalid("The currency must be a three-letter ISO 4217 code such as EUR.", field=f"{at}.currency")
        cleaned.append(
            {"item": item, "quantity": line["quantity"], "unit_cost": line["unit_cost"], "currency": line["currency"]}
        )
    return cleaned


def manifest_interfaces(manifest: dict[str, Any]) -> list[str]:
    """The interface names a (valid) manifest provides or requires, sorted, each once."""
    names = {
        entry["interface"]
        for key in (PROVIDES, REQUIRES)
        for entry in manifest.get(key) or []
        if isinstance(entry, dict) and isinstance(entry.get("interface"), str)
    }
    return sorted(names)


def manifest_families(manifest: dict[str, Any]) -> list[str]:
    """The families a (valid) manifest claims (`cm:family`), sorted, each once."""
    return sorted({name for name in manifest.get(FAMILY) or [] if isinstance(name, str)})


# --- permissions -----------------------------------------------------------------------------------------------


def _check_team_editor(team: Team, actor: User) -> None:
    role = Membership.objects.select_for_update().filter(team=team, user=actor).values_list("role", flat=True).first()
    if role not in EDITOR_ROLES:
        raise Forbidden("Only the team's owners and maintainers may publish its designs.", code="role_required")


def _check_editor(design: Design, actor: User) -> None:
    if design.owner_team_id is not None:
        assert design.owner_team is not None
        _check_team_editor(design.owner_team, actor)
    elif design.owner_user_id != actor.pk:
        raise Forbidden("Only the design's owner may do that.", code="not_owner")


# --- designs and versions --------------------------------------------------------------------------------------


def _new_design(
    *,
    actor: User,
    slug: str,
    title: str,
    summary: str,
    description: str,
    licence: str,
    tags: Iterable[str],
    team: Team | None,
    forked_from: DesignVersion | None,
    manifest: dict[str, Any],
) -> Design:
    slug = _clean_slug(slug)
    title = clean_text(title, field="title", max_length=TITLE_MAX_LENGTH, required=True)
    summary = clean_text(summary, field="summary", max_length=SUMMARY_MAX_LENGTH)
    description = clean_text(description, field="description", max_length=DESCRIPTION_MAX_LENGTH, multiline=True)
    licence = licence_get(licence).spdx
    clean_tags = _clean_tags(tags)
    if team is not None:
        _check_team_editor(team, actor)
    if Design.objects.filter(slug=slug).exists():
        raise Conflict("A design with this address exists already.", code="slug_taken", field="slug")
    try:
        with transaction.atomic():
            return Design.objects.create(
                slug=slug,
                title=title,
                summary=summary,
                description=description,
                licence=licence,
                tags=clean_tags,
                owner_user=None if team else actor,
                owner_team=team,
                created_by=actor,
                forked_from=forked_from,
                interfaces=manifest_interfaces(manifest),
                families=manifest_families(manifest),
            )
    except IntegrityError as exc:  # a concurrent create took the slug
        raise Conflict("A design with this address exists already.", code="slug_taken", field="slug") from exc


def _add_version(
    *, design: Design, actor: User, number: int, manifest: dict[str, Any], bom: list[dict[str, Any]], notes: str
) -> DesignVersion:
    return DesignVersion.objects.create(
        design=design, number=number, manifest=manifest, bom=bom, release_notes=notes, published_by=actor
    )


@transaction.atomic
def design_create(
    *,
    actor: User,
    slug: str,
    title: str,
    licence: str,
    manifest: Any,
    summary: str = "",
    description: str = "",
    tags: Iterable[str] = (),
    team: Team | None = None,
    bom: Any = (),
    release_notes: str = "",
    files: Sequence[UploadedFile] = (),
) -> Design:
    """Publish a new design with its first version, owned by `actor` or by `team` (actor: owner/maintainer)."""
    clean_manifest = _check_manifest(manifest)
    clean_bom = _clean_bom(list(bom) if isinstance(bom, tuple) else bom)
    notes = clean_text(release_notes, field="release_notes", max_length=RELEASE_NOTES_MAX_LENGTH, multiline=True)
    clean_files = _clean_version_files(files)
    design = _new_design(
        actor=actor, slug=slug, title=title, summary=summary, description=description, licence=licence, tags=tags,
        team=team, forked_from=None, manifest=clean_manifest,
    )  # fmt: skip
    version = _add_version(design=design, actor=actor, number=1, manifest=clean_manifest, bom=clean_bom, notes=notes)
    _store_version_files(version, clean_files)
    return design


@transaction.atomic
def design_version_publish(
    *,
    actor: User,
    design: Design,
    manifest: Any,
    bom: Any = (),
    release_notes: str = "",
    files: Sequence[UploadedFile] = (),
) -> DesignVersion:
    """Publish the next version (previous number + 1); the design row is locked so numbers never collide."""
    locked = Design.objects.select_for_update(of=("self",)).select_related("owner_team").filter(pk=design.pk).first()
    if locked is None:
        raise NotFound("No design has this address.")
    _check_editor(locked, actor)
    clean_manifest = _check_manifest(manifest)
    clean_bom = _clean_bom(list(bom) if isinstance(bom, tuple) else bom)
    notes = clean_text(release_notes, field="release_notes", max_length=RELEASE_NOTES_MAX_LENGTH, multiline=True)
    clean_files = _clean_version_files(files)
    last = DesignVersion.objects.filter(design=locked).order_by("-number").values_list("number", flat=True).first()
    version = _add_version(
        design=locked, actor=actor, number=(last or 0) + 1, manifest=clean_manifest, bom=clean_bom, notes=notes
    )
    locked.interfaces = manifest_interfaces(clean_manifest)
    locked.families = manifest_families(clean_manifest)
    locked.save(update_fields=["interfaces", "families"])
    _store_version_files(version, clean_files)  # last: a failure before it leaves no file behind
    return version


@transaction.atomic
def design_fork(
    *,
    actor: User,
    upstream: DesignVersion,
    slug: str,
    title: str,
    licence: str,
    summary: str | None = None,
    description: str = "",
    tags: Iterable[str] | None = None,
    team: Team | None = None,
    manifest: Any = None,
    bom: Any = None,
    release_notes: str = "",
    files: Sequence[UploadedFile] | None = None,
) -> Design:
    """Fork the exact version `upstream` into a new design; the licence must be one the upstream allows.

    The fork's first version copies the upstream version's manifest and bill of materials unless given, and
    carries the upstream version's files unless `files` is given (the same stored, immutable files: no copy).
    """
    source = upstream.design
    fork_licence_check(source.licence, licence)
    clean_manifest = _check_manifest(upstream.manifest if manifest is None else manifest)
    clean_bom = _clean_bom(upstream.bom if bom is None else (list(bom) if isinstance(bom, tuple) else bom))
    notes = clean_text(release_notes, field="release_notes", max_length=RELEASE_NOTES_MAX_LENGTH, multiline=True)
    clean_files = None if files is None else _clean_version_files(files)
    design = _new_design(
        actor=actor,
        slug=slug,
        title=title,
        summary=source.summary if summary is None else summary,
        description=description,
        licence=licence,
        tags=source.tags if tags is None else tags,
        team=team,
        forked_from=upstream,
        manifest=clean_manifest,
    )
    version = _add_version(design=design, actor=actor, number=1, manifest=clean_manifest, bom=clean_bom, notes=notes)
    if clean_files is None:
        VersionFile.objects.bulk_create(
            VersionFile(version=version, file=f.file.name, name=f.name, content_type=f.content_type, size=f.size,
                        sha256=f.sha256)
            for f in upstream.files.all()
        )  # fmt: skip
    else:
        _store_version_files(version, clean_files)
    return design


@transaction.atomic
def design_update(
    *,
    actor: User,
    design: Design,
    title: str | None = None,
    summary: str | None = None,
    description: str | None = None,
    tags: Iterable[str] | None = None,
) -> Design:
    """Edit what a design page says about it (None leaves a field as it is); versions never change."""
    locked = Design.objects.select_for_update(of=("self",)).select_related("owner_team").filter(pk=design.pk).first()
    if locked is None:
        raise NotFound("No design has this address.")
    _check_editor(locked, actor)
    changed: list[str] = []
    title_before = locked.title
    if title is not None:
        locked.title = clean_text(title, field="title", max_length=TITLE_MAX_LENGTH, required=True)
        changed.append("title")
    if summary is not None:
        locked.summary = clean_text(summary, field="summary", max_length=SUMMARY_MAX_LENGTH)
        changed.append("summary")
    if description is not None:
        locked.description = clean_text(
            description, field="description", max_length=DESCRIPTION_MAX_LENGTH, multiline=True
        )
        changed.append("description")
    if tags is not None:
        locked.tags = _clean_tags(tags)
        changed.append("tags")
    if locked.title != title_before:  # the title is what the engine's catalog index shows (systems.catalog_index)
        locked.edited_at = timezone.now()
        changed.append("edited_at")
    if changed:
        locked.save(update_fields=changed)
    return locked


@transaction.atomic
def design_cite(*, actor: User, design: Design, cited: Design, note: str = "") -> Citation:
    """Record that `design` builds on `cited` (an upstream influence besides its fork parent)."""
    locked = Design.objects.select_for_update(of=("self",)).select_related("owner_team").filter(pk=design.pk).first()
    if locked is None:
        raise NotFound("No design has this address.")
    _check_editor(locked, actor)
    if cited.pk == locked.pk:
        raise Invalid("A design cannot cite itself.", code="citation_self", field="cited")
    note = clean_text(note, field="note", max_length=300)
    if Citation.objects.filter(design=locked, cited=cited).exists():
        raise Conflict("This design cites that one already.", code="already_cited", field="cited")
    return Citation.objects.create(design=locked, cited=cited, note=note)


# --- version files --------------------------------------------------------------------------------------------

FILE_SIGNATURES = {
    "zip": (b"PK\x03\x04",),
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
}
FILE_NAME_PATTERN = re.compile(VERSION_FILE_NAME_PATTERN)
TEXT_SNIFF_BYTES = 64 * 1024


def _looks_like(upload: UploadedFile, kind: str) -> bool:
    upload.seek(0)
    head = upload.read(TEXT_SNIFF_BYTES)
    upload.seek(0)
    if kind == "any":
        return True
    if kind == "text":
        if b"\x00" in head:
            return False
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:  # a multi-byte character cut at the end of a partial sample is fine
            cut = len(head) == TEXT_SNIFF_BYTES and (upload.size or 0) > TEXT_SNIFF_BYTES
            return cut and exc.reason == "unexpected end of data"
        return True
    return head.startswith(FILE_SIGNATURES[kind])


def _clean_version_files(files: Sequence[UploadedFile]) -> list[tuple[UploadedFile, str, str]]:
    """(upload, name, content type) for every file, or a refusal naming the first bad one; stores nothing."""
    if len(files) > MAX_FILES_PER_VERSION:
        raise Invalid(f"At most {MAX_FILES_PER_VERSION} files per version, please.", code="too_many_files",
                      field="files")  # fmt: skip
    cleaned: list[tuple[UploadedFile, str, str]] = []
    seen: set[str] = set()
    for upload in files:
        name = (upload.name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
        if not FILE_NAME_PATTERN.fullmatch(name) or len(name) > FILE_NAME_MAX_LENGTH:
            raise Invalid(f"{name!r}: a file name may hold letters, digits, spaces, dots, hyphens and underscores "
                          f"(at most {FILE_NAME_MAX_LENGTH}).", code="file_name", field="files")  # fmt: skip
        if name.lower() in seen:
            raise Invalid(f"{name}: two files have this name.", code="file_name_twice", field="files")
        seen.add(name.lower())
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if extension not in VERSION_FILE_TYPES:
            accepted = ", ".join(sorted(VERSION_FILE_TYPES))
            raise Invalid(f"{name}: this kind of file is not accepted (accepted: {accepted}).", code="file_type",
                          field="files")  # fmt: skip
        size = upload.size or 0
        if size <= 0:
            raise Invalid(f"{name}: the file is empty.", code="file_empty", field="files")
        if size > MAX_VERSION_FILE_BYTES:
            raise Invalid(f"{name}: a file may be at most {MAX_VERSION_FILE_BYTES // (1024 * 1024)} MiB.",
                          code="file_too_large", field="files")  # fmt: skip
        content_type, kind = VERSION_FILE_TYPES[extension]
        if not _looks_like(upload, kind):
            raise Invalid(f"{name}: the content is not what a .{extension} file holds.", code="file_type",
                          field="files")  # fmt: skip
        cleaned.append((upload, name, content_type))
    return cleaned


def _store_version_files(version: DesignVersion, files: list[tuple[UploadedFile, str, str]]) -> list[VersionFile]:
    """Write the checked files to storage and their rows; on any failure remove what was written, then re-raise."""
    stored: list[str] = []
    rows: list[VersionFile] = []
    try:
        for upload, name, content_type in files:
            digest = hashlib.sha256()
            upload.seek(0)
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
            path = default_storage.save(
                f"designs/{version.design_id}/v{version.number}/{uuid.uuid4().hex}/{name}", upload
            )
            stored.append(path)
            rows.append(VersionFile(version=version, file=path, name=name, content_type=content_type,
                                    size=upload.size or 0, sha256=digest.hexdigest()))  # fmt: skip
        with transaction.atomic():
            return VersionFile.objects.bulk_create(rows)
    except BaseException:
        for path in stored:
            default_storage.delete(path)
        raise


# --- images --------------------------------------------------------------------------------------------------


def design_image_add(*, actor: User, design: Design, upload: UploadedFile, alt: str = "") -> DesignImage:
    """Store a PNG, JPEG or WebP picture (at most 5 MiB, its type sniffed from the content) for the design's page.

    A refused upload leaves nothing behind: the file is written to storage only after every check, and removed
    again if the row cannot be saved or its transaction cannot commit (`core.images.image_store`).
    """
    with image_store() as store, transaction.atomic():
        locked = (
            Design.objects.select_for_update(of=("self",)).select_related("owner_team").filter(pk=design.pk).first()
        )
        if locked is None:
            raise NotFound("No design has this address.")
        _check_editor(locked, actor)
        alt = clean_text(alt, field="alt", max_length=200)
        image = image_check(upload, max_bytes=MAX_IMAGE_BYTES)
        if DesignImage.objects.filter(design=locked).count() >= MAX_IMAGES_PER_DESIGN:
            raise Conflict(f"A design may have at most {MAX_IMAGES_PER_DESIGN} images.", code="too_many_images")
        name = store.save(upload, image, folder=f"designs/{locked.pk}")
        return DesignImage.objects.create(design=locked, file=name, content_type=image.content_type,
                                          size=image.size, alt=alt, uploaded_by=actor)  # fmt: skip
