"""Idempotency-Key for the API's money-creating POSTs (pledges, orders, payments, refunds, payouts).

Semantics (MONEY.md): the key (1..255 characters) is scoped to the caller. Same key and same request: the
first response, status and body, errors included, is replayed for CROWDMAKER_IDEMPOTENCY_TTL_HOURS (at least
24, a system check refuses less). Same key, different request: 422 `idempotency_key_reused`. Same key while the
first is in flight: 409 `idempotency_key_in_flight`. Which answers are kept: every 2xx, 3xx and 4xx, e.g. 402
declines and 422 refusals, is final and replayed; 409, 429 and 5xx answers say "not now, try again" (the
payment is busy, the caller is throttled, the gateway is down) and are not kept, so a retry with the same key
runs again. A handler must therefore never answer 409 or 429 after doing part of its work. The claim is taken
outside any database transaction (it must be committed before the work starts, and a replay must see committed
answers); taking it inside one raises RuntimeError. This module never starts the work before the claim is
committed.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from ninja.decorators import decorate_view
from ninja.operation import Operation
from ninja.utils import contribute_operation_callback

from crowdmaker.core import sql
from crowdmaker.core.errors import Conflict, DomainError, Invalid
from crowdmaker.core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# A request still in flight this long after it began died with its process (a web worker is killed long
# before this); its key may then be taken over. Work keyed by `idempotency_reference` resumes safely.
STALE_AFTER = timedelta(minutes=10)
REPLAYED_HEADER = "Idempotent-Replayed"
# Answers that mean "not now": the request may succeed later, so they are not kept and the key stays free.
RETRYABLE_STATUSES = frozenset({409, 429})
_REQUEST_ATTRIBUTE = "_crowdmaker_idempotency"


class IdempotencyKeyError(DomainError):
    """The Idempotency-Key header is missing or malformed (HTTP 400)."""

    status = 400
    code = "idempotency_key_required"


@dataclass(frozen=True)
class Claim:
    """This request owns the key: it does the work and stores the answer."""

    record_id: int
    scope: str
    key: str


def _ttl() -> timedelta:
    return timedelta(hours=settings.CROWDMAKER_IDEMPOTENCY_TTL_HOURS)


def request_scope(request: HttpRequest) -> str:
    """Whose keys these are: the authenticated caller. Two callers may use the same key independently."""
    user = getattr(request, "auth", None) or request.user
    if user is None or not getattr(user, "pk", None):
        raise IdempotencyKeyError("An idempotent request needs a signed-in caller.", code="not_authenticated")
    return f"user:{user.pk}"


def request_key(request: HttpRequest) -> str:
    key = request.headers.get(HEADER)
    if key is None or key == "":
        raise IdempotencyKeyError(
            f"Send an {HEADER} header (1 to {MAX_KEY_LENGTH} characters, e.g. a UUID) so that a retry of this "
            "request can never do it twice.",
            field=HEADER,
        )
    if len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyError(
            f"The {HEADER} header has at most {MAX_KEY_LENGTH} characters.",
            code="idempotency_key_invalid",
            field=HEADER,
        )
    return key


def request_fingerprint(request: HttpRequest) -> str:
    """What makes two requests "the same": method, path, query and body (JSON compared by meaning, not spacing)."""
    body: bytes = request.body
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode() if body else b""
    except ValueError:
        canonical = body
    query = "&".join(sorted(f"{name}={value}" for name, values in request.GET.lists() for value in values))
    digest = hashlib.sha256()
    for part in (request.method or "", request.path, query):
        digest.update(part.encode() + b"\x00")
    digest.update(canonical)
    return digest.hexdigest()


def idempotency_reference(request: HttpRequest, purpose: str) -> str:
    """A reference derived from the caller's key, the same on every retry with that key.

    Services pass it to the payment gateway (and store it), so a retry after a 5xx or a crash finds the work
    begun under this key and finishes it, instead of starting it a second time.
    """
    claim: Claim | None = getattr(request, _REQUEST_ATTRIBUTE, None)
    if claim is None:
        raise RuntimeError("idempotency_reference() is only for handlers decorated with @idempotent.")
    digest = hashlib.sha256(f"{claim.scope}\x1f{claim.key}".encode()).hexdigest()
    return f"{purpose}-{digest[:40]}"


# --- the record: claim, finish, release, prune ---------------------------------------------------------------


def _require_no_transaction() -> None:
    """Refuse to claim a key inside a database transaction.

    Inside one, the claim row would not be visible to a concurrent request with the same key until the
    caller commits (both would do the work), a rollback would silently drop it, and a replay would read
    through the caller's snapshot. ATOMIC_REQUESTS is off, so API handlers run in autocommit. A durable
    atomic block is refused inside another one for the same reason, so it is the test: Django lets a
    durable block into the transaction its TestCase (and pytest-django's `db` fixture) wraps each test in.
    """
    if not connection.in_atomic_block:
        return
    try:
        with transaction.atomic(durable=True):
            return
    except RuntimeError as nested:
        raise RuntimeError(
            f"An {HEADER} must be claimed outside any database transaction (ATOMIC_REQUESTS must stay off, "
            "and @idempotent handlers must not be called inside transaction.atomic): the claim has to be "
            "committed before the work starts."
        ) from nested


def idempotency_claim(*, scope: str, key: str, fingerprint: str, method: str, path: str) -> Claim | IdempotencyRecord:
    """Take the key for this request (a Claim), or return the finished record whose response to replay.

    Raises Invalid (422) when the key was used for a different request and Conflict (409) while the first
    request with the key is still in flight. The row is inserted with ON CONFLICT DO NOTHING in autocommit, so
    exactly one of two simultaneous requests gets the claim and the other sees it.
    """
    _require_no_transaction()
    table = IdempotencyRecord._meta.db_table
    for _ in range(3):  # an expired or stale row is cleared and the insert tried again
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (scope, key, fingerprint, method, path, response_body,"  # noqa: S608
                " response_content_type, created_at, expires_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, '', %s, %s)"
                " ON CONFLICT (scope, key) DO NOTHING RETURNING id",
                [scope, key, fingerprint, method, path[:500], b"", now, now + _ttl()],
            )
            row = cursor.fetchone()
        if row is not None:
            return Claim(record_id=row[0], scope=scope, key=key)
        existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
        if existing is None:  # finished with a 5xx and released in the meantime
            continue
        if existing.expires_at <= now:
            IdempotencyRecord.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise Invalid(
                f"This {HEADER} was used for a different request ({existing.method} {existing.path}); "
                "use a new key for a new request.",
                code="idempotency_key_reused",
                field=HEADER,
            )
        if existing.response_status is None:
            # Taking over a stale claim is one conditional UPDATE, so only one of several retries gets it.
            if existing.created_at < now - STALE_AFTER and IdempotencyRecord.objects.filter(
                pk=existing.pk, response_status__isnull=True, created_at=existing.created_at
            ).update(created_at=now, expires_at=now + _ttl()):
                return Claim(record_id=existing.pk, scope=scope, key=key)
            raise Conflict(
                f"A request with this {HEADER} is still being processed; wait for it and retry.",
                code="idempotency_key_in_flight",
                field=HEADER,
            )
        return existing
    raise Conflict(f"This {HEADER} is changing hands right now; retry.", code="idempotency_key_in_flight")


def is_final(status: int) -> bool:
    """Whether an answer with this status is kept and replayed (see the module docstring)."""
    return status < 500 and status not in RETRYABLE_STATUSES


def idempotency_finish(*, claim: Claim, response: HttpResponseBase) -> None:
    """Store the response to replay; a retryable one (409, 429, 5xx) is not stored, and the key is free again."""
    if not is_final(response.status_code) or not isinstance(response, HttpResponse):
        idempotency_release(claim=claim)
        return
    now = timezone.now()
    sql.update(  # in SQL kept as text (core.sql): every pledge of a launch surge stores its answer
        IdempotencyRecord,
        claim.record_id,
        response_status=response.status_code,
        response_body=response.content,
        response_content_type=response.get("Content-Type", ""),
        completed_at=now,
        expires_at=now + _ttl(),  # replayable for the whole TTL after the answer exists
    )


def idempotency_release(*, claim: Claim) -> None:
    IdempotencyRecord.objects.filter(pk=claim.record_id, response_status__isnull=True).delete()


@transaction.atomic
def idempotency_prune(*, now: Any = None) -> int:
    """Delete records past their expiry (finished ones and abandoned in-flight ones alike)."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        bytes(record.response_body),
        status=record.response_status or 200,
        content_type=record.response_content_type or "application/json",
    )
    response[REPLAYED_HEADER] = "true"
    return response


