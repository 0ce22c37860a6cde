"""The people API end to end: profile, teams, members, invitations and tokens, each refusal with its error and
proof that nothing changed; pagination, query counts, the error shape for everything ninja answers by itself,
and the offline docs page.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdmaker.conftest import ApiClient
from crowdmaker.people import selectors, services
from crowdmaker.people.models import (
    SLUG_PATTERN,
    ApiToken,
    InvitationStatus,
    Membership,
    Profile,
    Role,
    Team,
    TeamInvitation,
    User,
)

MakeUser = Callable[..., User]
ApiFor = Callable[..., ApiClient]


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The response is exactly the API's one error shape, with this status, code and field."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == code
    assert body["error"]["field"] == field
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    return body["error"]


def profile_state(user: User) -> dict[str, Any]:
    return dict(Profile.objects.filter(user=user).values("display_name", "bio", "links", "updated_at").get())


def team_state(team: Team) -> dict[str, Any]:
    return dict(Team.objects.filter(pk=team.pk).values("slug", "name", "description").get())


def people_counts() -> dict[str, int]:
    return {
        "teams": Team.objects.count(),
        "memberships": Membership.objects.count(),
        "invitations": TeamInvitation.objects.count(),
        "pending": TeamInvitation.objects.filter(status=InvitationStatus.PENDING).count(),
        "active_tokens": ApiToken.objects.filter(revoked_at__isnull=True).count(),
    }


def memberships_of(team: Team) -> dict[str, str]:
    return dict(Membership.objects.filter(team=team).values_list("user__handle", "role"))


@pytest.fixture
def team(user: User) -> Team:
    """Ada's team; Ada is its only owner."""
    return services.team_create(actor=user, slug="lamp-makers", name="Lamp makers", description="We make lamps.")


@pytest.fixture
def member(make_user: MakeUser, team: Team) -> User:
    carla = make_user("carla", display_name="Carla Mendes")
    services.team_member_add(team=team, user=carla, role=Role.MEMBER)
    return carla


@pytest.fixture
def maintainer(make_user: MakeUser, team: Team) -> User:
    dev = make_user("dev", display_name="Dev Patel")
    services.team_member_add(team=team, user=dev, role=Role.MAINTAINER)
    return dev


# --- the caller's profile --------------------------------------------------------------------------------------


def test_me_is_the_token_owners_account_and_profile(api: ApiClient, user: User) -> None:
    response = api.get("/api/v1/me")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "handle", "display_name", "bio", "links", "email", "date_joined", "show_on_public_ledgers", "email_verified"
    }  # fmt: skip
    assert body["show_on_public_ledgers"] is False
    assert body["email_verified"] is False
    assert {k: body[k] for k in ("handle", "display_name", "email", "bio", "links")} == {
        "handle": "ada",
        "display_name": "Ada Okafor",
        "email": "ada@example.org",
        "bio": "",
        "links": [],
    }


def test_profile_edit_changes_the_fields_given(api: ApiClient, user: User) -> None:
    response = api.patch(
        "/api/v1/me/profile",
        {"bio": "  I solder.  ", "links": ["https://ada.example.org", " ", "http://lamps.example.org/ada"]},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["handle"] == "ada"
    assert body["email"] == "ada@example.org"
    assert body["display_name"] == "Ada Okafor"  # not sent, so unchanged
    assert body["bio"] == "I solder."
    assert body["links"] == ["https://ada.example.org", "http://lamps.example.org/ada"]
    profile = Profile.objects.get(user=user)
    assert (profile.display_name, profile.bio) == ("Ada Okafor", "I solder.")
    assert profile.links == ["https://ada.example.org", "http://lamps.example.org/ada"]


def test_bio_keeps_line_breaks_and_names_keep_joiners(api: ApiClient, user: User) -> None:
    response = api.patch(
        "/api/v1/me/profile",
        {"bio": "Line one.\r\nLine two.\n\tIndented.", "display_name": "Ada \U0001f469\u200d\U0001f527"},
    )

    assert response.status_code == 200
    profile = Profile.objects.get(user=user)
    assert profile.bio == "Line one.\r\nLine two.\n\tIndented."
    assert profile.display_name == "Ada \U0001f469\u200d\U0001f527"  # a woman mechanic: an emoji joined by ZWJ


def test_profile_edit_can_empty_the_bio_and_links(api: ApiClient, user: User) -> None:
    services.profile_update(user=user, bio="Old", links=["https://old.example.org"])

    response = api.patch("/api/v1/me/profile", {"bio": "", "links": []})

    assert response.status_code == 200
    assert (response.json()["bio"], response.json()["links"]) == ("", [])
    assert profile_state(user)["links"] == []


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        pytest.param({"bio": "x" * 2001}, 422, "validation_error", "bio", id="over-long bio"),
        pytest.param({"display_name": "x" * 81}, 422, "validation_error", "display_name", id="over-long name"),
        pytest.param({"display_name": "   "}, 422, "invalid", "display_name", id="blank name"),
        pytest.param({"display_name": ""}, 422, "validation_error", "display_name", id="empty name"),
        pytest.param(
            {"links": [f"https://example.org/{n}" for n in range(6)]}, 422, "validation_error", "links", id="6 links"
        ),
        pytest.param({"links": ["https://ok.example.org", "not a url"]}, 422, "invalid", "links.1", id="non-URL"),
        pytest.param({"links": ["javascript:alert(1)"]}, 422, "invalid", "links.0", id="javascript link"),
        pytest.param({"links": ["ftp://example.org/file"]}, 422, "invalid", "links.0", id="ftp link"),
        pytest.param({"links": ["https://example.org/" + "a" * 300]}, 422, "invalid", "links.0", id="long link"),
        pytest.param({"links": ["https://example.org/\x00"]}, 422, "invalid", "links.0", id="NUL in link"),
        pytest.param({"bio": "fine", "avatar": "x.png"}, 422, "validation_error", "avatar", id="unknown field"),
        pytest.param({"bio": 5}, 422, "validation_error", "bio", id="number for text"),
        pytest.param({"bio": None, "links": "https://x.org"}, 422, "validation_error", "links", id="text for list"),
        pytest.param({"links": [1]}, 422, "validation_error", "links.0", id="number in list"),
        pytest.param({"bio": "a\x00b"}, 422, "invalid", "bio", id="NUL in bio"),
        pytest.param({"bio": "ring\x07bell"}, 422, "invalid", "bio", id="control character in bio"),
        pytest.param({"display_name": "Ada\nOkafor"}, 422, "invalid", "display_name", id="newline in name"),
        pytest.param({"display_name": "Ada\rBcc: x"}, 422, "invalid", "display_name", id="CR in name"),
        pytest.param({"display_name": "Ada\tOkafor"}, 422, "invalid", "display_name", id="tab in name"),
        pytest.param({"display_name": "Ada\u202eOkafor"}, 422, "invalid", "display_name", id="bidi override"),
        pytest.param({"links": ["https://example.org/a\nb"]}, 422, "invalid", "links.0", id="newline in link"),
    ],
)
def test_bad_profile_edit_is_refused_and_changes_nothing(
    api: ApiClient, user: User, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    services.profile_update(user=user, bio="Before.", links=["https://before.example.org"])
    before = profile_state(user)

    response = api.patch("/api/v1/me/profile", body)

    assert_error(response, status, code, field)
    assert profile_state(user) == before


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        pytest.param('{"bio": "half', 400, "invalid_json", id="malformed JSON"),
        pytest.param("bio=hello", 400, "invalid_json", id="form data"),
        pytest.param("[1, 2]", 422, "validation_error", id="array, not object"),
        pytest.param('"just text"', 422, "validation_error", id="string, not object"),
    ],
)
def test_unparseable_profile_body_is_refused_and_changes_nothing(
    api: ApiClient, user: User, raw: str, status: int, code: str
) -> None:
    before = profile_state(user)

    response = api.patch("/api/v1/me/profile", raw=raw)

    assert_error(response, status, code, None)
    assert profile_state(user) == before


