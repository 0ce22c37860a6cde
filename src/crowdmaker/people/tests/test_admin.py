"""The operators' admin opens for staff, stays closed to everyone else, and never shows a token's hash."""

from __future__ import annotations

import pytest
from django.test import Client

from crowdmaker.people import services
from crowdmaker.people.models import Membership, Role, User


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


def test_team_members_are_read_only_in_the_admin(operator: User, user: User, other_user: User) -> None:
    team = services.team_create(actor=user, slug="light-lab", name="Light Lab")
    services.team_member_add(team=team, user=other_user, role=Role.MEMBER)
    client = Client()
    client.force_login(operator)

    page = client.get(f"/admin/people/team/{team.pk}/change/").content.decode()

    assert "bruno" in page  # members are shown,
    assert 'name="memberships-0-role"' not in page  # but no role can be picked,
    assert 'name="memberships-0-DELETE"' not in page  # no membership deleted,
    assert 'name="memberships-MAX_NUM_FORMS" value="0"' in page  # and none added


def test_an_admin_post_cannot_change_roles_or_remove_the_last_owner(operator: User, user: User) -> None:
    team = services.team_create(actor=user, slug="light-lab", name="Light Lab")
    ada = Membership.objects.get(team=team, user=user)
    client = Client()
    client.force_login(operator)

    response = client.post(
        f"/admin/people/team/{team.pk}/change/",
        {
            "name": "Light Lab",
            "description": "",
            "memberships-TOTAL_FORMS": "2",
            "memberships-INITIAL_FORMS": "1",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-id": str(ada.pk),
            "memberships-0-team": str(team.pk),
            "memberships-0-role": "member",
            "memberships-0-DELETE": "on",
            "memberships-1-team": str(team.pk),
            "memberships-1-user": str(operator.pk),
            "memberships-1-role": "owner",
        },
    )

    assert response.status_code == 302  # the team form itself saves; the memberships in the post are ignored
    assert list(Membership.objects.filter(team=team).values_list("user__handle", "role")) == [("ada", "owner")]