# --- the decorator for ninja handlers -------------------------------------------------------------------------

_HEADER_PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    "description": (
        "Makes the request safe to retry: the same key with the same request replays the first response "
        "(for at least 24 hours); with a different request it is refused with 422 `idempotency_key_reused`; "
        "while the first is in flight, 409 `idempotency_key_in_flight`. Answers that mean 'try again' (409, "
        "429, 5xx) are not kept, so a retry with the same key does the work then. Scoped to the caller."
    ),
}


def idempotent(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Make a ninja handler idempotent by Idempotency-Key. Put it below the router decorator:

        @router.post("/payments", response={201: PaymentOut, **ERRORS})
        @idempotent
        def payment_create(request, payload: PaymentIn): ...

    The key is claimed after authentication and input validation (an invalid request does nothing, so there is
    nothing to replay) and before the handler runs; the finished response, errors included, is stored by a
    wrapper around the whole operation, after ninja has turned the handler's result or error into a response.
    """

    @functools.wraps(handler)
    def claimed(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        outcome = idempotency_claim(
            scope=request_scope(request),
            key=request_key(request),
            fingerprint=request_fingerprint(request),
            method=request.method or "",
            path=request.path,
        )
        if isinstance(outcome, IdempotencyRecord):
            return replay(outcome)
        setattr(request, _REQUEST_ATTRIBUTE, outcome)
        return handler(request, *args, **kwargs)

    def store_response(run: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @functools.wraps(run)
        def run_and_store(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                response = run(request, *args, **kwargs)
            except BaseException:
                claim = getattr(request, _REQUEST_ATTRIBUTE, None)
                if claim is not None:
                    idempotency_release(claim=claim)
                raise
            claim = getattr(request, _REQUEST_ATTRIBUTE, None)
            if claim is not None:
                idempotency_finish(claim=claim, response=response)
            return response

        return run_and_store

    def document(operation: Operation) -> None:
        extra = dict(operation.openapi_extra or {})
        extra["parameters"] = [*extra.get("parameters", []), _HEADER_PARAMETER]
        operation.openapi_extra = extra

    # ninja resolves string annotations in the namespace of the function it is given, which for this wrapper
    # would be this module's: hand it the handler's signature with its annotations already resolved.
    claimed.__signature__ = inspect.signature(handler, eval_str=True)  # type: ignore[attr-defined]
    decorate_view(store_response)(claimed)
    contribute_operation_callback(claimed, document)
    return claimed