def test_an_over_large_body_is_413_and_changes_nothing(api: ApiClient, user: User) -> None:
    before = profile_state(user)

    response = api.patch("/api/v1/me/profile", raw='{"bio": "' + "x" * 3_000_000 + '"}')

    assert_error(response, 413, "too_large")
    assert profile_state(user) == before


def test_public_profile_and_unknown_handle(api: ApiClient, other_user: User) -> None:
    response = api.get("/api/v1/makers/BRUNO")

    assert response.status_code == 200
    assert response.json() == {"handle": "bruno", "display_name": "Bruno Lindqvist", "bio": "", "links": []}
    assert "email" not in response.json()
    assert_error(api.get("/api/v1/makers/nobody-here"), 404, "not_found")
    assert_error(api.get("/api/v1/makers/a%00b"), 404, "not_found")


# --- teams ------------------------------------------------------------------------------------------------------


def test_team_create_makes_the_caller_owner(api: ApiClient, user: User) -> None:
    response = api.post("/api/v1/teams", {"slug": "Solar-Kilns", "name": " Solar kilns ", "description": "Hot."})

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("slug", "name", "description", "member_count")} == {
        "slug": "solar-kilns",
        "name": "Solar kilns",
        "description": "Hot.",
        "member_count": 1,
    }
    team = Team.objects.get(slug="solar-kilns")
    assert team.created_by == user
    assert memberships_of(team) == {"ada": Role.OWNER}


def test_team_create_with_a_taken_slug_is_409_and_changes_nothing(
    api_for: ApiFor, other_user: User, team: Team
) -> None:
    bruno = api_for(other_user)
    before = people_counts()

    response = bruno.post("/api/v1/teams", {"slug": "LAMP-makers", "name": "Copycats"})

    assert_error(response, 409, "slug_taken", "slug")
    assert people_counts() == before
    assert team_state(team)["name"] == "Lamp makers"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"slug": "Bad Slug", "name": "X"}, "invalid", "slug"),
        ({"slug": "-lead", "name": "X"}, "invalid", "slug"),
        ({"slug": "trail-", "name": "X"}, "invalid", "slug"),
        ({"slug": "under_score", "name": "X"}, "invalid", "slug"),
        ({"slug": "ünicode", "name": "X"}, "invalid", "slug"),
        ({"slug": "a", "name": "X"}, "validation_error", "slug"),
        ({"slug": "a" * 51, "name": "X"}, "validation_error", "slug"),
        ({"slug": 42, "name": "X"}, "validation_error", "slug"),
        ({"name": "X"}, "validation_error", "slug"),
        ({"slug": "fine-slug"}, "validation_error", "name"),
        ({"slug": "fine-slug", "name": "   "}, "invalid", "name"),
        ({"slug": "fine-slug", "name": "X\x00"}, "invalid", "name"),
        ({"slug": "fine-slug", "name": "Lamps\nBcc: everyone@example.org"}, "invalid", "name"),
        ({"slug": "fine-slug", "name": "Lamps\r\nand lanterns"}, "invalid", "name"),
        ({"slug": "fine-slug", "name": "Tab\tbed"}, "invalid", "name"),
        ({"slug": "fine-slug", "name": "Esc\x1b[31m"}, "invalid", "name"),
        ({"slug": "fine-slug", "name": "X", "description": "bell\x07"}, "invalid", "description"),
        ({"slug": "fine-slug", "name": "X", "description": "d" * 2001}, "validation_error", "description"),
        ({"slug": "fine-slug", "name": "X", "owner": "bruno"}, "validation_error", "owner"),
    ],
)
def test_bad_team_create_is_422_and_creates_nothing(
    api: ApiClient, body: dict[str, Any], code: str, field: str
) -> None:
    before = people_counts()

    response = api.post("/api/v1/teams", body)

    assert_error(response, 422, code, field)
    assert people_counts() == before


