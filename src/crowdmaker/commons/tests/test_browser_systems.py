"""Browser test: a newcomer builds a working system in the system Chromium, driven by Playwright.

Run with `-m browser`; it needs /usr/bin/chromium and never downloads a browser (see people's test_browser.py).
"""

from __future__ import annotations

import re
from typing import Any

from crowdmaker.commons import services as commons
from crowdmaker.commons.models import SystemMember
from crowdmaker.commons.tests.test_system_pages import CATALOG
from crowdmaker.conftest import BROWSER_TEST, PASSWORD
from crowdmaker.people import services as people

pytestmark = BROWSER_TEST


def test_a_newcomer_builds_a_complete_system_from_the_catalog(
    live_server: Any, transactional_db: None, page: Any
) -> None:
    from playwright.sync_api import expect

    maker = people.user_create(email="mo@example.org", password=PASSWORD, handle="mo")
    for slug, (title, manifest) in CATALOG.items():
        commons.design_create(actor=maker, slug=slug, title=title, licence="CC-BY-4.0", manifest=manifest)
    people.user_create(email="nia@example.org", password=PASSWORD, handle="nia")
    base = live_server.url

    page.goto(base + "/login/")
    page.get_by_label("E-mail address").fill("nia@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("summary", has_text="Account")).to_be_visible()  # signed in: the account menu

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My systems").click()
    page.get_by_label("Name").fill("Smart home starter")
    page.get_by_role("button", name="Create system").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Smart home starter")

    # Two lamps: nothing powers them yet, and the page says so.
    page.get_by_label("Design").fill("usb-c-lamp")
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to system").click()
    expect(page.get_by_role("status").first).to_contain_text("Added 2 \N{MULTIPLICATION SIGN} USB-C lamp (version 1).")
    expect(page.locator(".check")).to_contain_text("Incomplete: 2 requirements are not met.")
    expect(page.locator(".unmet-list")).to_contain_text("USB-C lamp #1 needs power.usb-c ^1.0: no member provides")
    expect(page.locator(".diagram svg text.unmet")).to_have_count(2)

    # "Complete my system" offers a charger; one click adds it and the system works.
    page.get_by_role("button", name="Add it (USB-C charger)", exact=True).click()
    expect(page.locator(".check")).to_have_text("Complete: every product gets everything it requires.")
    expect(page.locator(".diagram svg g.link")).to_have_count(2)
    expect(page.locator(".diagram svg text.unmet")).to_have_count(0)

    # A sensor from the catalog by its address: it needs a broker, so the system is incomplete again ...
    page.get_by_label("Design").fill("temp-sensor")
    page.get_by_label("Quantity").fill("1")
    page.get_by_role("button", name="Add to system").click()
    expect(page.locator(".check")).to_contain_text("Incomplete: 1 requirement is not met.")
    # ... and the hub, added from "Compatible with this system", completes it.
    page.get_by_role("button", name="Add MQTT hub <b>&</b>").click()
    expect(page.locator(".check")).to_have_text("Complete: every product gets everything it requires.")

    counts = dict(SystemMember.objects.values_list("design_version__design__slug", "quantity"))
    assert counts == {"usb-c-lamp": 2, "usb-c-charger": 1, "temp-sensor": 1, "mqtt-hub": 1}

    # The share link opens the same system read-only, for anyone.
    share = page.get_by_label("Share link").input_value()
    assert share.startswith(base + "/systems/shared/")
    page.locator("summary", has_text="Account").click()
    page.get_by_role("button", name="Log out").click()
    page.goto(share)
    expect(page.get_by_role("heading", level=1)).to_have_text("Smart home starter")
    expect(page.locator(".check")).to_have_text("Complete: every product gets everything it requires.")
    expect(page.get_by_role("button", name=re.compile("Remove"))).to_have_count(0)
