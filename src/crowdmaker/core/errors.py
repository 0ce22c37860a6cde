"""Domain errors that services raise and every edge (page, API, command) turns into a clear refusal.

Each carries a stable machine-readable `code`, a human `message` and, when one input is to blame, its `field`.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field


class Invalid(DomainError):
    """The input breaks a rule of the domain (HTTP 422)."""

    status = 422
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    """The actor is known but may not do this (HTTP 403)."""

    status = 403
    code = "forbidden"


class Conflict(DomainError):
    """The request clashes with the current state, e.g. a name already taken (HTTP 409)."""

    status = 409
    code = "conflict"


class Throttled(DomainError):
    status = 429
    code = "throttled"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