def test_team_detail(api: ApiClient, team: Team, member: User) -> None:
    response = api.get("/api/v1/teams/Lamp-Makers")

    assert response.status_code == 200
    assert response.json()["slug"] == "lamp-makers"
    assert response.json()["member_count"] == 2
    assert_error(api.get("/api/v1/teams/no-such-team"), 404, "not_found")
    assert_error(api.get("/api/v1/teams/a%00b"), 404, "not_found")


def test_team_patch_by_a_maintainer_changes_the_team(api_for: ApiFor, maintainer: User, team: Team) -> None:
    response = api_for(maintainer).patch("/api/v1/teams/lamp-makers", {"description": "Lamps and lanterns."})

    assert response.status_code == 200
    assert response.json()["description"] == "Lamps and lanterns."
    assert team_state(team) == {"slug": "lamp-makers", "name": "Lamp makers", "description": "Lamps and lanterns."}


@pytest.mark.parametrize(("who", "code"), [("outsider", "not_a_member"), ("member", "role_required")])
def test_team_patch_by_outsider_or_plain_member_is_403_and_changes_nothing(
    api_for: ApiFor, other_user: User, member: User, team: Team, who: str, code: str
) -> None:
    caller = other_user if who == "outsider" else member
    before = team_state(team)

    response = api_for(caller).patch("/api/v1/teams/lamp-makers", {"name": "Hijacked", "description": "Ours now."})

    assert_error(response, 403, code)
    assert team_state(team) == before


def test_team_description_keeps_line_breaks(api: ApiClient, team: Team) -> None:
    response = api.patch("/api/v1/teams/lamp-makers", {"description": "Lamps.\n\nAnd lanterns."})

    assert response.status_code == 200
    assert team_state(team)["description"] == "Lamps.\n\nAnd lanterns."


def test_team_patch_refuses_bad_input_and_unknown_teams(api: ApiClient, team: Team) -> None:
    before = team_state(team)

    assert_error(api.patch("/api/v1/teams/lamp-makers", {"slug": "renamed"}), 422, "validation_error", "slug")
    assert_error(api.patch("/api/v1/teams/lamp-makers", {"name": ""}), 422, "validation_error", "name")
    assert_error(api.patch("/api/v1/teams/lamp-makers", {"name": " "}), 422, "invalid", "name")
    assert_error(api.patch("/api/v1/teams/lamp-makers", {"name": "Two\nlines"}), 422, "invalid", "name")
    assert_error(api.patch("/api/v1/teams/lamp-makers", {"description": "NUL\x00"}), 422, "invalid", "description")
    assert_error(api.patch("/api/v1/teams/lamp-makers", raw="{"), 400, "invalid_json")
    assert_error(api.patch("/api/v1/teams/nope", {"name": "X"}), 404, "not_found")
    assert team_state(team) == before


# --- invitations --------------------------------------------------------------------------------------------------


def invite(client: ApiClient, handle: str, role: str = "member", slug: str = "lamp-makers") -> Any:
    return client.post(f"/api/v1/teams/{slug}/invitations", {"handle": handle, "role": role})


def test_owner_invites_a_maintainer_and_the_mail_goes_out_after_commit(
    api: ApiClient, team: Team, other_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = invite(api, "Bruno", "maintainer")

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("team", "team_name", "invitee", "invited_by", "role", "status")} == {
        "team": "lamp-makers",
        "team_name": "Lamp makers",
        "invitee": "bruno",
        "invited_by": "ada",
        "role": "maintainer",
        "status": "pending",
    }
    invitation = TeamInvitation.objects.get(pk=body["id"])
    assert (invitation.invitee, invitation.role, invitation.status) == (other_user, Role.MAINTAINER, "pending")
    assert len(callbacks) == 1
    assert [m.to for m in mail.outbox] == [["bruno@example.org"]]


def test_maintainer_may_invite_members_only(api_for: ApiFor, maintainer: User, other_user: User, team: Team) -> None:
    client = api_for(maintainer)
    before = people_counts()

    for role in ("maintainer", "owner"):
        assert_error(invite(client, "bruno", role), 403, "role_required", "role")
    assert people_counts() == before

    response = invite(client, "bruno", "member")
    assert response.status_code == 201
    assert response.json()["role"] == "member"


@pytest.mark.parametrize(("who", "code"), [("outsider", "not_a_member"), ("member", "role_required")])
def test_outsiders_and_members_may_not_invite(
    api_for: ApiFor, make_user: MakeUser, other_user: User, member: User, team: Team, who: str, code: str
) -> None:
    make_user("erin")
    client = api_for(other_user if who == "outsider" else member)
    before = people_counts()

    assert_error(invite(client, "erin"), 403, code)
    assert people_counts() == before


def test_invitation_refusals_change_nothing(api: ApiClient, team: Team, member: User, other_user: User) -> None:
    assert invite(api, "bruno").status_code == 201
    before = people_counts()

    assert_error(invite(api, "bruno"), 409, "already_invited", "handle")
    assert_error(invite(api, "carla"), 409, "already_member", "handle")
    assert_error(invite(api, "ada"), 409, "already_member", "handle")
    assert_error(invite(api, "nobody"), 404, "not_found", "handle")
    assert_error(invite(api, "bad handle!"), 404, "not_found", "handle")
    assert_error(invite(api, "bruno", "admin"), 422, "validation_error", "role")
    assert_error(invite(api, ""), 422, "validation_error", "handle")
    assert_error(invite(api, "bruno", slug="no-such-team"), 404, "not_found")
    assert people_counts() == before


