"""Fixtures shared by every app's tests: accounts, signed-in clients and API clients with tokens."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
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
