"""The operators' admin opens for staff, stays closed to everyone else, and never shows a token's hash."""

from __future__ import annotations

import pytest
from django.test import Client

from crowdmaker.people import services
from crowdmaker.people.models import User


@pytest.fixture
def operator(make_user) -> User:
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/people/user/",
        "/admin/people/team/",
        "/admin/people/apitoken/",
        "/admin/people/teaminvitation/",
        "/admin/core/periodicjob/",
    ],
)
def test_admin_pages_open_for_operators(operator: User, user: User, path: str) -> None:
    services.team_create(actor=user, slug="light-lab", name="Light Lab")
    services.api_token_create(user=user, name="cli", scope="read")
    client = Client()
    client.force_login(operator)

    response = client.get(path)

    assert response.status_code == 200


def test_admin_token_pages_do_not_show_the_hash(operator: User, user: User) -> None:
    token, raw = services.api_token_create(user=user, name="cli", scope="read")
    client = Client()
    client.force_login(operator)

    page = client.get(f"/admin/people/apitoken/{token.pk}/change/").content.decode()

    assert token.token_hash not in page
    assert raw not in page
    assert token.prefix in page


def test_admin_is_closed_to_makers(signed_in_client: Client) -> None:
    response = signed_in_client.get("/admin/people/user/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_operator_edits_a_user_page(operator: User, user: User) -> None:
    client = Client()
    client.force_login(operator)

    response = client.get(f"/admin/people/user/{user.pk}/change/")

    assert response.status_code == 200
    assert "ada@example.org" in response.content.decode()
