"""Browser test of the site's main navigation: signed in, at a 1280 px wide window, it fits on one line, and the
account's pages sit in the account menu, reachable with the keyboard."""

from __future__ import annotations

from typing import Any

from crowdmaker.conftest import BROWSER_TEST, PASSWORD
from crowdmaker.people.models import User

pytestmark = BROWSER_TEST


def test_the_signed_in_navigation_fits_one_line_and_opens_the_account_menu(
    live_server: Any, transactional_db: None, page: Any, user: User
) -> None:
    from playwright.sync_api import expect

    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(base + "/login/")
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    navigation = page.get_by_role("navigation", name="Main")
    summary = navigation.locator("summary", has_text="Account")
    expect(summary).to_be_visible()

    # One line: the brand, every link and the menu share one row (their boxes' tops within a few pixels).
    brand = navigation.get_by_role("link", name="Crowdmaker").bounding_box()
    tops = [box["y"] for box in navigation.locator(".nav-links > li").evaluate_all(
        "items => items.map(item => item.getBoundingClientRect().toJSON())")]  # fmt: skip
    assert len(tops) == 9, tops  # Home, Designs, Campaigns, Calls, Teams, Interfaces, My systems, My pledges, Account
    assert max(tops) - min(tops) < 8, tops
    nav_box = navigation.bounding_box()
    assert brand is not None
    assert nav_box is not None
    assert nav_box["height"] < 2.2 * brand["height"] + 24, (nav_box, brand)

    # The account's pages are hidden until the menu opens; the keyboard opens it.
    log_out = navigation.get_by_role("button", name="Log out")
    expect(log_out).to_be_hidden()
    summary.focus()
    page.keyboard.press("Enter")
    expect(log_out).to_be_visible()
    navigation.get_by_role("link", name="API tokens").click()
    expect(page).to_have_url(base + "/settings/tokens/")
