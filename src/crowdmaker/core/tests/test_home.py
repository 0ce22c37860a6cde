"""The home page and the base layout every page shares: pitch, recent makers and teams, navigation, assets."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from crowdmaker.people import services
from crowdmaker.people.models import Role, User


@pytest.fixture
def populated(make_user: Callable[..., User]) -> None:
    ada = make_user("ada", display_name="Ada Okafor")
    services.profile_update(user=ada, bio="I design modular solar kits that plug into any Crowdmaker home system.")
    bruno = make_user("bruno", display_name="Bruno Lindqvist")
    team = services.team_create(actor=ada, slug="solar-works", name="Solar Works", description="Open solar kits.")
    services.team_member_add(team=team, user=bruno, role=Role.MEMBER)


def test_home_pitches_the_platform_and_invites_to_sign_up(client: Client, db: None) -> None:
    response = client.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Crowdmaker is an open-source crowdmaking platform." in html
    assert '<a class="button" href="/signup/">Sign up — it is free</a>' in html
    assert "No makers yet." in html
    assert "No teams yet." in html


def test_home_lists_recent_makers_and_teams(client: Client, populated: None) -> None:
    html = client.get("/").content.decode()

    assert '<a href="/makers/ada/">Ada Okafor</a>' in html
    assert "@ada" in html
    assert "I design modular solar kits" in html
    assert '<a href="/makers/bruno/">Bruno Lindqvist</a>' in html
    assert '<a href="/teams/solar-works/">Solar Works</a>' in html
    assert "2 members" in html
    assert "Open solar kits." in html


def test_home_needs_a_fixed_number_of_queries(
    client: Client, populated: None, make_user, django_assert_num_queries
) -> None:
    for n in range(6):
        make_user(f"extra{n}")
    with django_assert_num_queries(2):
        client.get("/")


def test_the_layout_is_accessible_and_loads_assets_locally(client: Client, db: None) -> None:
    html = client.get("/").content.decode()

    assert html.startswith('<!doctype html>\n<html lang="en">')
    assert "<title>Make things together · Crowdmaker</title>" in html
    assert '<a class="skip-link" href="#main">Skip to content</a>' in html
    assert '<main id="main"' in html
    assert 'role="status"' in html
    assert '<script src="/static/django_htmx/htmx-2.min.js" defer></script>' in html
    assert '<link rel="stylesheet" href="/static/core/crowdmaker.css">' in html
    assert "https://" not in html.split("</head>")[0]


def test_static_assets_are_served(client: Client, db: None) -> None:
    css = client.get("/static/core/crowdmaker.css")
    htmx = client.get("/static/django_htmx/htmx-2.min.js")

    assert css.status_code == 200
    assert htmx.status_code == 200


def test_navigation_follows_the_signed_in_state(client: Client, signed_in_client: Client) -> None:
    anonymous = client.get("/").content.decode()
    member = signed_in_client.get("/").content.decode()

    assert 'href="/login/"' in anonymous
    assert 'href="/signup/"' in anonymous
    assert 'action="/logout/"' not in anonymous
    for link in ('href="/teams/"', 'href="/makers/ada/"', 'href="/invitations/"', 'href="/settings/tokens/"'):
        assert link in member
    assert '<form method="post" action="/logout/" class="inline-form">' in member
    assert 'href="/login/"' not in member
