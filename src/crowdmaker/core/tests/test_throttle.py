"""Throttle events count per scope and key inside the window; pruning forgets only what has left it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from crowdmaker.core import selectors, services
from crowdmaker.core.errors import Throttled
from crowdmaker.core.http import client_ip
from crowdmaker.core.models import ThrottleEvent


def test_events_count_per_scope_and_key(db: None) -> None:
    key = services.throttle_key("login", "203.0.113.7")
    for _ in range(3):
        services.throttle_record(scope="login", key=key)
    services.throttle_record(scope="signup", key=key)
    services.throttle_record(scope="login", key=services.throttle_key("login", "198.51.100.1"))

    assert selectors.throttle_count(scope="login", key=key) == 3
    assert selectors.throttle_count(scope="signup", key=key) == 1


def test_the_key_is_a_hash_not_the_client_identity() -> None:
    key = services.throttle_key("login", "203.0.113.7", "ada@example.org")
    assert len(key) == 64
    assert "203.0.113.7" not in key
    assert key == services.throttle_key("login", "203.0.113.7", "ada@example.org")


def test_check_refuses_at_the_limit_with_retry_after(db: None, settings) -> None:
    settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS = 600
    key = services.throttle_key("x")
    services.throttle_record(scope="login", key=key)
    selectors.throttle_check(scope="login", key=key, limit=2, message="slow down")  # one below: fine
    services.throttle_record(scope="login", key=key)

    with pytest.raises(Throttled) as refused:
        selectors.throttle_check(scope="login", key=key, limit=2, message="slow down")

    assert refused.value.status == 429
    assert refused.value.retry_after == 600
    assert refused.value.message == "slow down"


def test_events_older_than_the_window_neither_count_nor_survive_pruning(db: None, settings) -> None:
    settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS = 60
    key = services.throttle_key("x")
    services.throttle_record(scope="login", key=key)
    services.throttle_record(scope="login", key=key)
    oldest = ThrottleEvent.objects.order_by("pk")[0]
    ThrottleEvent.objects.filter(pk=oldest.pk).update(created_at=timezone.now() - timedelta(seconds=61))

    assert selectors.throttle_count(scope="login", key=key) == 1
    assert services.throttle_prune() == 1
    assert services.throttle_prune() == 0  # idempotent
    assert ThrottleEvent.objects.count() == 1


def test_clear_forgets_one_key_only(db: None) -> None:
    mine, theirs = services.throttle_key("a"), services.throttle_key("b")
    services.throttle_record(scope="login", key=mine)
    services.throttle_record(scope="login", key=theirs)

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
