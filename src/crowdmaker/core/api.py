"""Shared pieces of the JSON API: the one error shape, exception handlers, strict input schemas, cursor
pagination, and `CrowdmakerApi` (offline docs, JSON 404/405). Domain apps build their routers from these;
`config.api` wires them into the API. Nothing here may answer an API caller with HTML or a bare 500.

Error shape, everywhere: `{"error": {"code": "...", "message": "...", "field": "..." | null}}`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import URLPattern, URLResolver
from ninja import Field, NinjaAPI, Router, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import Swagger
from ninja.pagination import CursorPagination
from pydantic import ConfigDict
from pydantic import ValidationError as PydanticValidationError

from crowdmaker.core.errors import DomainError, Throttled

logger = logging.getLogger(__name__)

STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
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
    return api.create_response(request, {"error": {"code": code, "message": message, "field": field}}, status=status)


def _field_path(location: Any) -> str | None:
    """Turn pydantic's location tuple ("body", "payload", "links", 0) into "links.0"."""
    if not isinstance(location, list | tuple):
        return None
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header", "cookie")]
    # django-ninja nests the body under the handler's parameter name, which means nothing to a caller:
    # drop it, so a wrong field is "links.0" and a body that is not an object at all has no field.
    if location and location[0] == "body":
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
        response = error_response(api, request, status=exc.status, code=exc.code, message=exc.message, field=exc.field)
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

    def on_suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
        # Django refuses what it will not even read (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, say); the caller
        # gets a refusal, not a 500.
        if isinstance(exc, RequestDataTooBig):
            return error_response(api, request, status=413, code="too_large", message="The request body is too large.")
        return error_response(api, request, status=400, code="bad_request", message="The request is not valid.")

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("unhandled error in API request %s %s", request.method, request.path)
        return error_response(
            api, request, status=500, code="internal_error", message="Something went wrong on our side."
        )

    handlers: list[tuple[type[Exception], Callable[[HttpRequest, Any], HttpResponse]]] = [
        (DomainError, on_domain_error),
        (ValidationError, on_validation_error),
        (AuthenticationError, on_authentication_error),
        (HttpError, on_http_error),
        (Http404, on_not_found),
        (SuspiciousOperation, on_suspicious),
        (Exception, on_unexpected),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)


class Cursor(CursorPagination):
    """Cursor pagination over a stable ordering; `page_size` is 1 to 100 and an out-of-range value is an error.

    A cursor is only ever one this API handed out; anything else (tampered, truncated, from another list) is
    refused as a validation error on `cursor` rather than failing deep inside the query.
    """

    class Input(Schema):
        page_size: int | None = Field(None, ge=1, le=100, description="Items per page (default 20).")
        cursor: str | None = Field(None, max_length=500, description="Opaque cursor from `next` or `previous`.")

    def __init__(self, *, ordering: tuple[str, ...] = ("id",), **kwargs: Any) -> None:
        super().__init__(ordering=ordering, page_size=20, max_page_size=100, **kwargs)

    def paginate_queryset(self, queryset: QuerySet[Any], pagination: Any, request: HttpRequest, **params: Any) -> Any:
        self._check_cursor(queryset, pagination.cursor)
        return super().paginate_queryset(queryset, pagination, request, **params)

    def _check_cursor(self, queryset: QuerySet[Any], encoded: str | None) -> None:
        invalid = ValidationError([{"cursor": "This cursor is not valid; start again from the first page"}])
        try:
            cursor = self.Cursor.from_encoded_param(encoded)
        except (PydanticValidationError, ValidationError) as exc:  # not base64, or fields out of range
            raise invalid from exc
        if cursor.p is None:
            return
        try:  # building the lookup converts the position to the ordering field's type, without a query
            queryset.filter(**{self._order_attribute: cursor.p})
        except (ValueError, TypeError, DjangoValidationError) as exc:
            raise invalid from exc


# --- the API object: the error shape for what ninja answers by itself ------------------------------------


class CrowdmakerApi(NinjaAPI):
    """NinjaAPI whose every answer, including those ninja gives by itself, has the one error shape.

    ninja answers a wrong method with a plain-text 405 and the bare /api/v1/ root with Django's HTML 404;
    each URL it builds is wrapped here so those come back as JSON errors too.
    """

    def __init__(self, **kwargs: Any) -> None:
        # Swagger UI comes from django-ninja's own static files ("ninja" is an installed app), never a CDN, and
        # does not send the schema to validator.swagger.io: the platform works offline.
        kwargs.setdefault("docs", Swagger(settings={"validatorUrl": None}))
        super().__init__(**kwargs)

    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                pattern.callback = self._in_error_shape(pattern.callback)
        return patterns, app_name, namespace

    def _in_error_shape(self, view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        # Operations check their own methods; the docs, schema and root views are read-only pages.
        read_only = getattr(view, "csrf_exempt", False) is False

        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            response: HttpResponseBase
            if read_only and request.method not in ("GET", "HEAD"):
                response = HttpResponse(status=405)
                response["Allow"] = "GET, HEAD"
            else:
                try:
                    response = view(request, *args, **kwargs)
                except Http404:
                    return error_response(self, request, status=404, code="not_found", message="Not found.")
            if response.status_code == 405 and response.get("Content-Type", "").startswith("text/"):
                allowed = response.get("Allow", "")
                answer = error_response(
                    self,
                    request,
                    status=405,
                    code="method_not_allowed",
                    message=f"{request.method} is not allowed here; allowed: {allowed}.",
                )
                answer["Allow"] = allowed
                return answer
            return response

        wrapped.csrf_exempt = True  # type: ignore[attr-defined]
        return wrapped


router = Router(tags=["platform"])


class HealthOut(Schema):
    status: str
    database: str


@router.get("/health", auth=None, response={200: HealthOut, 503: HealthOut}, summary="Liveness and database check")
def health(request: HttpRequest) -> Status:
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return Status(503, {"status": "unavailable", "database": "unreachable"})
    return Status(200, {"status": "ok", "database": "ok"})
