"""Fixtures shared by every app's tests: accounts, signed-in clients, API clients with tokens, a browser page,
and the registry's starter set for tests that run in real transactions."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.apps import apps
from django.db import connections
from django.test import Client

from crowdmaker.people import services
from crowdmaker.people.models import User

PASSWORD = "correct horse battery staple"  # noqa: S105
_sequence = itertools.count(1)


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(handle: str | None = None, **extra: Any) -> User:
        handle = handle or f"maker{next(_sequence)}"
        return services.user_create(
            email=extra.pop("email", f"{handle}@example.org"), password=PASSWORD, handle=handle, **extra
        )

    return make


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user("ada", display_name="Ada Okafor")


@pytest.fixture
def other_user(make_user: Callable[..., User]) -> User:
    return make_user("bruno", display_name="Bruno Lindqvist")


@pytest.fixture
def signed_in_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


class ApiClient:
    """Calls the JSON API with a bearer token, sending and decoding JSON."""

    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.token = token

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(
        self, method: str, path: str, body: Any = None, *, raw: str | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        call = getattr(self.client, method.lower())
        kwargs: dict[str, Any] = {"headers": {**self._headers(), **(headers or {})}}
        if data is not None:
            kwargs.update(data=data, content_type="application/json")
        return call(path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api_for() -> Callable[..., ApiClient]:
    """`api_for(user, scope="write")` gives an API client holding a fresh token of that user."""

    def make(owner: User | None, scope: str = "write") -> ApiClient:
        if owner is None:
            return ApiClient(None)
        _, raw = services.api_token_create(user=owner, name=f"test {scope}", scope=scope)
        return ApiClient(raw)

    return make


@pytest.fixture
def api(user: User, api_for: Callable[..., ApiClient]) -> ApiClient:
    return api_for(user)


# --- tests in real transactions --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _registry_starter_set(request: pytest.FixtureRequest) -> None:
    """A transactional test flushes the database when it ends, migration data included; put the interface
    registry's starter set back for each one (idempotent), as the migration had it."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or "live_server" in request.fixturenames
    if not transactional and not (marker and marker.kwargs.get("transaction")):
        return
    request.getfixturevalue("transactional_db")
    from crowdmaker.protocol.registry_seed import seed_registry

    seed_registry(apps)


# --- the browser ---------------------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

# On a workstation without Chromium the browser tests are skipped with a notice; CI sets
# CROWDMAKER_REQUIRE_BROWSER=1 (and installs Debian's chromium), so there a missing browser is a failure.
BROWSER_MISSING = shutil.which(CHROMIUM) is None and not os.environ.get("CROWDMAKER_REQUIRE_BROWSER")

# `pytestmark = BROWSER_TEST` in a module of browser tests (run alone with `-m browser`).
BROWSER_TEST = [
    pytest.mark.browser,
    pytest.mark.skipif(
        BROWSER_MISSING, reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A Chromium page (Debian's, never a downloaded browser), 15 s default timeout."""
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls in the test are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            # While Playwright's loop runs, Django keeps this thread's connections in a context variable rather
            # than the thread-local; close those here, or they keep the test database busy at teardown.
            connections.close_all()
            browser.close()
