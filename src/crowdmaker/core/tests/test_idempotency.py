"""Idempotency-Key on a small API of its own: replay, reuse with other parameters, in flight, expiry, scope.

The endpoint's "work" is one ThrottleEvent row per run, so every test can count exactly how often it ran.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.checks import run_checks
from django.db import connection, transaction
from django.http import HttpRequest
from django.test import override_settings
from django.urls import path
from django.utils import timezone
from ninja import Router, Schema, Status

from crowdmaker.conftest import ApiClient
from crowdmaker.core import scheduler
from crowdmaker.core.api import CrowdmakerApi, ErrorOut, InputSchema, install_error_handlers
from crowdmaker.core.errors import Conflict, Invalid, Throttled
from crowdmaker.core.idempotency import STALE_AFTER, idempotency_claim, idempotency_prune, idempotent
from crowdmaker.core.models import IdempotencyRecord, ThrottleEvent
from crowdmaker.people.auth import API_AUTH
from crowdmaker.people.models import User

# --- a test API with one idempotent endpoint -----------------------------------------------------------------

entered = threading.Event()
release = threading.Event()


class WorkIn(InputSchema):
    amount: int
    fail: bool = False
    crash: bool = False
    wait: bool = False
    busy: bool = False
    throttled: bool = False


class WorkOut(Schema):
    run: int
    amount: int


router = Router()


# The answer the next `busy` or `throttled` request gets; a test flips it to let the retry through.
not_now = {"busy": True, "throttled": True}


@router.post("/work", response={201: WorkOut, 400: ErrorOut, 409: ErrorOut, 422: ErrorOut, 429: ErrorOut})
@idempotent
def work(request: HttpRequest, payload: WorkIn) -> Status:
    if payload.wait:
        entered.set()
        release.wait(timeout=10)
    if payload.busy and not_now["busy"]:
        raise Conflict("Busy with another step; retry shortly.", code="payment_busy")
    if payload.throttled and not_now["throttled"]:
        raise Throttled("Too many requests.", retry_after=1)
    if payload.fail:
        raise Invalid("This amount is refused.", code="amount_refused", field="amount")
    if payload.crash:
        raise RuntimeError("boom")
    event = ThrottleEvent.objects.create(scope="work", key=str(payload.amount))
    return Status(201, {"run": event.pk, "amount": payload.amount})


api = CrowdmakerApi(title="idempotency test", version="t", auth=API_AUTH, urls_namespace="idempotency-test")
install_error_handlers(api)
api.add_router("", router)
urlpatterns = [path("t/", api.urls)]

pytestmark = pytest.mark.urls(__name__)


def runs() -> int:
    return ThrottleEvent.objects.filter(scope="work").count()


def post(client: ApiClient, body: dict[str, Any] | None, key: str | None = "key-1", **extra: Any) -> Any:
    return client.post("/t/work", body, headers={"Idempotency-Key": key} if key is not None else {}, **extra)


@pytest.fixture
def client(user: User, api_for: Callable[..., ApiClient]) -> ApiClient:
    return api_for(user)


# --- the rules ------------------------------------------------------------------------------------------------


def test_the_same_key_and_request_replays_the_first_response_and_does_the_work_once(client: ApiClient) -> None:
    first = post(client, {"amount": 5})
    second = post(client, {"amount": 5})

    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert runs() == 1


def test_json_that_differs_only_in_spacing_or_key_order_is_the_same_request(client: ApiClient) -> None:
    first = post(client, None, raw='{"amount": 5, "fail": false}')
    second = post(client, None, raw='{ "fail":false,"amount":5 }')

    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert runs() == 1


def test_an_error_response_is_replayed_too(client: ApiClient) -> None:
    first = post(client, {"amount": 5, "fail": True})
    second = post(client, {"amount": 5, "fail": True})

    assert first.status_code == second.status_code == 422
    assert (
        second.json()
        == first.json()
        == {"error": {"code": "amount_refused", "message": "This amount is refused.", "field": "amount"}}
    )
    assert runs() == 0


def test_the_same_key_with_other_parameters_is_refused_and_changes_nothing(client: ApiClient) -> None:
    first = post(client, {"amount": 5})
    record = IdempotencyRecord.objects.get()

    reused = post(client, {"amount": 6})
    replayed = post(client, {"amount": 5})

    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert reused.json()["error"]["field"] == "Idempotency-Key"
    assert runs() == 1
    assert IdempotencyRecord.objects.get().response_body == record.response_body
    assert replayed.content == first.content


def _fingerprint_of(client: ApiClient, body: dict[str, Any]) -> str:
    """The fingerprint a request gets, learnt by sending it under a throwaway key and undoing its work."""
    post(client, body, key="probe")
    record = IdempotencyRecord.objects.get(key="probe")
    ThrottleEvent.objects.filter(scope="work").delete()
    record.delete()
    return record.fingerprint


def _in_flight(user: User, fingerprint: str, *, started: datetime) -> None:
    """The row the first request inserts before its work begins."""
    IdempotencyRecord.objects.create(
        scope=f"user:{user.pk}", key="key-1", fingerprint=fingerprint, method="POST", path="/t/work",
        created_at=started, expires_at=started + timedelta(hours=24),
    )  # fmt: skip


def test_a_key_in_flight_is_refused_with_409_and_nothing_is_done(client: ApiClient, user: User) -> None:
    _in_flight(user, _fingerprint_of(client, {"amount": 5}), started=timezone.now())

    answer = post(client, {"amount": 5})

    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "idempotency_key_in_flight"
    assert runs() == 0
    assert IdempotencyRecord.objects.get().response_status is None


def test_a_claim_left_in_flight_by_a_dead_process_is_taken_over_after_a_while(client: ApiClient, user: User) -> None:
    _in_flight(
        user, _fingerprint_of(client, {"amount": 5}), started=timezone.now() - STALE_AFTER - timedelta(seconds=1)
    )

    answer = post(client, {"amount": 5})

    assert answer.status_code == 201
    assert runs() == 1
    assert IdempotencyRecord.objects.get(key="key-1").response_status == 201


def test_keys_are_scoped_to_the_caller(client: ApiClient, other_user: User, api_for: Callable[..., ApiClient]) -> None:
    mine = post(client, {"amount": 5})
    theirs = post(api_for(other_user), {"amount": 5})

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["run"] != theirs.json()["run"]
    assert runs() == 2


@pytest.mark.parametrize(
    ("key", "code"),
    [(None, "idempotency_key_required"), ("", "idempotency_key_required"), ("k" * 256, "idempotency_key_invalid")],
)
def test_a_missing_or_overlong_key_is_a_400_and_nothing_is_done(client: ApiClient, key: str | None, code: str) -> None:
    answer = post(client, {"amount": 5}, key=key)

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code
    assert runs() == 0
    assert IdempotencyRecord.objects.count() == 0


def test_a_key_of_255_characters_is_accepted(client: ApiClient) -> None:
    assert post(client, {"amount": 5}, key="k" * 255).status_code == 201


def test_an_invalid_body_is_refused_before_the_key_is_taken(client: ApiClient) -> None:
    answer = post(client, {"amount": "five"})

    assert answer.status_code == 422
    assert IdempotencyRecord.objects.count() == 0
    assert post(client, {"amount": 5}).status_code == 201


def test_a_server_error_is_not_stored_so_the_same_key_can_be_retried(client: ApiClient) -> None:
    crashed = post(client, {"amount": 5, "crash": True})

    assert crashed.status_code == 500
    assert IdempotencyRecord.objects.count() == 0
    # The retry is the same request and runs again (and crashes again, here): nothing was replayed.
    assert post(client, {"amount": 5, "crash": True}).status_code == 500


@pytest.mark.parametrize(("flag", "status"), [("busy", 409), ("throttled", 429)])
def test_a_try_again_later_answer_is_not_stored_so_the_same_key_succeeds_later(
    client: ApiClient, flag: str, status: int
) -> None:
    not_now[flag] = True
    try:
        refused = post(client, {"amount": 5, flag: True})
        assert refused.status_code == status
        assert IdempotencyRecord.objects.count() == 0
        assert runs() == 0

        not_now[flag] = False  # e.g. the payment's other step finished
        later = post(client, {"amount": 5, flag: True})
    finally:
        not_now[flag] = True

    assert later.status_code == 201
    assert not later.has_header("Idempotent-Replayed")
    assert runs() == 1
    replayed = post(client, {"amount": 5, flag: True})
    assert (replayed.status_code, replayed.content) == (201, later.content)
    assert replayed["Idempotent-Replayed"] == "true"


def test_a_4xx_refusal_is_final_and_stored(client: ApiClient) -> None:
    post(client, {"amount": 5, "fail": True})

    assert IdempotencyRecord.objects.get().response_status == 422


def test_a_key_is_never_claimed_inside_a_transaction(user: User) -> None:
    # The test's own transaction (pytest-django's `db`) is allowed, as for a durable atomic block; one the
    # code opens is not.
    claim = idempotency_claim(scope=f"user:{user.pk}", key="ok", fingerprint="f", method="POST", path="/t/work")
    assert not isinstance(claim, IdempotencyRecord)

    with transaction.atomic(), pytest.raises(RuntimeError, match="outside any database transaction"):
        idempotency_claim(scope=f"user:{user.pk}", key="k", fingerprint="f", method="POST", path="/t/work")
    assert not IdempotencyRecord.objects.filter(key="k").exists()


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_the_claim_is_taken_and_inside_atomic_it_is_refused(user: User) -> None:
    assert not connection.in_atomic_block
    claim = idempotency_claim(scope=f"user:{user.pk}", key="a", fingerprint="f", method="POST", path="/t/work")
    assert not isinstance(claim, IdempotencyRecord)

    with transaction.atomic(), pytest.raises(RuntimeError, match="outside any database transaction"):
        idempotency_claim(scope=f"user:{user.pk}", key="b", fingerprint="f", method="POST", path="/t/work")
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["a"]


@pytest.mark.parametrize(("ttl", "errors"), [(24, []), (72, []), (23, ["core.E001"]), (0, ["core.E001"])])
def test_a_ttl_below_24_hours_is_refused_by_a_system_check(ttl: int, errors: list[str]) -> None:
    with override_settings(CROWDMAKER_IDEMPOTENCY_TTL_HOURS=ttl):
        found = [message for message in run_checks() if message.id == "core.E001"]

    assert [message.id for message in found] == errors
    if found:
        assert f"CROWDMAKER_IDEMPOTENCY_TTL_HOURS is {ttl}" in found[0].msg
        assert found[0].is_serious()


def test_after_the_ttl_the_key_starts_afresh_and_prune_deletes_only_expired_records(client: ApiClient) -> None:
    post(client, {"amount": 5})
    record = IdempotencyRecord.objects.get()
    assert record.expires_at - record.completed_at == timedelta(hours=24)  # type: ignore[operator]

    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    again = post(client, {"amount": 5})
    assert again.status_code == 201
    assert not again.has_header("Idempotent-Replayed")
    assert runs() == 2

    post(client, {"amount": 7}, key="key-2")
    IdempotencyRecord.objects.filter(key="key-2").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert idempotency_prune() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["key-1"]


def test_pruning_runs_periodically() -> None:
    assert "core.idempotency_prune" in scheduler.registered()


# --- real concurrency: two connections -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_second_request_while_the_first_is_in_flight_gets_409_and_the_work_is_done_once(
    user: User, api_for: Callable[..., ApiClient]
) -> None:
    entered.clear()
    release.clear()
    first_client, second_client = api_for(user), api_for(user)
    answers: dict[str, Any] = {}

    def first_request() -> None:
        try:
            answers["first"] = post(first_client, {"amount": 5, "wait": True})
        finally:
            connection.close()

    thread = threading.Thread(target=first_request)
    thread.start()
    try:
        assert entered.wait(timeout=10), "the first request never started its work"
        second = post(second_client, {"amount": 5, "wait": True})
    finally:
        release.set()
        thread.join(timeout=10)

    assert second.status_code == 409
    assert second.json()["error"]["code"] == "idempotency_key_in_flight"
    assert answers["first"].status_code == 201
    replayed = post(second_client, {"amount": 5, "wait": True})
    assert (replayed.status_code, replayed.content) == (201, answers["first"].content)
    assert runs() == 1
