"""Serving stored files: a version's files, always as an attachment (design images are served under MEDIA_URL by
`core.media`, with the other apps' images).

A published file is public like its version; it is streamed from the storage backend (local folder or S3) with
its own name, the type recorded at publication and `nosniff`, so an SVG or HTML-looking file cannot run in the
platform's origin.
"""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest

from crowdmaker.commons import selectors
from crowdmaker.core.errors import NotFound
from crowdmaker.core.media import stored_file_open


def version_file(request: HttpRequest, slug: str, number: int, name: str) -> FileResponse:
    try:
        file = selectors.version_file(slug=slug, number=number, name=name)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    response = FileResponse(stored_file_open(file.file), as_attachment=True, filename=file.name,
                            content_type=file.content_type)  # fmt: skip
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "public, max-age=31536000, immutable"  # published files never change
    return response
