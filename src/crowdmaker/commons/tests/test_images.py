"""Design images through the storage API: type sniffed from content, size limits, nothing left behind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from crowdmaker.commons import services
from crowdmaker.commons.models import MAX_IMAGE_BYTES, Design, DesignImage
from crowdmaker.conftest import ApiClient
from crowdmaker.core.errors import Forbidden, Invalid
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.MEDIA_URL = "/media/"
    return tmp_path


def stored(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_image_is_stored(user: User, make_design: Callable[..., Design], media: Path) -> None:
    design = make_design(user, "lamp")
    image = services.design_image_add(
        actor=user, design=design, upload=SimpleUploadedFile("photo.txt", PNG), alt="The lamp, lit"
    )
    assert image.content_type == "image/png"
    name = image.file.name or ""
    assert name.endswith(".png")
    assert stored(media) == [media / name]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "file_empty"),
        (b"<svg onload=alert(1)>", "file_type"),
        (b"GIF89a" + b"\x00" * 10, "file_type"),
        (b"\xff\xd8\xff" + b"\x00" * MAX_IMAGE_BYTES, "file_too_large"),
    ],
)
def test_bad_upload_is_refused_and_leaves_nothing(
    user: User, make_design: Callable[..., Design], media: Path, content: bytes, code: str
) -> None:
    design = make_design(user, "lamp")
    with pytest.raises(Invalid) as caught:
        services.design_image_add(actor=user, design=design, upload=SimpleUploadedFile("x.png", content))
    assert caught.value.code == code
    assert DesignImage.objects.count() == 0
    assert stored(media) == []


def test_only_editors_add_images(user: User, other_user: User, make_design: Callable[..., Design], media: Path) -> None:
    design = make_design(user, "lamp")
    with pytest.raises(Forbidden):
        services.design_image_add(actor=other_user, design=design, upload=SimpleUploadedFile("x.png", PNG))
    assert stored(media) == []


def test_image_api(api: ApiClient, user: User, make_design: Callable[..., Design], media: Path) -> None:
    make_design(user, "lamp")
    client = Client()
    headers = {"Authorization": f"Bearer {api.token}"}
    response = client.post(
        "/api/v1/designs/lamp/images", {"file": SimpleUploadedFile("a.png", PNG), "alt": "Lit"}, headers=headers
    )
    assert response.status_code == 201, response.json()
    assert response.json()["url"].startswith("/media/designs/")
    refused = client.post(
        "/api/v1/designs/lamp/images", {"file": SimpleUploadedFile("a.gif", b"GIF89a")}, headers=headers
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "file_type"
    detail = api.get("/api/v1/designs/lamp").json()
    assert [image["alt"] for image in detail["images"]] == ["Lit"]


def test_images_are_served_under_media_url(client: Client, user: User, make_design: Callable[..., Design]) -> None:
    design = make_design(user, "lamp")
    image = services.design_image_add(actor=user, design=design, upload=SimpleUploadedFile("p.png", PNG))
    response = client.get(image.file.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.getvalue() == PNG
    assert client.get("/media/designs/1/other.png").status_code == 404  # only files that are design images
    assert client.get("/media/../../etc/passwd").status_code == 404