def test_invitee_accepts_and_becomes_a_member(api: ApiClient, api_for: ApiFor, team: Team, other_user: User) -> None:
    invitation_id = invite(api, "bruno", "maintainer").json()["id"]
    bruno = api_for(other_user)

    listed = bruno.get("/api/v1/me/invitations")
    assert listed.status_code == 200
    assert [i["id"] for i in listed.json()["results"]] == [invitation_id]

    response = bruno.post(f"/api/v1/me/invitations/{invitation_id}/accept")

    assert response.status_code == 200
    assert response.json() == {"team": "lamp-makers", "team_name": "Lamp makers", "role": "maintainer"}
    assert memberships_of(team) == {"ada": Role.OWNER, "bruno": Role.MAINTAINER}
    invitation = TeamInvitation.objects.get(pk=invitation_id)
    assert invitation.status == InvitationStatus.ACCEPTED
    assert invitation.responded_at is not None
    assert bruno.get("/api/v1/me/invitations").json()["results"] == []
    # Accepting again is refused: the invitation is closed, and membership is unchanged.
    assert_error(bruno.post(f"/api/v1/me/invitations/{invitation_id}/accept"), 409, "invitation_closed")
    assert memberships_of(team) == {"ada": Role.OWNER, "bruno": Role.MAINTAINER}


def test_invitee_declines(api: ApiClient, api_for: ApiFor, team: Team, other_user: User) -> None:
    invitation_id = invite(api, "bruno").json()["id"]

    response = api_for(other_user).post(f"/api/v1/me/invitations/{invitation_id}/decline")

    assert response.status_code == 200
    assert response.json()["status"] == "declined"
    assert TeamInvitation.objects.get(pk=invitation_id).status == InvitationStatus.DECLINED
    assert memberships_of(team) == {"ada": Role.OWNER}


def test_someone_else_cannot_accept_or_decline_anothers_invitation(
    api: ApiClient, api_for: ApiFor, make_user: MakeUser, team: Team, other_user: User, member: User
) -> None:
    invitation_id = invite(api, "bruno").json()["id"]
    clients = [api_for(caller) for caller in (make_user("mallory"), member)] + [api]
    before = people_counts()

    for client in clients:
        assert_error(client.post(f"/api/v1/me/invitations/{invitation_id}/accept"), 404, "not_found")
        assert_error(client.post(f"/api/v1/me/invitations/{invitation_id}/decline"), 404, "not_found")

    assert people_counts() == before
    invitation = TeamInvitation.objects.get(pk=invitation_id)
    assert (invitation.status, invitation.responded_at) == (InvitationStatus.PENDING, None)
    assert memberships_of(team) == {"ada": Role.OWNER, "carla": Role.MEMBER}


def test_accepting_an_expired_invitation_is_refused(
    api: ApiClient, api_for: ApiFor, team: Team, other_user: User
) -> None:
    invitation_id = invite(api, "bruno").json()["id"]
    TeamInvitation.objects.filter(pk=invitation_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    bruno = api_for(other_user)
    before = people_counts()

    assert_error(bruno.post(f"/api/v1/me/invitations/{invitation_id}/accept"), 409, "invitation_closed")

    assert memberships_of(team) == {"ada": Role.OWNER}
    assert people_counts() == before
    # The refusal rolls back; the invitation stays pending until the expiry job closes it.
    invitation = TeamInvitation.objects.get(pk=invitation_id)
    assert (invitation.status, invitation.responded_at) == (InvitationStatus.PENDING, None)


def test_unknown_invitation_ids_are_refused_and_change_nothing(
    api: ApiClient, api_for: ApiFor, team: Team, other_user: User
) -> None:
    invitation_id = invite(api, "bruno").json()["id"]  # a real one, which must stay as it is
    bruno = api_for(other_user)
    before = people_counts()

    for action in ("accept", "decline"):
        assert_error(bruno.post(f"/api/v1/me/invitations/999999/{action}"), 404, "not_found")
        assert_error(bruno.post(f"/api/v1/me/invitations/99999999999999999999/{action}"), 404, "not_found")
        assert_error(bruno.post(f"/api/v1/me/invitations/-1/{action}"), 404, "not_found")
        assert_error(bruno.post(f"/api/v1/me/invitations/abc/{action}"), 422, "validation_error", "invitation_id")
    assert_error(api.delete("/api/v1/teams/lamp-makers/invitations/999999"), 404, "not_found")

    assert people_counts() == before
    assert memberships_of(team) == {"ada": Role.OWNER}
    invitation = TeamInvitation.objects.get(pk=invitation_id)
    assert (invitation.status, invitation.responded_at) == (InvitationStatus.PENDING, None)


def test_owner_revokes_an_invitation(api: ApiClient, api_for: ApiFor, team: Team, other_user: User) -> None:
    invitation_id = invite(api, "bruno").json()["id"]

    response = api.delete(f"/api/v1/teams/lamp-makers/invitations/{invitation_id}")

    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert TeamInvitation.objects.get(pk=invitation_id).status == InvitationStatus.REVOKED
    assert_error(api_for(other_user).post(f"/api/v1/me/invitations/{invitation_id}/accept"), 409, "invitation_closed")
    assert memberships_of(team) == {"ada": Role.OWNER}
    # A revoked invitation no longer blocks a new one.
    assert invite(api, "bruno").status_code == 201


def test_revoking_is_refused_to_members_outsiders_and_through_another_team(
    api: ApiClient, api_for: ApiFor, make_user: MakeUser, team: Team, member: User, other_user: User
) -> None:
    invitation_id = invite(api, "bruno").json()["id"]
    outsider = make_user("mallory")
    services.team_create(actor=outsider, slug="mallory-co", name="Mallory & Co")
    carla, mallory = api_for(member), api_for(outsider)
    before = people_counts()

    assert_error(carla.delete(f"/api/v1/teams/lamp-makers/invitations/{invitation_id}"), 403, "role_required")
    assert_error(mallory.delete(f"/api/v1/teams/lamp-makers/invitations/{invitation_id}"), 403, "not_a_member")
    assert_error(mallory.delete(f"/api/v1/teams/mallory-co/invitations/{invitation_id}"), 404, "not_found")

    assert people_counts() == before
    assert TeamInvitation.objects.get(pk=invitation_id).status == InvitationStatus.PENDING


def test_team_invitations_are_listed_to_managers_only(
    api: ApiClient, api_for: ApiFor, team: Team, member: User, other_user: User
) -> None:
    invitation_id = invite(api, "bruno").json()["id"]

    response = api.get("/api/v1/teams/lamp-makers/invitations")

    assert response.status_code == 200
    assert [i["id"] for i in response.json()["results"]] == [invitation_id]
    assert_error(api_for(member).get("/api/v1/teams/lamp-makers/invitations"), 403, "role_required")
    assert_error(api_for(other_user).get("/api/v1/teams/lamp-makers/invitations"), 403, "role_required")


# --- members --------------------------------------------------------------------------------------------------------


def test_members_are_listed(api_for: ApiFor, other_user: User, team: Team, member: User) -> None:
    response = api_for(other_user).get("/api/v1/teams/lamp-makers/members")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(m["handle"], m["display_name"], m["role"]) for m in results] == [
        ("ada", "Ada Okafor", "owner"),
        ("carla", "Carla Mendes", "member"),
    ]


