"""Error reports never show an API token or a password from the request."""

from __future__ import annotations

import secrets

from django.http import HttpRequest
from django.test import RequestFactory
from django.views.debug import ExceptionReporter, get_exception_reporter_filter


def test_error_reports_hide_the_authorization_header() -> None:
    request = RequestFactory().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer cm_secret-token-value")

    meta = get_exception_reporter_filter(request).get_safe_request_meta(request)

    assert meta["HTTP_AUTHORIZATION"] != "Bearer cm_secret-token-value"
    assert set(meta["HTTP_AUTHORIZATION"]) == {"*"}


def _request_with_fresh_token() -> HttpRequest:
    # The token is made here so it appears neither in the test's source lines nor in its local variables.
    return RequestFactory().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer cm_{secrets.token_hex(12)}")


def test_a_traceback_page_does_not_contain_the_token() -> None:
    request = _request_with_fresh_token()
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        html = ExceptionReporter(request, type(exc), exc, exc.__traceback__).get_traceback_html()

    assert "boom" in html
    assert request.META["HTTP_AUTHORIZATION"].removeprefix("Bearer ") not in html
