"""How API callers prove who they are: personal tokens as `Authorization: Bearer <token>`, or the session.

A read-scoped token may only read; any other method with it is refused with 403 `token_read_only`.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from crowdmaker.core.errors import Forbidden
from crowdmaker.people import services
from crowdmaker.people.models import TokenScope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class BearerToken(HttpBearer):
    openapi_description = "A personal API token, created on the Tokens page and shown once."

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = services.api_token_authenticate(raw_token=token)
        if api_token is None:
            return None
        if api_token.scope == TokenScope.READ and request.method not in SAFE_METHODS:
            raise Forbidden("This token may only read; create a read-write token to change data.",
                            code="token_read_only")
        request.user = api_token.user
        request.api_token = api_token  # type: ignore[attr-defined]
        return api_token.user


class Session(SessionAuth):
    """The signed-in browser session; CSRF is checked for unsafe methods."""

    openapi_description = "The session cookie of a signed-in browser (CSRF token required for writes)."


API_AUTH = [BearerToken(), Session()]
