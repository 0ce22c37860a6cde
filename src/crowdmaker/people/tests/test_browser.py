"""Browser smoke test: the people pages work end to end in the system Chromium, driven by Playwright.

Run with `-m browser`; it needs /usr/bin/chromium and never downloads a browser.
"""

from __future__ import annotations

from typing import Any

from crowdmaker.conftest import BROWSER_TEST, PASSWORD
from crowdmaker.people.models import Membership, Role, User

pytestmark = BROWSER_TEST


def test_sign_up_log_out_log_in_create_a_team_and_see_it_on_the_profile(
    live_server: Any, transactional_db: None, page: Any
) -> None:
    from playwright.sync_api import expect

    base = live_server.url

    page.goto(base + "/")
    page.get_by_role("link", name="Sign up — it is free").click()
    page.get_by_label("E-mail address").fill("grace@example.org")
    page.get_by_label("Handle").fill("grace")
    page.get_by_label("Display name").fill("Grace Hopper")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(base + "/makers/grace/")
    expect(page.get_by_role("status")).to_contain_text("Welcome to Crowdmaker, Grace Hopper!")

    page.locator("summary", has_text="Account").click()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(base + "/")
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Log in")).to_be_visible()

    navigation.get_by_role("link", name="Log in").click()
    page.get_by_label("E-mail address").fill("Grace@Example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(base + "/")
    expect(page.locator("summary", has_text="Account")).to_be_visible()  # signed in: the account menu

    page.get_by_role("link", name="Teams", exact=True).click()
    page.get_by_role("link", name="New team").click()
    page.get_by_label("Address").fill("compiler-guild")
    page.get_by_label("Name").fill("Compiler Guild")
    page.get_by_label("Description").fill("Open hardware for teaching machines to read.")
    page.get_by_role("button", name="Create team").click()
    expect(page).to_have_url(base + "/teams/compiler-guild/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Compiler Guild")

    page.locator("summary", has_text="Account").click()
    page.get_by_role("link", name="My profile").click()
    expect(page).to_have_url(base + "/makers/grace/")
    expect(page.get_by_role("link", name="Compiler Guild")).to_be_visible()
    expect(page.locator(".badge--owner")).to_have_text("Owner")

    grace = User.objects.get(handle="grace")
    assert list(Membership.objects.filter(user=grace).values_list("team__slug", "role")) == [
        ("compiler-guild", Role.OWNER)
    ]


def test_htmx_revokes_in_place_and_shows_a_refusal_in_place(
    live_server: Any, transactional_db: None, page: Any
) -> None:
    from playwright.sync_api import expect

    from crowdmaker.people import services

    ada = services.user_create(email="ada@example.org", password=PASSWORD, handle="ada")
    services.user_create(email="bruno@example.org", password=PASSWORD, handle="bruno")
    team = services.team_create(actor=ada, slug="solar-works", name="Solar Works")
    services.team_invitation_create(actor=ada, team=team, invitee_handle="bruno", role="member")
    base = live_server.url

    page.goto(base + "/login/?next=/teams/solar-works/")
    page.get_by_label("E-mail address").fill("ada@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(base + "/teams/solar-works/")
    page.wait_for_function("() => window.htmx !== undefined")

    page.get_by_role("button", name="Revoke the invitation of @bruno").click()

    invitations = page.locator("#invitations")
    expect(invitations).to_contain_text("The invitation of @bruno is revoked.")
    expect(invitations).to_contain_text("No pending invitations.")
    expect(page).to_have_url(base + "/teams/solar-works/")  # swapped in place, no navigation

    # A refusal (HTTP 409) is swapped in too, with its message, and changes nothing.
    page.get_by_label("Role of @ada").select_option("member")
    page.get_by_role("button", name="Change role").click()
    members = page.locator("#members")
    expect(members.get_by_role("alert")).to_have_text("A team needs at least one owner; make someone else owner first.")
    assert Membership.objects.get(team=team, user=ada).role == Role.OWNER
