"""The server-rendered pages of `people`: sign-up, log-in and throttling, profiles, teams, invitations, tokens.

Each refusal test also checks that nothing changed and that the error is shown next to the field to blame.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from html import escape
from html.parser import HTMLParser
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth import authenticate as real_authenticate
from django.core import mail
from django.db import connection
from django.test import Client
from django.views.debug import get_exception_reporter_filter

from crowdmaker.conftest import PASSWORD
from crowdmaker.core.models import ThrottleEvent
from crowdmaker.people import services
from crowdmaker.people.models import (
    SLUG_HELP,
    ApiToken,
    InvitationStatus,
    Membership,
    Profile,
    Role,
    Team,
    TeamInvitation,
    User,
)

# --- helpers -------------------------------------------------------------------------------------------------


def html_of(response) -> str:
    return response.content.decode()


def input_tag(html: str, name: str) -> str:
    match = re.search(rf'<(?:input|textarea|select)\b[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    assert match, f"no control named {name!r}"
    return match.group(0)


def assert_error_next_to(response, name: str, message: str, *, prefix: str = "") -> None:
    """The message is rendered right by the field, and the field points at it for assistive technology."""
    html = html_of(response)
    field_id = f"id_{prefix + '-' if prefix else ''}{name}"
    assert f'<ul class="errorlist" id="{field_id}_error"><li>{escape(message)}</li></ul>' in html
    tag = input_tag(html, f"{prefix}-{name}" if prefix else name)
    assert 'aria-invalid="true"' in tag
    describedby = re.search(r'aria-describedby="([^"]*)"', tag)
    assert describedby
    assert f"{field_id}_error" in describedby.group(1).split()


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def session_user_id(client: Client) -> str | None:
    return client.session.get(SESSION_KEY)


@pytest.fixture
def team(user: User) -> Team:
    return services.team_create(actor=user, slug="solar-works", name="Solar Works", description="Panels.")


@pytest.fixture
def member(make_user: Callable[..., User], team: Team) -> User:
    carla = make_user("carla", display_name="Carla Mendes")
    services.team_member_add(team=team, user=carla, role=Role.MEMBER)
    return carla


def signup_data(**overrides: str) -> dict[str, str]:
    return {
        "email": "grace@example.org",
        "handle": "grace",
        "display_name": "Grace Hopper",
        "password": PASSWORD,
        **overrides,
    }


# --- sign-up -------------------------------------------------------------------------------------------------


def test_signup_creates_the_account_and_logs_in(client: Client, db: None) -> None:
    response = client.post("/signup/", signup_data())

    assert response.status_code == 302
    assert response["Location"] == "/makers/grace/"
    grace = User.objects.get(handle="grace")
    assert grace.email == "grace@example.org"
    assert grace.profile.display_name == "Grace Hopper"
    assert session_user_id(client) == str(grace.pk)
    profile_page = client.get("/makers/grace/")
    assert "Welcome to Crowdmaker, Grace Hopper!" in html_of(profile_page)


@pytest.mark.parametrize(
    ("overrides", "field", "message", "status"),
    [
        ({"email": "ADA@example.org"}, "email", "An account with this e-mail address exists already.", 409),
        ({"handle": "ada"}, "handle", "This handle is taken.", 409),
        (
            {"handle": "-bad handle-"},
            "handle",
            "2 to 30 lowercase letters, digits or hyphens; no hyphen at either end.",
            422,
        ),
        ({"password": "password123"}, "password", "This password is too common.", 422),
        ({"password": "short"}, "password", "This password is too short. It must contain at least 10 characters.", 422),
        ({"email": "not-an-address"}, "email", "Enter a valid email address.", 400),
    ],
)
def test_signup_refusals_show_the_error_by_the_field_and_create_nobody(
    client: Client, user: User, overrides: dict[str, str], field: str, message: str, status: int
) -> None:
    before = User.objects.count()

    response = client.post("/signup/", signup_data(**overrides))

    assert response.status_code == status
    assert User.objects.count() == before
    assert Profile.objects.count() == before
    assert session_user_id(client) is None
    assert message in response.context["form"].errors[field][0]
    assert_error_next_to(response, field, response.context["form"].errors[field][0])


def test_signup_keeps_what_was_typed_but_never_the_password(client: Client, user: User) -> None:
    response = client.post("/signup/", signup_data(handle="ada"))

    html = html_of(response)
    assert 'value="grace@example.org"' in input_tag(html, "email")
    assert "value=" not in input_tag(html, "password")


def test_signup_is_throttled_per_client_address(client: Client, db: None, settings) -> None:
    settings.CROWDMAKER_SIGNUPS_PER_WINDOW = 2
    settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS = 600
    client.post("/signup/", signup_data(email="one@example.org", handle="one"))
    client.post("/signup/", signup_data(email="two@example.org", handle="two", password="weak"))
    assert User.objects.count() == 1

    response = client.post("/signup/", signup_data(email="three@example.org", handle="three"))

    assert response.status_code == 429
    assert response["Retry-After"] == "600"
    assert "Too many attempts; try again in 10 minutes." in html_of(response)
    assert User.objects.count() == 1
    other_address = Client(REMOTE_ADDR="10.1.2.3").post(
        "/signup/", signup_data(email="three@example.org", handle="three")
    )
    assert other_address.status_code == 302
    assert User.objects.count() == 2


# --- log in and out ------------------------------------------------------------------------------------------


def test_login_with_any_case_of_the_email_signs_in(client: Client, user: User) -> None:
    response = client.post("/login/", {"email": "Ada@Example.ORG", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert session_user_id(client) == str(user.pk)


def test_login_follows_a_local_next_but_not_a_foreign_one(user: User) -> None:
    local = Client().post("/login/", {"email": user.email, "password": PASSWORD, "next": "/teams/new/"})
    foreign = Client().post("/login/", {"email": user.email, "password": PASSWORD, "next": "https://evil.example/"})

    assert local["Location"] == "/teams/new/"
    assert foreign["Location"] == "/"


def test_login_with_a_wrong_password_is_refused_and_counted(client: Client, user: User) -> None:
    response = client.post("/login/", {"email": user.email, "password": "not the password"})

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["This e-mail address and password do not match an account."]
    assert "This e-mail address and password do not match an account." in html_of(response)
    assert session_user_id(client) is None
    assert sorted(ThrottleEvent.objects.values_list("scope", flat=True)) == ["login_ip", "login_ip_email"]


def test_login_is_throttled_after_n_failures_even_with_the_right_password(client: Client, user: User, settings) -> None:
    settings.CROWDMAKER_LOGIN_FAILURES_PER_WINDOW = 3
    for _ in range(3):
        assert client.post("/login/", {"email": user.email, "password": "wrong one"}).status_code == 400

    with mock.patch("crowdmaker.people.views.authenticate") as authenticate:
        response = client.post("/login/", {"email": user.email, "password": PASSWORD})

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "Too many attempts; try again in 15 minutes." in html_of(response)
    authenticate.assert_not_called()
    assert session_user_id(client) is None


def test_login_failures_from_one_address_count_across_emails(
    client: Client, user: User, other_user: User, settings
) -> None:
    settings.CROWDMAKER_LOGIN_FAILURES_PER_IP_PER_WINDOW = 2
    client.post("/login/", {"email": other_user.email, "password": "wrong one"})
    client.post("/login/", {"email": "nobody@example.org", "password": "wrong two"})

    refused = client.post("/login/", {"email": user.email, "password": PASSWORD})
    elsewhere = Client(REMOTE_ADDR="10.9.8.7")
    allowed = elsewhere.post("/login/", {"email": user.email, "password": PASSWORD})

    assert refused.status_code == 429
    assert session_user_id(client) is None
    assert allowed.status_code == 302
    assert session_user_id(elsewhere) == str(user.pk)


def test_parallel_bad_logins_check_the_password_no_more_often_than_the_limit(
    transactional_db: None, make_user: Callable[..., User], settings
) -> None:
    # Given a limit of 3 failures per address and e-mail, and a password check as slow as a real hasher's
    settings.CROWDMAKER_LOGIN_FAILURES_PER_WINDOW = 3
    victim = make_user("ada")
    attempts = 12
    checks = 0
    checks_lock = threading.Lock()
    start = threading.Barrier(attempts)
    statuses: list[int] = []

    def counting_authenticate(*args: Any, **kwargs: Any) -> Any:
        nonlocal checks
        with checks_lock:
            checks += 1
        time.sleep(0.2)  # the test hasher is MD5; a real one takes this long, and the race lives in this gap
        return real_authenticate(*args, **kwargs)

    def attempt() -> None:
        try:
            client = Client(REMOTE_ADDR="203.0.113.50")
            start.wait()
            response = client.post("/login/", {"email": victim.email, "password": "a wrong guess"})
            with checks_lock:
                statuses.append(response.status_code)
        finally:
            connection.close()

    # When twelve wrong guesses arrive at once
    with mock.patch("crowdmaker.people.views.authenticate", counting_authenticate):
        threads = [threading.Thread(target=attempt) for _ in range(attempts)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # Then only three reach the password check; the others are refused and not counted twice
    assert checks == 3
    assert sorted(statuses) == [400] * 3 + [429] * 9
    assert ThrottleEvent.objects.filter(scope="login_ip_email").count() == 3
    assert ThrottleEvent.objects.filter(scope="login_ip").count() == 3


def test_a_successful_login_clears_the_failures_of_that_email(client: Client, user: User) -> None:
    client.post("/login/", {"email": user.email, "password": "wrong one"})
    client.post("/login/", {"email": user.email, "password": "wrong two"})

    response = client.post("/login/", {"email": user.email, "password": PASSWORD})

    assert response.status_code == 302
    assert ThrottleEvent.objects.filter(scope="login_ip_email").count() == 0
    assert ThrottleEvent.objects.filter(scope="login_ip").count() == 2


def test_logout_needs_a_post(signed_in_client: Client, user: User) -> None:
    refused = signed_in_client.get("/logout/")
    assert refused.status_code == 405
    assert session_user_id(signed_in_client) == str(user.pk)

    response = signed_in_client.post("/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert session_user_id(signed_in_client) is None


def test_csrf_is_enforced_on_sign_up(db: None) -> None:
    client = Client(enforce_csrf_checks=True)

    refused = client.post("/signup/", signup_data())

    assert refused.status_code == 403
    assert User.objects.count() == 0
    page = html_of(client.get("/signup/"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token
    accepted = client.post("/signup/", {**signup_data(), "csrfmiddlewaretoken": token.group(1)})
    assert accepted.status_code == 302
    assert User.objects.count() == 1


# --- profiles ------------------------------------------------------------------------------------------------


def test_public_profile_shows_bio_links_and_teams(client: Client, user: User, team: Team) -> None:
    services.profile_update(user=user, bio="I build solar kits.", links=["https://ada.example/"])

    response = client.get("/makers/ada/")

    html = html_of(response)
    assert response.status_code == 200
    assert "<h1>Ada Okafor</h1>" in html
    assert "I build solar kits." in html
    assert '<a href="https://ada.example/" rel="nofollow ugc noopener">https://ada.example/</a>' in html
    assert '<a href="/teams/solar-works/">Solar Works</a>' in html
    assert '<span class="badge badge--owner">Owner</span>' in html


def test_unknown_profile_is_404(client: Client, db: None) -> None:
    response = client.get("/makers/nobody/")

    assert response.status_code == 404
    assert "Not found" in html_of(response)


def test_profile_edit_saves_name_bio_and_links(signed_in_client: Client, user: User) -> None:
    form_page = signed_in_client.get("/settings/profile/")
    assert 'value="Ada Okafor"' in input_tag(html_of(form_page), "display_name")

    response = signed_in_client.post(
        "/settings/profile/",
        {
            "display_name": "Ada O.",
            "bio": "Solar things.",
            "links": "https://ada.example/\n\n  https://code.example/ada  \n",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/makers/ada/"
    profile = Profile.objects.get(user=user)
    assert profile.display_name == "Ada O."
    assert profile.bio == "Solar things."
    assert profile.links == ["https://ada.example/", "https://code.example/ada"]


@pytest.mark.parametrize(
    ("links", "message"),
    [
        ("\n".join(f"https://ada.example/{n}" for n in range(6)), "At most 5 links, please."),
        ("https://ada.example/\nnot a url", "Not a web address (http or https): not a url"),
        ("javascript:alert(1)", "Not a web address (http or https): javascript:alert(1)"),
    ],
)
def test_profile_edit_refusals_leave_the_profile_unchanged(
    signed_in_client: Client, user: User, links: str, message: str
) -> None:
    services.profile_update(user=user, bio="Before.", links=["https://before.example/"])

    response = signed_in_client.post("/settings/profile/", {"display_name": "Changed", "bio": "After.", "links": links})

    assert response.status_code == 422
    assert_error_next_to(response, "links", message)
    profile = Profile.objects.get(user=user)
    assert (profile.display_name, profile.bio, profile.links) == ("Ada Okafor", "Before.", ["https://before.example/"])


def test_profile_edit_requires_a_display_name(signed_in_client: Client, user: User) -> None:
    response = signed_in_client.post("/settings/profile/", {"display_name": "", "bio": "", "links": ""})

    assert response.status_code == 400
    assert_error_next_to(response, "display_name", "This field is required.")
    assert Profile.objects.get(user=user).display_name == "Ada Okafor"


@pytest.mark.parametrize("path", ["/settings/profile/", "/settings/tokens/", "/teams/new/", "/invitations/"])
def test_personal_pages_send_anonymous_visitors_to_log_in(client: Client, db: None, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


# --- teams ---------------------------------------------------------------------------------------------------


def test_team_create_makes_the_creator_owner(signed_in_client: Client, user: User) -> None:
    response = signed_in_client.post(
        "/teams/new/", {"slug": "wind-co", "name": "Wind Co", "description": "Small turbines."}
    )

    assert response.status_code == 302
    assert response["Location"] == "/teams/wind-co/"
    team = Team.objects.get(slug="wind-co")
    assert (team.name, team.description) == ("Wind Co", "Small turbines.")
    assert Membership.objects.get(team=team).user == user
    assert Membership.objects.get(team=team).role == Role.OWNER


@pytest.mark.parametrize(
    ("slug", "message", "status"),
    [("solar-works", "A team with this address exists already.", 409), ("Not a slug!", SLUG_HELP, 422)],
)
def test_team_create_refusals_create_nothing(
    signed_in_client: Client, team: Team, slug: str, message: str, status: int
) -> None:
    response = signed_in_client.post("/teams/new/", {"slug": slug, "name": "Another", "description": ""})

    assert response.status_code == status
    assert_error_next_to(response, "slug", message)
    assert Team.objects.count() == 1
    assert Membership.objects.count() == 1


def test_team_list_and_detail_show_teams_and_members(client: Client, team: Team, member: User) -> None:
    listing = html_of(client.get("/teams/"))
    detail = client.get("/teams/solar-works/")

    assert '<a href="/teams/solar-works/">Solar Works</a>' in listing
    assert "2 members" in listing
    html = html_of(detail)
    assert detail.status_code == 200
    assert "Carla Mendes" in html
    assert "Ada Okafor" in html
    assert "Invite a maker" not in html
    assert "Leave team" not in html


def test_team_list_is_paginated(client: Client, user: User) -> None:
    for n in range(25):
        services.team_create(actor=user, slug=f"team-{n:02d}", name=f"Team {n:02d}")

    first = html_of(client.get("/teams/"))
    second = html_of(client.get("/teams/?page=2"))

    assert "Page 1 of 2" in first
    assert "Team 23" in first
    assert "Team 24" not in first
    assert "Team 24" in second


def test_owner_sees_the_management_forms(signed_in_client: Client, team: Team, member: User) -> None:
    html = html_of(signed_in_client.get("/teams/solar-works/"))

    assert "Invite a maker" in html
    assert "Edit team" in html
    assert 'action="/teams/solar-works/members/carla/remove/"' in html
    assert 'action="/teams/solar-works/members/carla/role/"' in html


def test_owner_edits_the_team(signed_in_client: Client, team: Team) -> None:
    response = signed_in_client.post(
        "/teams/solar-works/edit/", {"team-name": "Solar Works Co-op", "team-description": "We build panels."}
    )

    assert response.status_code == 302
    team.refresh_from_db()
    assert (team.name, team.description) == ("Solar Works Co-op", "We build panels.")


@pytest.mark.parametrize("who", ["outsider", "member"])
def test_outsiders_and_plain_members_cannot_edit_invite_or_remove(
    team: Team, member: User, other_user: User, who: str
) -> None:
    client = signed_in(other_user if who == "outsider" else member)
    victim = services.user_create(email="dan@example.org", password=PASSWORD, handle="dan")
    services.team_member_add(team=team, user=victim, role=Role.MEMBER)
    memberships_before = sorted(Membership.objects.values_list("user__handle", "role"))

    edit = client.post("/teams/solar-works/edit/", {"team-name": "Hijacked", "team-description": "x"})
    invite = client.post("/teams/solar-works/invitations/", {"invite-handle": "bruno", "invite-role": "owner"})
    remove = client.post("/teams/solar-works/members/dan/remove/")
    promote = client.post("/teams/solar-works/members/dan/role/", {"role": "owner"})

    assert (edit.status_code, invite.status_code, remove.status_code, promote.status_code) == (403, 403, 403, 403)
    expected = "Only members of this team may do that." if who == "outsider" else "Only owners and maintainers"
    assert expected in html_of(edit)
    team.refresh_from_db()
    assert (team.name, team.description) == ("Solar Works", "Panels.")
    assert TeamInvitation.objects.count() == 0
    assert sorted(Membership.objects.values_list("user__handle", "role")) == memberships_before


def test_owner_invites_a_maker_who_gets_an_email(
    signed_in_client: Client, team: Team, other_user: User, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(
            "/teams/solar-works/invitations/", {"invite-handle": "Bruno", "invite-role": "maintainer"}
        )

    assert response.status_code == 302
    invitation = TeamInvitation.objects.get()
    assert (invitation.invitee, invitation.role, invitation.status) == (other_user, "maintainer", "pending")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["bruno@example.org"]
    page = html_of(signed_in_client.get("/teams/solar-works/"))
    assert "@bruno is invited as maintainer." in page
    assert f'action="/teams/solar-works/invitations/{invitation.pk}/revoke/"' in page


def test_invite_refusals_show_by_the_field(signed_in_client: Client, team: Team, member: User) -> None:
    unknown = signed_in_client.post(
        "/teams/solar-works/invitations/", {"invite-handle": "ghost", "invite-role": "member"}
    )
    already = signed_in_client.post(
        "/teams/solar-works/invitations/", {"invite-handle": "carla", "invite-role": "member"}
    )

    assert unknown.status_code == 404
    assert_error_next_to(unknown, "handle", "No maker has this handle.", prefix="invite")
    assert already.status_code == 409
    assert_error_next_to(already, "handle", "This maker is a member already.", prefix="invite")
    assert TeamInvitation.objects.count() == 0


def test_a_maintainer_may_not_invite_an_owner(team: Team, member: User, other_user: User) -> None:
    services.team_member_change_role(actor=team.created_by, team=team, member_handle="carla", role=Role.MAINTAINER)

    response = signed_in(member).post(
        "/teams/solar-works/invitations/", {"invite-handle": "bruno", "invite-role": "owner"}
    )

    assert response.status_code == 403
    assert_error_next_to(response, "role", "Maintainers may invite members only; ask an owner.", prefix="invite")
    assert TeamInvitation.objects.count() == 0


def test_owner_revokes_an_invitation_with_htmx(
    signed_in_client: Client, user: User, team: Team, other_user: User
) -> None:
    invitation = services.team_invitation_create(actor=user, team=team, invitee_handle="bruno", role="member")

    response = signed_in_client.post(
        f"/teams/solar-works/invitations/{invitation.pk}/revoke/", headers={"HX-Request": "true"}
    )

    html = html_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="invitations"')
    assert "The invitation of @bruno is revoked." in html
    assert "No pending invitations." in html
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REVOKED


def test_revoke_works_without_javascript(signed_in_client: Client, user: User, team: Team, other_user: User) -> None:
    invitation = services.team_invitation_create(actor=user, team=team, invitee_handle="bruno", role="member")

    response = signed_in_client.post(f"/teams/solar-works/invitations/{invitation.pk}/revoke/")

    assert response.status_code == 302
    assert response["Location"] == "/teams/solar-works/"
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REVOKED


def test_owner_removes_a_member_with_htmx(signed_in_client: Client, team: Team, member: User) -> None:
    response = signed_in_client.post("/teams/solar-works/members/carla/remove/", headers={"HX-Request": "true"})

    html = html_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="members"')
    assert "@carla is no longer a member." in html
    assert not Membership.objects.filter(team=team, user=member).exists()


def test_owner_changes_a_role(signed_in_client: Client, team: Team, member: User) -> None:
    response = signed_in_client.post("/teams/solar-works/members/carla/role/", {"role": "maintainer"})

    assert response.status_code == 302
    assert Membership.objects.get(team=team, user=member).role == Role.MAINTAINER


def test_a_member_leaves_the_team(team: Team, member: User) -> None:
    client = signed_in(member)
    assert "Leave team" in html_of(client.get("/teams/solar-works/"))

    response = client.post("/teams/solar-works/members/carla/remove/")

    assert response.status_code == 302
    assert not Membership.objects.filter(team=team, user=member).exists()


def test_the_last_owner_cannot_leave(signed_in_client: Client, user: User, team: Team, member: User) -> None:
    response = signed_in_client.post("/teams/solar-works/members/ada/remove/")

    assert response.status_code == 409
    assert "A team needs at least one owner; make someone else owner first." in html_of(response)
    assert Membership.objects.get(team=team, user=user).role == Role.OWNER
    htmx = signed_in_client.post(
        "/teams/solar-works/members/ada/role/", {"role": "member"}, headers={"HX-Request": "true"}
    )
    assert htmx.status_code == 409
    assert '<p class="message message--error" role="alert">A team needs at least one owner' in html_of(htmx)
    assert Membership.objects.get(team=team, user=user).role == Role.OWNER


def test_unknown_team_is_404(client: Client, db: None) -> None:
    assert client.get("/teams/nope/").status_code == 404


# --- invitations ---------------------------------------------------------------------------------------------


@pytest.fixture
def invitation(user: User, team: Team, other_user: User) -> TeamInvitation:
    return services.team_invitation_create(actor=user, team=team, invitee_handle="bruno", role="maintainer")


def test_invitee_sees_and_accepts_an_invitation(other_user: User, team: Team, invitation: TeamInvitation) -> None:
    client = signed_in(other_user)
    page = html_of(client.get("/invitations/"))
    assert "Solar Works" in page
    assert f'action="/invitations/{invitation.pk}/accept/"' in page

    response = client.post(f"/invitations/{invitation.pk}/accept/")

    assert response.status_code == 302
    assert response["Location"] == "/teams/solar-works/"
    assert Membership.objects.get(team=team, user=other_user).role == Role.MAINTAINER
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED
    assert "No pending invitations." in html_of(client.get("/invitations/"))


def test_invitee_declines_an_invitation(other_user: User, team: Team, invitation: TeamInvitation) -> None:
    response = signed_in(other_user).post(f"/invitations/{invitation.pk}/decline/")

    assert response.status_code == 302
    assert response["Location"] == "/invitations/"
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.DECLINED
    assert not Membership.objects.filter(team=team, user=other_user).exists()


def test_someone_elses_invitation_is_404_and_stays_pending(
    make_user: Callable[..., User], team: Team, invitation: TeamInvitation
) -> None:
    client = signed_in(make_user("eve"))

    accept = client.post(f"/invitations/{invitation.pk}/accept/")
    decline = client.post(f"/invitations/{invitation.pk}/decline/")

    assert (accept.status_code, decline.status_code) == (404, 404)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING
    assert Membership.objects.filter(team=team).count() == 1


def test_accepting_a_closed_invitation_says_so(other_user: User, invitation: TeamInvitation) -> None:
    client = signed_in(other_user)
    client.post(f"/invitations/{invitation.pk}/decline/")

    response = client.post(f"/invitations/{invitation.pk}/accept/", follow=True)

    assert "This invitation is declined." in html_of(response)
    assert Membership.objects.filter(user=other_user).count() == 0


# --- API tokens ----------------------------------------------------------------------------------------------


def test_a_new_token_is_shown_exactly_once(signed_in_client: Client, user: User) -> None:
    response = signed_in_client.post("/settings/tokens/", {"name": "workshop laptop", "scope": "write"})

    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r'id="new-token-value"[^>]*value="(cm_[^"]+)"', html_of(response))
    assert raw
    raw_token = raw.group(1)
    assert html_of(response).count(raw_token) == 1
    token = ApiToken.objects.get(user=user)
    assert (token.name, token.scope, token.prefix) == ("workshop laptop", "write", raw_token[:10])
    assert services.api_token_authenticate(raw_token=raw_token) == token

    later = html_of(signed_in_client.get("/settings/tokens/"))
    assert raw_token not in later
    assert f"<code>{token.prefix}…</code>" in later
    assert raw_token not in str(dict(signed_in_client.session.items()))


def test_token_create_needs_a_name(signed_in_client: Client, user: User) -> None:
    response = signed_in_client.post("/settings/tokens/", {"name": "", "scope": "read"})

    assert response.status_code == 400
    assert_error_next_to(response, "name", "This field is required.")
    assert ApiToken.objects.count() == 0


def test_owner_revokes_a_token(signed_in_client: Client, user: User) -> None:
    token, _ = services.api_token_create(user=user, name="old", scope="read")

    response = signed_in_client.post(f"/settings/tokens/{token.pk}/revoke/")

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "revoked" in html_of(signed_in_client.get("/settings/tokens/"))


def test_another_users_token_cannot_be_seen_or_revoked(signed_in_client: Client, other_user: User) -> None:
    token, _ = services.api_token_create(user=other_user, name="bruno's secret", scope="write")

    listing = html_of(signed_in_client.get("/settings/tokens/"))
    response = signed_in_client.post(f"/settings/tokens/{token.pk}/revoke/")

    assert "bruno&#x27;s secret" not in listing
    assert token.prefix not in listing
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoke_needs_a_post(signed_in_client: Client, user: User) -> None:
    token, _ = services.api_token_create(user=user, name="keep", scope="read")

    assert signed_in_client.get(f"/settings/tokens/{token.pk}/revoke/").status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


# --- accessibility -------------------------------------------------------------------------------------------


class _Controls(HTMLParser):
    """Collects form controls, the `for` of every label, and which controls sit inside a label."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.label_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "label":
            self.label_depth += 1
            if attributes.get("for"):
                self.label_for.add(str(attributes["for"]))
        elif tag in {"input", "select", "textarea"} and attributes.get("type") not in {"hidden", "submit"}:
            self.controls.append({**attributes, "_in_label": "yes" if self.label_depth else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth -= 1


@pytest.mark.parametrize(
    "path",
    [
        "/signup/",
        "/login/",
        "/settings/profile/",
        "/teams/new/",
        "/teams/solar-works/",
        "/settings/tokens/",
    ],
)
def test_every_control_has_a_label(signed_in_client: Client, team: Team, member: User, path: str) -> None:
    signed_in_client.post("/settings/tokens/", {"name": "one", "scope": "read"})
    client = Client() if path in {"/signup/", "/login/"} else signed_in_client

    response = client.get(path)

    assert response.status_code == 200
    html = html_of(response)

    parser = _Controls()
    parser.feed(html)
    assert parser.controls, f"no form controls on {path}"
    for control in parser.controls:
        assert control["_in_label"] or control.get("id") in parser.label_for, f"unlabelled control on {path}: {control}"
    assert '<html lang="en">' in html
    assert re.search(r"<title>[^<]+ · Crowdmaker</title>", html)


@pytest.mark.parametrize("path", ["/login/", "/signup/"])
def test_passwords_are_hidden_from_error_reports(client: Client, path: str, db: None) -> None:
    response = client.post(path, {"email": "ada@example.org", "password": "hunter2 is my secret"})

    request = response.wsgi_request
    filtered = get_exception_reporter_filter(request).get_post_parameters(request)
    assert filtered["password"] != "hunter2 is my secret"
    assert set(filtered["password"]) == {"*"}
