"""Throttle events count per scope and key inside the window; taking a slot is atomic; pruning forgets only
what has left the window."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from crowdmaker.core import selectors, services
from crowdmaker.core.errors import Throttled
from crowdmaker.core.http import client_ip
from crowdmaker.core.models import ThrottleEvent

NO_LIMIT = 1_000


def take(scope: str, key: str, *, limit: int = NO_LIMIT) -> int:
    return services.throttle_take(scope=scope, key=key, limit=limit, message="slow down")


def test_events_count_per_scope_and_key(db: None) -> None:
    key = services.throttle_key("login", "203.0.113.7")
    for _ in range(3):
        take("login", key)
    take("signup", key)
    take("login", services.throttle_key("login", "198.51.100.1"))

    assert selectors.throttle_count(scope="login", key=key) == 3
    assert selectors.throttle_count(scope="signup", key=key) == 1


def test_the_key_is_a_hash_not_the_client_identity() -> None:
    key = services.throttle_key("login", "203.0.113.7", "ada@example.org")
    assert len(key) == 64
    assert "203.0.113.7" not in key
    assert key == services.throttle_key("login", "203.0.113.7", "ada@example.org")


def test_take_refuses_at_the_limit_with_retry_after_and_records_nothing(db: None, settings) -> None:
    settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS = 600
    key = services.throttle_key("x")
    first = take("login", key, limit=2)
    second = take("login", key, limit=2)

    with pytest.raises(Throttled) as refused:
        take("login", key, limit=2)

    assert refused.value.status == 429
    assert refused.value.retry_after == 600
    assert refused.value.message == "slow down"
    assert sorted(ThrottleEvent.objects.values_list("pk", flat=True)) == sorted([first, second])


def test_release_gives_back_only_the_slots_named(db: None) -> None:
    key = services.throttle_key("x")
    kept = take("login", key, limit=2)
    given_back = take("login", key, limit=2)

    services.throttle_release(event_ids=[given_back])

    assert list(ThrottleEvent.objects.values_list("pk", flat=True)) == [kept]
    take("login", key, limit=2)  # the slot is free again
    services.throttle_release(event_ids=[])  # nothing to give back: a no-op
    assert selectors.throttle_count(scope="login", key=key) == 2


def test_parallel_takes_never_exceed_the_limit(transactional_db: None) -> None:
    # Given twelve clients racing for three slots, with the gap between counting and inserting made wide
    attempts, limit = 12, 3
    key = services.throttle_key("203.0.113.50")
    start = threading.Barrier(attempts)
    outcomes: list[str] = []
    outcomes_lock = threading.Lock()
    real_count = services.throttle_count

    def slow_count(**kwargs: str) -> int:
        counted = real_count(**kwargs)
        time.sleep(0.05)
        return counted

    def attempt() -> None:
        try:
            start.wait()
            try:
                take("login", key, limit=limit)
                outcome = "taken"
            except Throttled:
                outcome = "refused"
            with outcomes_lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    # When they all take at once
    with mock.patch("crowdmaker.core.services.throttle_count", slow_count):
        threads = [threading.Thread(target=attempt) for _ in range(attempts)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # Then exactly three get a slot and exactly three events exist
    assert sorted(outcomes) == ["refused"] * 9 + ["taken"] * 3
    assert ThrottleEvent.objects.filter(scope="login", key=key).count() == 3


def test_events_older_than_the_window_neither_count_nor_survive_pruning(db: None, settings) -> None:
    settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS = 60
    key = services.throttle_key("x")
    take("login", key)
    take("login", key)
    oldest = ThrottleEvent.objects.order_by("pk")[0]
    ThrottleEvent.objects.filter(pk=oldest.pk).update(created_at=timezone.now() - timedelta(seconds=61))

    assert selectors.throttle_count(scope="login", key=key) == 1
    assert services.throttle_prune() == 1
    assert services.throttle_prune() == 0  # idempotent
    assert ThrottleEvent.objects.count() == 1


def test_clear_forgets_one_key_only(db: None) -> None:
    mine, theirs = services.throttle_key("a"), services.throttle_key("b")
    take("login", mine)
    take("login", theirs)

    services.throttle_clear(scope="login", key=mine)

    assert selectors.throttle_count(scope="login", key=mine) == 0
    assert selectors.throttle_count(scope="login", key=theirs) == 1


def test_client_ip_ignores_x_forwarded_for_without_trusted_proxies(settings) -> None:
    settings.CROWDMAKER_TRUSTED_PROXY_COUNT = 0
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert client_ip(request) == "10.0.0.2"


def test_client_ip_takes_the_address_the_trusted_proxy_saw(settings) -> None:
    settings.CROWDMAKER_TRUSTED_PROXY_COUNT = 1
    # The client forged the first entry; our one proxy appended the address it really saw.
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9")

    assert client_ip(request) == "203.0.113.9"


def test_client_ip_falls_back_when_the_header_is_shorter_than_the_proxy_chain(settings) -> None:
    settings.CROWDMAKER_TRUSTED_PROXY_COUNT = 2
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert client_ip(request) == "10.0.0.2"
