"""Serving stored files under MEDIA_URL: only files that are an uploaded image row of some app (their type was
sniffed on upload); anything else under MEDIA_URL is a 404, and every answer carries the recorded type with
`nosniff`, so nothing stored can run in the platform's origin. With an S3 storage backend, image URLs point to
the bucket and this route goes unused. Reads only; the apps say which models hold images (config/urls.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.core.files import File
from django.db.models import Model
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest

logger = logging.getLogger(__name__)

IMAGE_MAX_AGE = 86_400  # seconds a browser may keep an image; a deleted one disappears within a day at worst


def stored_file_open(field: FieldFile) -> File:
    """The stored file, or a 404 when the storage has lost it (a row without its file is an operator's problem,
    reported in the log, not a visitor's 500)."""
    try:
        return field.open("rb")
    except FileNotFoundError as exc:
        logger.error("stored file %s is missing", field.name)
        raise Http404("This file is missing from storage.") from exc


def media_image(request: HttpRequest, name: str, *, images: Mapping[str, type[Model]]) -> FileResponse:
    """The image stored as `name`, looked up in the model `images` names for its first folder (e.g. "designs":
    DesignImage); the model has `file` (indexed) and `content_type`."""
    model = images.get(name.split("/", 1)[0])
    image = model._default_manager.filter(file=name).first() if model is not None else None
    if image is None:
        raise Http404("No image is stored under this name.")
    response = FileResponse(stored_file_open(image.file), content_type=image.content_type)  # type: ignore[attr-defined]
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = f"public, max-age={IMAGE_MAX_AGE}"
    return response
