"""Shared pieces of the JSON API: the one error shape, exception handlers, strict input schemas and cursor
pagination. Domain apps build their routers from these; `config.api` wires them into the API.

Error shape, everywhere: `{"error": {"code": "...", "message": "...", "field": "..." | null}}`.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, NinjaAPI, Router, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.pagination import CursorPagination
from pydantic import ConfigDict

from crowdmaker.core.errors import DomainError, Throttled

logger = logging.getLogger(__name__)

STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid",
    429: "throttled",
}


class ErrorDetail(Schema):
    code: str
    message: str
    field: str | None = None


class ErrorOut(Schema):
    error: ErrorDetail


class InputSchema(Schema):
    """Base of every request body: unknown fields are refused rather than silently dropped."""

    model_config = ConfigDict(extra="forbid")


def error_response(
    api: NinjaAPI, request: HttpRequest, *, status: int, code: str, message: str, field: str | None = None
) -> HttpResponse:
    return api.create_response(
        request, {"error": {"code": code, "message": message, "field": field}}, status=status
    )


def _field_path(location: Any) -> str | None:
    """Turn pydantic's location tuple ("body", "payload", "links", 0) into "links.0"."""
    if not isinstance(location, list | tuple):
        return None
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header", "cookie")]
    # django-ninja nests the body under the handler's parameter name; drop it when there is more.
    if len(parts) > 1 and location and location[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or None


def _validation_message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "This field is not accepted here."
    if kind == "missing":
        return "This field is required."
    return str(error.get("msg", "This value is not valid."))


def install_error_handlers(api: NinjaAPI) -> None:
    def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        response = error_response(
            api, request, status=exc.status, code=exc.code, message=exc.message, field=exc.field
        )
        if isinstance(exc, Throttled):
            response["Retry-After"] = str(exc.retry_after)
        return response

    def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        first = exc.errors[0] if exc.errors else {}
        if "loc" in first:
            field = _field_path(first["loc"])
            message = _validation_message(first)
        else:  # e.g. ninja's cursor pagination reports {"cursor": "Invalid Cursor"}
            field, message = next(iter(first.items()), (None, "The request is not valid."))
            message = f"{message}."
        return error_response(api, request, status=422, code="validation_error", message=message, field=field)

    def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(
            api,
            request,
            status=401,
            code="not_authenticated",
            message="Send a valid API token as 'Authorization: Bearer <token>', or sign in.",
        )

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        message = str(exc)
        code = STATUS_CODES.get(exc.status_code, "error")
        if message.startswith("Cannot parse request body"):
            code, message = "invalid_json", "The request body is not valid JSON."
        return error_response(api, request, status=exc.status_code, code=code, message=message)

    def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return error_response(api, request, status=404, code="not_found", message="Not found.")

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("unhandled error in API request %s %s", request.method, request.path)
        return error_response(
            api, request, status=500, code="internal_error", message="Something went wrong on our side."
        )

    api.add_exception_handler(DomainError, on_domain_error)
    api.add_exception_handler(ValidationError, on_validation_error)
    api.add_exception_handler(AuthenticationError, on_authentication_error)
    api.add_exception_handler(HttpError, on_http_error)
    api.add_exception_handler(Http404, on_not_found)
    api.add_exception_handler(Exception, on_unexpected)


class Cursor(CursorPagination):
    """Cursor pagination over a stable ordering; `page_size` is 1 to 100 and an out-of-range value is an error."""

    class Input(Schema):
        page_size: int | None = Field(None, ge=1, le=100, description="Items per page (default 20).")
        cursor: str | None = Field(None, max_length=500, description="Opaque cursor from `next` or `previous`.")

    def __init__(self, *, ordering: tuple[str, ...] = ("id",), **kwargs: Any) -> None:
        super().__init__(ordering=ordering, page_size=20, max_page_size=100, **kwargs)


router = Router(tags=["platform"])


class HealthOut(Schema):
    status: str
    database: str


@router.get("/health", auth=None, response={200: HealthOut, 503: HealthOut}, summary="Liveness and database check")
def health(request: HttpRequest) -> tuple[int, dict[str, str]]:
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return 503, {"status": "unavailable", "database": "unreachable"}
    return 200, {"status": "ok", "database": "ok"}
