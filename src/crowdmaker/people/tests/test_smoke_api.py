"""First API checks: the caller's account, and the error shape for a missing token."""

from __future__ import annotations

from crowdmaker.people.models import User


def test_me_returns_the_token_owner(api, user: User) -> None:
    response = api.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["handle"] == "ada"
    assert response.json()["display_name"] == "Ada Okafor"


def test_missing_token_gets_401_in_the_error_shape(api_for, db) -> None:
    response = api_for(None).get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
