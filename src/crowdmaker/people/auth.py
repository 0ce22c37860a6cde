"""How API callers prove who they are: personal tokens as `Authorization: Bearer <token>`, or the session.

A read-scoped token may only read; any other method with it is refused with 403 `token_read_only`.
A bearer token that is unknown or revoked is refused with 401, never silently replaced by the session.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from crowdmaker.core.errors import Forbidden
from crowdmaker.people import services
from crowdmaker.people.models import TokenScope, User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class BearerToken(HttpBearer):
    openapi_description = "A personal API token, created on the Tokens page and shown once."

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = services.api_token_authenticate(raw_token=token)
        if api_token is None:
            # The caller meant to use this token; acting as whoever the browser session belongs to instead
            # would hide that the token no longer works.
            raise AuthenticationError()
        if api_token.scope == TokenScope.READ and request.method not in SAFE_METHODS:
            raise Forbidden(
                "This token may only read; create a read-write token to change data.", code="token_read_only"
            )
        request.user = api_token.user
        request.api_token = api_token  # type: ignore[attr-defined]
        return api_token.user


class Session(SessionAuth):
    """The signed-in browser session; CSRF is checked for unsafe methods.

    ninja checks CSRF before it looks at the session, so a caller with no session at all would get a 403 about
    CSRF instead of a 401; here CSRF is checked only once there is a signed-in session to protect.
    """

    openapi_description = "The session cookie of a signed-in browser (CSRF token required for writes)."

    def __call__(self, request: HttpRequest) -> Any:
        if not request.user.is_authenticated:
            return None
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise Forbidden("The CSRF token is missing or wrong; reload the page and try again.", code="csrf_failed")
        return request.user


API_AUTH = [BearerToken(), Session()]


def anyone(request: HttpRequest) -> bool:
    """The last authentication to try on public reads: without credentials the caller is an anonymous visitor
    (credentials that are sent are still checked first, and refused when they are bad)."""
    return True


# Public reads: a token or the session when given, else anonymous.
PUBLIC_AUTH = [*API_AUTH, anyone]


def signed_in_user(request: HttpRequest) -> User:
    """The account behind a request that must have one: an API route whose auth requires it (API_AUTH), or a
    page behind login_required."""
    user = request.user
    assert isinstance(user, User)  # the router's auth guarantees a signed-in account
    return user


def viewer(request: HttpRequest) -> User | None:
    """The signed-in account behind a request, or None for an anonymous visitor (public pages and reads)."""
    return request.user if isinstance(request.user, User) else None