def test_owner_changes_a_members_role(api: ApiClient, team: Team, member: User) -> None:
    response = api.patch("/api/v1/teams/lamp-makers/members/Carla", {"role": "maintainer"})

    assert response.status_code == 200
    assert response.json()["handle"] == "carla"
    assert response.json()["role"] == "maintainer"
    assert memberships_of(team) == {"ada": Role.OWNER, "carla": Role.MAINTAINER}


def test_role_changes_refused_change_nothing(
    api: ApiClient, api_for: ApiFor, team: Team, member: User, maintainer: User, other_user: User
) -> None:
    before = memberships_of(team)

    assert_error(
        api_for(maintainer).patch("/api/v1/teams/lamp-makers/members/carla", {"role": "owner"}), 403, "role_required"
    )
    assert_error(
        api_for(member).patch("/api/v1/teams/lamp-makers/members/carla", {"role": "owner"}), 403, "role_required"
    )
    assert_error(
        api_for(other_user).patch("/api/v1/teams/lamp-makers/members/carla", {"role": "member"}), 403, "not_a_member"
    )
    assert_error(api.patch("/api/v1/teams/lamp-makers/members/bruno", {"role": "member"}), 404, "not_found", "handle")
    assert_error(
        api.patch("/api/v1/teams/lamp-makers/members/carla", {"role": "admin"}), 422, "validation_error", "role"
    )
    assert_error(api.patch("/api/v1/teams/lamp-makers/members/carla", {}), 422, "validation_error", "role")
    assert_error(api.patch("/api/v1/teams/lamp-makers/members/ada", {"role": "member"}), 409, "last_owner")
    assert memberships_of(team) == before


def test_the_last_owner_cannot_leave_but_one_of_two_owners_can(
    api: ApiClient, api_for: ApiFor, team: Team, member: User
) -> None:
    assert_error(api.delete("/api/v1/teams/lamp-makers/members/ada"), 409, "last_owner")
    assert memberships_of(team) == {"ada": Role.OWNER, "carla": Role.MEMBER}

    assert api.patch("/api/v1/teams/lamp-makers/members/carla", {"role": "owner"}).status_code == 200
    response = api.delete("/api/v1/teams/lamp-makers/members/ada")

    assert response.status_code == 204
    assert memberships_of(team) == {"carla": Role.OWNER}
    # Carla, now the last owner, can neither demote herself nor leave.
    carla = api_for(member)
    assert_error(carla.patch("/api/v1/teams/lamp-makers/members/carla", {"role": "member"}), 409, "last_owner")
    assert_error(carla.delete("/api/v1/teams/lamp-makers/members/carla"), 409, "last_owner")
    assert memberships_of(team) == {"carla": Role.OWNER}


def test_a_member_may_leave_but_not_remove_others(
    api: ApiClient, api_for: ApiFor, team: Team, member: User, maintainer: User, other_user: User
) -> None:
    assert_error(api_for(member).delete("/api/v1/teams/lamp-makers/members/dev"), 403, "role_required")
    assert_error(api_for(maintainer).delete("/api/v1/teams/lamp-makers/members/carla"), 403, "role_required")
    assert_error(api_for(other_user).delete("/api/v1/teams/lamp-makers/members/carla"), 403, "not_a_member")
    assert memberships_of(team) == {"ada": Role.OWNER, "carla": Role.MEMBER, "dev": Role.MAINTAINER}

    assert api_for(member).delete("/api/v1/teams/lamp-makers/members/carla").status_code == 204
    assert api.delete("/api/v1/teams/lamp-makers/members/dev").status_code == 204
    assert memberships_of(team) == {"ada": Role.OWNER}
    assert_error(api.delete("/api/v1/teams/lamp-makers/members/dev"), 404, "not_found", "handle")


