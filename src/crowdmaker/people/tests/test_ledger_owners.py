"""Teams and persons as ledger owners: labels, pseudonyms, who sees detail, and the profile opt-in."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crowdmaker.ledger.owners import owner_can_see_detail, owner_describe, owners_describe
from crowdmaker.people import services
from crowdmaker.people.ledger_owners import person_pseudonym
from crowdmaker.people.models import Profile, Role, Team, User


@pytest.fixture
def team(user: User) -> Team:
    return services.team_create(actor=user, slug="lamp-makers", name="Lamp makers")


def join(team: Team, owner: User, newcomer: User, role: str) -> None:
    invitation = services.team_invitation_create(actor=owner, team=team, invitee_handle=newcomer.handle, role=role)
    services.team_invitation_accept(actor=newcomer, invitation_id=invitation.pk)


def test_a_team_is_public_under_its_name_with_its_page(team: Team) -> None:
    info = owner_describe("team", str(team.pk))

    assert info is not None
    assert (info.kind, info.id, info.label, info.public, info.url) == (
        "team",
        str(team.pk),
        "Lamp makers",
        True,
        "/teams/lamp-makers/",
    )


@pytest.mark.parametrize("owner_id", ["999999", "abc", "", "-1", "٣", "1" * 30])
def test_unknown_or_malformed_team_ids_describe_no_one(db: None, owner_id: str) -> None:
    assert owner_describe("team", owner_id) is None


def test_team_detail_is_for_owners_maintainers_and_operators_only(
    team: Team, user: User, make_user: Callable[..., User]
) -> None:
    maintainer, member, outsider = make_user("mia"), make_user("mo"), make_user("otto")
    operator = make_user("opal", is_staff=True)
    join(team, user, maintainer, Role.MAINTAINER)
    join(team, user, member, Role.MEMBER)
    owner_id = str(team.pk)

    seen = {u.handle: owner_can_see_detail("team", owner_id, u) for u in (user, maintainer, member, outsider, operator)}

    assert seen == {"ada": True, "mia": True, "mo": False, "otto": False, "opal": True}


def test_anonymous_visitors_see_no_detail(team: Team, user: User) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert owner_can_see_detail("team", str(team.pk), AnonymousUser()) is False
    assert owner_can_see_detail("person", str(user.pk), AnonymousUser()) is False


def test_a_person_is_not_public_and_appears_under_a_stable_pseudonym(user: User) -> None:
    info = owner_describe("person", str(user.pk))

    assert info is not None
    assert info.public is False
    assert info.label == person_pseudonym(user.pk) == owner_describe("person", str(user.pk)).label  # type: ignore[union-attr]
    assert info.label.startswith("Person ")
    assert len(info.label) == len("Person ") + 12
    assert "Ada" not in info.label
    assert "ada" not in info.label
    assert info.url == ""


def test_pseudonyms_differ_between_people_and_depend_on_the_secret_key(user: User, other_user: User, settings) -> None:
    first = person_pseudonym(user.pk)

    assert first != person_pseudonym(other_user.pk)
    settings.SECRET_KEY = "another secret key for another installation"
    assert person_pseudonym(user.pk) != first


def test_a_person_who_opts_in_is_shown_by_display_name_with_their_page(user: User) -> None:
    services.profile_update(user=user, show_on_public_ledgers=True)

    info = owner_describe("person", str(user.pk))

    assert info is not None
    assert (info.label, info.url, info.public) == ("Ada Okafor", "/makers/ada/", False)


def test_a_person_sees_their_own_detail_and_nobody_else_but_operators(
    user: User, other_user: User, make_user: Callable[..., User]
) -> None:
    operator = make_user("opal", is_staff=True)
    owner_id = str(user.pk)

    assert owner_can_see_detail("person", owner_id, user) is True
    assert owner_can_see_detail("person", owner_id, other_user) is False
    assert owner_can_see_detail("person", owner_id, operator) is True


def test_describing_many_owners_takes_one_query_per_kind(
    team: Team, user: User, make_user: Callable[..., User]
) -> None:
    people = [make_user(f"backer{i}") for i in range(5)]
    wanted = [("team", str(team.pk)), ("team", "424242")] + [("person", str(p.pk)) for p in people]
    wanted.append(("person", str(user.pk)))

    with CaptureQueriesContext(connection) as queries:
        found = owners_describe(wanted)

    assert len(queries) == 2
    assert set(found) == set(wanted) - {("team", "424242")}
    assert found[("person", str(people[0].pk))].label == person_pseudonym(people[0].pk)


def test_profile_update_leaves_the_choice_alone_unless_given(user: User) -> None:
    services.profile_update(user=user, show_on_public_ledgers=True)
    services.profile_update(user=user, bio="I make lamps.")

    assert Profile.objects.get(user=user).show_on_public_ledgers is True


def test_the_profile_page_has_the_checkbox_and_saves_it(signed_in_client: Client, user: User) -> None:
    page = signed_in_client.get("/settings/profile/")
    assert 'name="show_on_public_ledgers"' in page.content.decode()

    response = signed_in_client.post(
        "/settings/profile/", {"display_name": "Ada Okafor", "bio": "", "links": "", "show_on_public_ledgers": "on"}
    )
    assert response.status_code == 302
    assert Profile.objects.get(user=user).show_on_public_ledgers is True

    signed_in_client.post("/settings/profile/", {"display_name": "Ada Okafor", "bio": "", "links": ""})
    assert Profile.objects.get(user=user).show_on_public_ledgers is False


def test_the_api_reads_and_writes_the_choice(user: User) -> None:
    token = services.api_token_create(user=user, name="t", scope="write")[1]
    headers = {"Authorization": f"Bearer {token}"}
    client = Client(headers=headers)

    response = client.patch("/api/v1/me/profile", {"show_on_public_ledgers": True}, content_type="application/json")

    assert response.status_code == 200
    assert response.json()["show_on_public_ledgers"] is True
    assert client.get("/api/v1/me").json()["show_on_public_ledgers"] is True
    assert "show_on_public_ledgers" not in client.get("/api/v1/makers/ada").json()
