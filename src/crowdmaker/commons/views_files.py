"""Serving stored files: a version's files (always as an attachment) and design images (inline).

A published file is public like its version; it is streamed from the storage backend (local folder or S3) with
its own name, the type recorded at publication and `nosniff`, so an SVG or HTML-looking file cannot run in the
platform's origin. Images are served under MEDIA_URL, as `FileField.url` names them, but only files that are a
design's image (their type was sniffed on upload); anything else under MEDIA_URL is a 404. With an S3 storage
backend, image URLs point to the bucket and this route goes unused.
"""

from __future__ import annotations

import logging

from django.core.files import File
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest

from crowdmaker.commons import selectors
from crowdmaker.commons.models import DesignImage
from crowdmaker.core.errors import NotFound

logger = logging.getLogger(__name__)


def _open(field: FieldFile) -> File:
    """The stored file, or a 404 when the storage has lost it (a row without its file is an operator's problem,
    reported in the log, not a visitor's 500)."""
    try:
        return field.open("rb")
    except FileNotFoundError as exc:
        logger.error("stored file %s is missing", field.name)
        raise Http404("This file is missing from storage.") from exc


def version_file(request: HttpRequest, slug: str, number: int, name: str) -> FileResponse:
    try:
        file = selectors.version_file(slug=slug, number=number, name=name)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    response = FileResponse(_open(file.file), as_attachment=True, filename=file.name,
                            content_type=file.content_type)  # fmt: skip
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "public, max-age=31536000, immutable"  # published files never change
    return response


def design_image(request: HttpRequest, name: str) -> FileResponse:
    image = DesignImage.objects.filter(file=name).first()
    if image is None:
        raise Http404("No image is stored under this name.")
    response = FileResponse(_open(image.file), content_type=image.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=86400"
    return response