def test_my_teams_in_the_order_joined(api: ApiClient, user: User, team: Team) -> None:
    services.team_create(actor=user, slug="aardvarks", name="Aardvarks")

    response = api.get("/api/v1/me/teams")

    assert response.status_code == 200
    assert response.json() == {
        "previous": None,
        "next": None,
        "results": [
            {"team": "lamp-makers", "team_name": "Lamp makers", "role": "owner"},
            {"team": "aardvarks", "team_name": "Aardvarks", "role": "owner"},
        ],
    }


def walk(client: ApiClient, url: str | None) -> list[list[Any]]:
    """Follow `next` from `url` to the end; return each page's results."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        assert set(response.json()) == {"previous", "next", "results"}
        pages.append(response.json()["results"])
        url = response.json()["next"]
    return pages


def test_team_and_invitation_lists_are_cursor_paginated(
    api: ApiClient, api_for: ApiFor, user: User, team: Team, make_user: MakeUser
) -> None:
    slugs = ["lamp-makers"] + [services.team_create(actor=user, slug=f"t-{n}", name=f"T {n}").slug for n in range(4)]
    invitees = [make_user(f"guest{n}") for n in range(5)]
    made = [
        services.team_invitation_create(actor=user, team=team, invitee_handle=i.handle, role="member").pk
        for i in invitees
    ]
    for slug in slugs[1:]:
        other_team = Team.objects.get(slug=slug)
        services.team_invitation_create(actor=user, team=other_team, invitee_handle="guest0", role="member")
    guest = api_for(invitees[0])

    my_teams = walk(api, "/api/v1/me/teams?page_size=2")
    assert [len(page) for page in my_teams] == [2, 2, 1]
    assert [m["team"] for page in my_teams for m in page] == slugs  # in the order joined, each once
    their_teams = walk(guest, "/api/v1/makers/ada/teams?page_size=2")
    assert [m["team"] for page in their_teams for m in page] == slugs
    team_invitations = walk(api, "/api/v1/teams/lamp-makers/invitations?page_size=2")
    assert [len(page) for page in team_invitations] == [2, 2, 1]
    assert [i["id"] for page in team_invitations for i in page] == sorted(made, reverse=True)  # newest first
    guest_invitations = walk(guest, "/api/v1/me/invitations?page_size=2")
    assert [len(page) for page in guest_invitations] == [2, 2, 1]
    assert [i["team"] for page in guest_invitations for i in page] == list(reversed(slugs))
    assert_error(api.get("/api/v1/me/teams?page_size=0"), 422, "validation_error", "page_size")
    assert_error(api.get("/api/v1/me/invitations?cursor=" + _cursor("p=abc")), 422, "validation_error", "cursor")


# --- API tokens -----------------------------------------------------------------------------------------------------


def test_tokens_list_is_paginated_and_shows_only_own_tokens(user: User, other_user: User, api_for: ApiFor) -> None:
    own = [services.api_token_create(user=user, name=f"laptop {n}", scope="read")[0].pk for n in range(4)]
    services.api_token_create(user=other_user, name="bruno's", scope="write")
    client = api_for(user)  # a fifth token of Ada's
    own.append(ApiToken.objects.filter(user=user).latest("pk").pk)

    seen: list[int] = []
    url: str | None = "/api/v1/me/tokens?page_size=2"
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        page = response.json()
        assert set(page) == {"previous", "next", "results"}
        assert len(page["results"]) <= 2
        for token in page["results"]:
            assert set(token) == {"id", "name", "scope", "prefix", "created_at", "last_used_at", "revoked_at"}
            assert token["prefix"].startswith("cm_")
        seen += [token["id"] for token in page["results"]]
        url = page["next"]
        pages += 1

    assert pages == 3
    assert seen == sorted(own, reverse=True)  # newest first, each once, none of Bruno's
    assert "token_hash" not in json.dumps(client.get("/api/v1/me/tokens").json())


def test_revoking_own_token(api: ApiClient, user: User) -> None:
    _, raw = services.api_token_create(user=user, name="old laptop", scope="write")
    token = ApiToken.objects.get(name="old laptop")

    response = api.delete(f"/api/v1/me/tokens/{token.pk}")

    assert response.status_code == 200
    assert response.json()["id"] == token.pk
    assert response.json()["revoked_at"] is not None
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert_error(ApiClient(raw).get("/api/v1/me"), 401, "not_authenticated")
    # Revoking again is harmless and keeps the first time.
    again = api.delete(f"/api/v1/me/tokens/{token.pk}")
    assert again.status_code == 200
    assert ApiToken.objects.get(pk=token.pk).revoked_at == token.revoked_at


def test_revoking_anothers_token_is_404_and_that_token_still_works(api: ApiClient, other_user: User) -> None:
    theirs, raw = services.api_token_create(user=other_user, name="bruno's laptop", scope="write")

    response = api.delete(f"/api/v1/me/tokens/{theirs.pk}")

    assert_error(response, 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    still = ApiClient(raw).get("/api/v1/me")
    assert still.status_code == 200
    assert still.json()["handle"] == "bruno"


def test_token_ids_that_are_not_ids(api: ApiClient) -> None:
    before = people_counts()
    assert_error(api.delete("/api/v1/me/tokens/abc"), 422, "validation_error", "token_id")
    assert_error(api.delete("/api/v1/me/tokens/99999999999999999999999"), 404, "not_found")
    assert_error(api.delete("/api/v1/me/tokens/-1"), 404, "not_found")
    assert people_counts() == before


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="no header"),
        pytest.param("Bearer", id="no token"),
        pytest.param("Bearer cm_not-a-real-token", id="unknown token"),
        pytest.param("Bearer not-even-our-prefix", id="foreign token"),
        pytest.param("Bearer cm_" + "x" * 500, id="very long token"),
        pytest.param("Basic YWRhOnB3", id="other scheme"),
    ],
)
def test_missing_or_unknown_token_is_401(db: None, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    before = people_counts()

    assert_error(Client().get("/api/v1/me", headers=headers), 401, "not_authenticated")
    response = Client(enforce_csrf_checks=True).post(
        "/api/v1/teams", data={"slug": "x-team", "name": "X"}, content_type="application/json", headers=headers
    )
    assert_error(response, 401, "not_authenticated")  # not a CSRF 403: there is no session to protect
    assert people_counts() == before


def test_revoked_token_is_401_even_with_a_signed_in_session(user: User, other_user: User) -> None:
    token, raw = services.api_token_create(user=user, name="lost", scope="write")
    services.api_token_revoke(actor=user, token_id=token.pk)
    browser = Client()
    browser.force_login(other_user)

    response = browser.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})

    assert_error(response, 401, "not_authenticated")
    assert browser.get("/api/v1/me").json()["handle"] == "bruno"  # the session alone still works


def test_read_token_reads_but_may_not_write(api_for: ApiFor, user: User, team: Team, other_user: User) -> None:
    client = api_for(user, "read")
    read_token = ApiToken.objects.get(user=user, scope="read")
    before = people_counts()
    profile_before = profile_state(user)

    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/teams").status_code == 200
    assert_error(client.post("/api/v1/teams", {"slug": "new-team", "name": "New"}), 403, "token_read_only")
    assert_error(client.patch("/api/v1/me/profile", {"bio": "changed"}), 403, "token_read_only")
    assert_error(client.patch("/api/v1/me/profile", raw="{not json"), 403, "token_read_only")
    assert_error(client.post("/api/v1/teams/lamp-makers/invitations", {"handle": "bruno"}), 403, "token_read_only")
    assert_error(client.delete(f"/api/v1/me/tokens/{read_token.pk}"), 403, "token_read_only")

    assert people_counts() == before
    assert profile_state(user) == profile_before
    assert ApiToken.objects.get(pk=read_token.pk).revoked_at is None


def test_token_use_is_recorded(api: ApiClient, user: User) -> None:
    token = ApiToken.objects.get(user=user)
    assert token.last_used_at is None

    api.get("/api/v1/me")

    token.refresh_from_db()
    assert token.last_used_at is not None


def test_session_writes_need_the_csrf_token(user: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    before = people_counts()

    refused = browser.post("/api/v1/teams", data={"slug": "x-team", "name": "X"}, content_type="application/json")

    assert_error(refused, 403, "csrf_failed")
    assert people_counts() == before
    assert browser.get("/api/v1/docs").status_code == 200  # the docs page hands out the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    accepted = browser.post(
        "/api/v1/teams",
        data={"slug": "x-team", "name": "X"},
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert accepted.status_code == 201


# --- pagination -------------------------------------------------------------------------------------------------


@pytest.fixture
def many_teams(make_user: MakeUser) -> list[Team]:
    founder = make_user("founder")
    return [services.team_create(actor=founder, slug=f"team-{n:03}", name=f"Team {n}") for n in range(45)]


def test_walking_next_sees_every_team_once(api: ApiClient, many_teams: list[Team]) -> None:
    seen: list[str] = []
    url: str | None = "/api/v1/teams?page_size=10"
    pages = []
    while url:
        response = api.get(url)
        assert response.status_code == 200
        pages.append(response.json())
        seen += [team["slug"] for team in response.json()["results"]]
        url = response.json()["next"]

    assert seen == [team.slug for team in many_teams]  # oldest first, each once
    assert [len(page["results"]) for page in pages] == [10, 10, 10, 10, 5]
    assert pages[0]["previous"] is None
    # `previous` leads back to the page before.
    back = api.get(pages[2]["previous"]).json()
    assert [t["slug"] for t in back["results"]] == [t["slug"] for t in pages[1]["results"]]


def test_default_page_size_is_20(api: ApiClient, many_teams: list[Team]) -> None:
    assert len(api.get("/api/v1/teams").json()["results"]) == 20


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_size=-5", "page_size"),
        ("page_size=ten", "page_size"),
        ("cursor=%21%21not-base64%21%21", "cursor"),
        ("cursor=" + "A" * 501, "cursor"),
        ("cursor=" + _cursor("p=abc"), "cursor"),
        ("cursor=" + _cursor("o=-1"), "cursor"),
        ("cursor=" + _cursor("o=100000"), "cursor"),
        ("cursor=" + _cursor("r=maybe"), "cursor"),
        ("cursor=" + base64.b64encode(b"\xff\xfe").decode(), "cursor"),
    ],
)
def test_bad_paging_parameters_are_422_in_the_error_shape(
    api: ApiClient, many_teams: list[Team], query: str, field: str
) -> None:
    assert_error(api.get(f"/api/v1/teams?{query}"), 422, "validation_error", field)
    assert_error(api.get(f"/api/v1/teams/team-000/members?{query}"), 422, "validation_error", field)


def test_cursor_past_the_end_gives_an_empty_page(api: ApiClient, many_teams: list[Team]) -> None:
    response = api.get("/api/v1/teams?cursor=" + _cursor("p=99999999999999999999"))

    assert response.status_code == 200
    assert response.json()["results"] == []
    assert response.json()["next"] is None


# --- query counts -------------------------------------------------------------------------------------------------


def test_team_list_query_count_does_not_grow_with_teams_or_members(
    api: ApiClient, many_teams: list[Team], make_user: MakeUser, django_assert_max_num_queries: Any
) -> None:
    for team in many_teams[:10]:
        for _ in range(3):
            services.team_member_add(team=team, user=make_user(), role=Role.MEMBER)
    api.get("/api/v1/me")  # the token's first use is recorded once; not part of what is measured

    with django_assert_max_num_queries(2):  # the token, then the page of teams with their member counts
        response = api.get("/api/v1/teams?page_size=100")

    assert len(response.json()["results"]) == 45
    assert response.json()["results"][0]["member_count"] == 4


def test_member_list_query_count_does_not_grow_with_members(
    api: ApiClient, team: Team, make_user: MakeUser, django_assert_max_num_queries: Any
) -> None:
    for _ in range(30):
        services.team_member_add(team=team, user=make_user(), role=Role.MEMBER)
    api.get("/api/v1/me")

    with django_assert_max_num_queries(3):  # the token, the team, the page of members with their profiles
        response = api.get("/api/v1/teams/lamp-makers/members?page_size=100")

    assert len(response.json()["results"]) == 31


def test_invitation_lists_query_count_does_not_grow(
    api: ApiClient, api_for: ApiFor, team: Team, make_user: MakeUser, user: User, django_assert_max_num_queries: Any
) -> None:
    for n in range(8):
        invitee = make_user(f"invitee{n}")
        services.team_invitation_create(actor=user, team=team, invitee_handle=invitee.handle, role="member")
        other = services.team_create(actor=invitee, slug=f"other-{n}", name=f"Other {n}")
        services.team_invitation_create(actor=invitee, team=other, invitee_handle="ada", role="member")
    api.get("/api/v1/me")

    with django_assert_max_num_queries(4):  # the token, the team, the caller's role, the invitations
        assert len(api.get("/api/v1/teams/lamp-makers/invitations").json()["results"]) == 8
    with django_assert_max_num_queries(2):
        assert len(api.get("/api/v1/me/invitations").json()["results"]) == 8
    with django_assert_max_num_queries(2):
        assert len(api.get("/api/v1/me/teams").json()["results"]) == 1
    with django_assert_max_num_queries(3):  # the token, the maker, the memberships with their teams
        assert len(api.get("/api/v1/makers/invitee0/teams").json()["results"]) == 1


# --- what ninja answers by itself, in the same shape ----------------------------------------------------------------


def test_unknown_api_paths_are_404_in_the_error_shape(api: ApiClient) -> None:
    assert_error(api.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_error(api.get("/api/v1/me/"), 404, "not_found")
    assert_error(api.get("/api/v1/"), 404, "not_found")
    response = Client(enforce_csrf_checks=True).post(
        "/api/v1/no-such-thing", data="{}", content_type="application/json"
    )
    assert_error(response, 404, "not_found")


def test_wrong_method_is_405_in_the_error_shape(api: ApiClient) -> None:
    response = api.request("PUT", "/api/v1/me", {"bio": "x"})
    error = assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"
    assert "PUT" in error["message"]

    assert_error(api.delete("/api/v1/teams"), 405, "method_not_allowed")
    response = Client(enforce_csrf_checks=True).post("/api/v1/openapi.json")
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, HEAD"


def test_an_unexpected_error_is_500_in_the_error_shape(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("the database caught fire")

    monkeypatch.setattr(selectors, "teams_all", broken)

    response = api.get("/api/v1/teams")

    error = assert_error(response, 500, "internal_error")
    assert "fire" not in error["message"]  # internals stay in the log
    assert "the database caught fire" in caplog.text


def test_health_needs_no_token(db: None) -> None:
    assert Client().get("/api/v1/health").json() == {"status": "ok", "database": "ok"}


# --- OpenAPI and docs ---------------------------------------------------------------------------------------------


def test_openapi_schema_is_served(db: None) -> None:
    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Crowdmaker API"
    assert "/api/v1/teams" in schema["paths"]
    assert "/api/v1/me/tokens/{token_id}" in schema["paths"]


def test_docs_page_works_offline(db: None) -> None:
    client = Client()
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/api/v1/openapi.json" in page
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources
    assert all(source.startswith("/static/ninja/") for source in sources), sources
    assert "cdn" not in page.lower()
    assert '"validatorUrl": null' in page  # no schema sent to validator.swagger.io either
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert asset.getvalue()


# --- properties ---------------------------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    slug=st.one_of(
        st.text(max_size=55),
        st.from_regex(r"[a-z0-9][a-z0-9-]{0,48}[a-z0-9]", fullmatch=True),
        st.text(alphabet="abcXYZ019-_ \n\x00", min_size=1, max_size=52),
    )
)
def test_any_slug_is_either_a_valid_team_or_refused_with_nothing_created(api: ApiClient, slug: str) -> None:
    with transaction.atomic():  # each example rolls back, so examples cannot see each other's teams
        before = people_counts()

        response = api.post("/api/v1/teams", {"slug": slug, "name": "Property team"})

        if response.status_code == 201:
            stored = Team.objects.get(pk=Team.objects.latest("pk").pk).slug
            assert re.fullmatch(SLUG_PATTERN, stored)
            assert stored == slug.strip().lower()
            assert response.json()["slug"] == stored
        else:
            assert_error(response, 422, response.json()["error"]["code"], "slug")
            assert response.json()["error"]["code"] in {"invalid", "validation_error"}
            assert people_counts() == before
        transaction.set_rollback(True)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from(["display_name", "bio", "links", "other"]),
        st.one_of(st.none(), st.text(max_size=30), st.integers(), st.lists(st.text(max_size=40), max_size=7)),
    )
)
def test_any_profile_patch_either_applies_or_changes_nothing(api: ApiClient, user: User, body: dict[str, Any]) -> None:
    with transaction.atomic():
        before = profile_state(user)

        response = api.patch("/api/v1/me/profile", body)

        assert response.status_code in (200, 422), response.content
        if response.status_code == 422:
            assert_error(response, 422, response.json()["error"]["code"], response.json()["error"]["field"])
            assert profile_state(user) == before
        else:
            profile = Profile.objects.get(user=user)
            assert profile.display_name.strip() == profile.display_name != ""
            assert len(profile.links) <= 5
        transaction.set_rollback(True)
