"""Pictures people upload (a design's, a campaign's): the checks every app applies to one, and storing it through
Django's storage API so that a failure leaves no file behind.

The type is read from the file's first bytes, never from its name or the browser's claim. Limits come from the
caller (each app's model states its own); this module owns no model and must stay free of any domain's rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile

from crowdmaker.core.errors import Invalid

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")  # what the image models' check constraints accept
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)
SNIFF_BYTES = 16  # enough for every signature above and WebP's RIFF....WEBP


@dataclass(frozen=True)
class CheckedImage:
    """An upload that passed `image_check`: its type as sniffed, the extension it is stored with, its size."""

    content_type: str
    extension: str
    size: int


def image_sniff(head: bytes) -> tuple[str, str] | None:
    """The (content type, extension) the first bytes of a file announce, or None for anything but PNG/JPEG/WebP."""
    for signature, content_type, extension in IMAGE_SIGNATURES:
        if head.startswith(signature):
            return content_type, extension
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def image_check(upload: UploadedFile, *, max_bytes: int, field: str = "file") -> CheckedImage:
    """Refuse an empty or too large upload, or one that is not a PNG, JPEG or WebP (Invalid: `file_empty`,
    `file_too_large`, `file_type`). Reads only the first bytes and rewinds the upload."""
    size = upload.size or 0
    if size <= 0:
        raise Invalid("The file is empty.", code="file_empty", field=field)
    if size > max_bytes:
        raise Invalid(f"An image may be at most {max_bytes // (1024 * 1024)} MiB.", code="file_too_large",
                      field=field)  # fmt: skip
    upload.seek(0)
    kind = image_sniff(upload.read(SNIFF_BYTES))
    upload.seek(0)
    if kind is None:
        raise Invalid("Only PNG, JPEG and WebP images are accepted.", code="file_type", field=field)
    return CheckedImage(content_type=kind[0], extension=kind[1], size=size)


class ImageStore:
    """The files written in one `image_store` block, so that they can be deleted again if the block fails."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def save(self, upload: UploadedFile, image: CheckedImage, *, folder: str) -> str:
        """Write `upload` to storage under `folder` with a random name (never the uploader's); that name."""
        name = default_storage.save(f"{folder}/{uuid.uuid4().hex}.{image.extension}", upload)
        self.names.append(name)
        return name


@contextmanager
def image_store() -> Iterator[ImageStore]:
    """A block that writes images to storage and their rows: if it raises (a check refuses, the row is refused,
    its transaction fails to commit), the files it wrote are deleted again and the error re-raised.

    Open the block's transaction inside it (`with image_store() as store, transaction.atomic():`) so that its
    commit is inside too. Inside a caller's outer transaction that later rolls back, a file stays behind: the
    services that use this are meant to be called from an edge, outside any transaction.
    """
    store = ImageStore()
    try:
        yield store
    except BaseException:
        for name in store.names:
            default_storage.delete(name)
        raise
