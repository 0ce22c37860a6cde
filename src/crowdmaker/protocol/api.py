"""JSON API of `protocol`: manifest validation (registry, systems and the compatibility engine come later).

Handlers parse input and call the protocol's own functions; they never store anything.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from crowdmaker.core.api import ErrorOut
from crowdmaker.protocol.manifest import read_json, validate_manifest

router = Router(tags=["manifests"])

# The body is the manifest itself, any JSON value, so it is read by hand and described to OpenAPI here.
MANIFEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "description": "A W3C WoT Thing Description 1.1 document (JSON-LD), optionally with our "
                    "cm:provides, cm:requires and cm:family members. Any JSON value is accepted and judged.",
                }
            }
        },
    }
}


class ProblemOut(Schema):
    pointer: str  # RFC 6901 JSON pointer into the manifest; "" is the whole document
    reason: str


class ManifestValidationOut(Schema):
    valid: bool
    problems: list[ProblemOut]


@router.post(
    "/manifests/validate",
    response={200: ManifestValidationOut, 400: ErrorOut, 401: ErrorOut, 413: ErrorOut},
    openapi_extra=MANIFEST_BODY,
    summary="Validate a manifest",
)
def manifest_validate(request: HttpRequest) -> ManifestValidationOut:
    """Judge a manifest (the request body) as a Thing Description 1.1 with our extension; stores nothing.

    The answer is 200 whether the manifest is valid or not; `problems` says where (a JSON pointer) and why.
    A body that is not JSON at all is a 400 `invalid_json`.
    """
    try:
        document = read_json(request.body.decode("utf-8"))
    except ValueError as error:  # UnicodeDecodeError is a ValueError too
        # The message prefix is ninja's own for unreadable bodies; core.api turns it into `invalid_json`.
        raise HttpError(400, f"Cannot parse request body ({error})") from error
    problems = validate_manifest(document)
    return ManifestValidationOut(
        valid=not problems, problems=[ProblemOut(pointer=p.pointer, reason=p.reason) for p in problems]
    )
