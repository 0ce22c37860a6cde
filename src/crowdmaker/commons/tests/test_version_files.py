"""Files published with a design version: checked by name and content, stored whole or not at all, immutable."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crowdmaker.commons import services
from crowdmaker.commons.models import MAX_FILES_PER_VERSION, MAX_VERSION_FILE_BYTES, Design, DesignVersion, VersionFile
from crowdmaker.commons.tests.conftest import manifest
from crowdmaker.conftest import ApiClient
from crowdmaker.core.errors import Forbidden, Invalid
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db

STL = b"solid lamp\n facet normal 0 0 1\n endfacet\nendsolid lamp\n"
ZIP = b"PK\x03\x04" + b"\x00" * 40


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def stored(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def test_files_are_published_with_the_version(user: User, make_design: Callable[..., Design], media: Path) -> None:
    design = make_design(user, "lamp")
    version = services.design_version_publish(
        actor=user, design=design, manifest=manifest(), release_notes="Adds the case.",
        files=[upload("case.stl", STL), upload("gerbers.zip", ZIP), upload("C:\\Users\\ada\\notes.md", b"# Build")],
    )  # fmt: skip
    files = list(version.files.order_by("name"))
    assert [(f.name, f.content_type, f.size) for f in files] == [
        ("case.stl", "model/stl", len(STL)), ("gerbers.zip", "application/zip", len(ZIP)),
        ("notes.md", "text/markdown", 7),
    ]  # fmt: skip
    assert files[0].sha256 == hashlib.sha256(STL).hexdigest()
    assert len(stored(media)) == 3
    assert (media / (files[0].file.name or "")).read_bytes() == STL


def test_design_create_takes_files_and_a_fork_carries_them(user: User, other_user: User, media: Path) -> None:
    design = services.design_create(actor=user, slug="lamp", title="Lamp", licence="CC-BY-4.0", manifest=manifest(),
                                    files=[upload("case.stl", STL)])  # fmt: skip
    upstream = design.versions.get()
    fork = services.design_fork(actor=other_user, upstream=upstream, slug="lamp-2", title="Lamp 2", licence="CC-BY-4.0")
    carried = fork.versions.get().files.get()
    assert (carried.name, carried.sha256) == ("case.stl", hashlib.sha256(STL).hexdigest())
    assert carried.file.name == upstream.files.get().file.name  # the same immutable stored file, not a copy
    assert len(stored(media)) == 1
    own = services.design_fork(actor=other_user, upstream=upstream, slug="lamp-3", title="Lamp 3",
                               licence="CC-BY-4.0", files=[])  # fmt: skip
    assert not own.versions.get().files.exists()


@pytest.mark.parametrize(
    ("files", "code", "message"),
    [
        ([upload("virus.exe", b"MZ\x90\x00")], "file_type", "virus.exe: this kind of file is not accepted"),
        ([upload("board.zip", b"not a zip")], "file_type", "board.zip: the content is not what a .zip file holds."),
        ([upload("case.step", b"ISO-10303-21;\x00\x01")], "file_type", "case.step: the content is not"),
        ([upload("manual.pdf", b"<html>")], "file_type", "manual.pdf: the content is not"),
        ([upload("empty.stl", b"")], "file_empty", "empty.stl: the file is empty."),
        ([upload("noext", STL)], "file_type", "noext: this kind of file is not accepted"),
        ([upload(".hidden.stl", STL)], "file_name", "'.hidden.stl': a file name may hold"),
        ([upload("a.stl", STL), upload("A.STL", STL)], "file_name_twice", "A.STL: two files have this name."),
        ([upload(f"part{i}.stl", STL) for i in range(MAX_FILES_PER_VERSION + 1)], "too_many_files", "At most 20"),
    ],
)
def test_bad_files_are_refused_and_leave_nothing_behind(
    user: User, make_design: Callable[..., Design], media: Path, files: list[SimpleUploadedFile], code: str,
    message: str,
) -> None:  # fmt: skip
    design = make_design(user, "lamp")
    good = upload("fine.stl", STL)  # a good file before the bad one is not stored either
    with pytest.raises(Invalid) as refused:
        services.design_version_publish(actor=user, design=design, manifest=manifest(), files=[good, *files])
    assert refused.value.code == code
    assert refused.value.field == "files"
    assert message in refused.value.message
    assert design.versions.count() == 1
    assert VersionFile.objects.count() == 0
    assert stored(media) == []


def test_an_oversized_file_is_refused(user: User, make_design: Callable[..., Design], media: Path) -> None:
    design = make_design(user, "lamp")
    big = upload("huge.stl", b"x")
    big.size = MAX_VERSION_FILE_BYTES + 1  # the size Django measured while receiving it
    with pytest.raises(Invalid) as refused:
        services.design_version_publish(actor=user, design=design, manifest=manifest(), files=[big])
    assert refused.value.code == "file_too_large"
    assert (design.versions.count(), stored(media)) == (1, [])


def test_a_refused_publication_stores_no_file(
    user: User, other_user: User, make_design: Callable[..., Design], media: Path
) -> None:
    design = make_design(user, "lamp")
    with pytest.raises(Forbidden):
        services.design_version_publish(actor=other_user, design=design, manifest=manifest(),
                                        files=[upload("case.stl", STL)])  # fmt: skip
    bad_manifest = manifest(provides=["power.warp-core"])
    with pytest.raises(Invalid):
        services.design_version_publish(actor=user, design=design, manifest=bad_manifest, files=[upload("c.stl", STL)])
    assert (DesignVersion.objects.count(), VersionFile.objects.count(), stored(media)) == (1, 0, [])


def test_files_are_immutable_in_the_database(user: User, make_design: Callable[..., Design]) -> None:
    design = make_design(user, "lamp")
    version = services.design_version_publish(actor=user, design=design, manifest=manifest(),
                                              files=[upload("case.stl", STL)])  # fmt: skip
    row = version.files.get()
    for change in (lambda: VersionFile.objects.filter(pk=row.pk).update(name="other.stl"),
                   lambda: VersionFile.objects.filter(pk=row.pk).delete()):  # fmt: skip
        with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
            change()
    assert VersionFile.objects.get(pk=row.pk).name == "case.stl"


def test_publish_with_files_through_the_api(api: ApiClient, user: User, make_design: Callable[..., Design]) -> None:
    make_design(user, "lamp")
    metadata = json.dumps({"manifest": manifest(), "release_notes": "Files!"})
    response = api.client.post(
        "/api/v1/designs/lamp/versions/multipart",
        {"metadata": metadata, "files": [upload("case.stl", STL), upload("notes.md", b"# hi")]},
        headers=api._headers(),
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"] == 2
    assert [f["name"] for f in body["files"]] == ["case.stl", "notes.md"]
    assert body["files"][0]["url"] == "/designs/lamp/v2/files/case.stl"
    download = api.client.get(body["files"][0]["url"])
    assert download.status_code == 200
    assert download.getvalue() == STL
    assert download["Content-Disposition"] == 'attachment; filename="case.stl"'
    assert download["X-Content-Type-Options"] == "nosniff"
    refused = api.client.post(
        "/api/v1/designs/lamp/versions/multipart",
        {"metadata": metadata, "files": [upload("virus.exe", b"MZ")]},
        headers=api._headers(),
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "file_type"
    assert DesignVersion.objects.filter(design__slug="lamp").count() == 2
    assert api.client.get("/designs/lamp/v2/files/nothing.stl").status_code == 404


def test_listing_versions_with_files_takes_a_fixed_number_of_queries(
    api: ApiClient, user: User, make_design: Callable[..., Design]
) -> None:
    design = make_design(user, "lamp")

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/v1/designs/lamp/versions").status_code == 200
        return len(queries)

    services.design_version_publish(actor=user, design=design, manifest=manifest(), files=[upload("a.stl", STL)])
    count_queries()  # the token's first use of the day is recorded once
    few = count_queries()
    for number in range(3):
        services.design_version_publish(actor=user, design=design, manifest=manifest(),
                                        files=[upload(f"b{number}.stl", STL), upload(f"c{number}.md", b"# c")])  # fmt: skip
    assert count_queries() == few


def test_a_file_lost_by_the_storage_is_a_404(user: User, make_design: Callable[..., Design], media: Path) -> None:
    design = make_design(user, "lamp")
    version = services.design_version_publish(actor=user, design=design, manifest=manifest(),
                                              files=[upload("case.stl", STL)])  # fmt: skip
    (media / (version.files.get().file.name or "")).unlink()
    assert Client().get("/designs/lamp/v2/files/case.stl").status_code == 404


def test_text_with_broken_utf8_is_refused_even_at_its_end(user: User, make_design: Callable[..., Design]) -> None:
    design = make_design(user, "lamp")
    with pytest.raises(Invalid) as refused:
        services.design_version_publish(actor=user, design=design, manifest=manifest(),
                                        files=[upload("notes.md", b"# Notes\xe2\x82")])  # fmt: skip
    assert refused.value.code == "file_type"
    long_text = "é".join(["x" * 1000] * 70).encode()  # more than the 64 KiB sniffed, cut inside a character
    services.design_version_publish(actor=user, design=design, manifest=manifest(),
                                    files=[upload("long.md", long_text)])  # fmt: skip
