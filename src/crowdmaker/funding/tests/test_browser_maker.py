"""Browser test of the maker journey in the system Chromium, driven by Playwright: create a campaign from the maker
pages, add a reward, publish it, post a backers-only update, then, on a campaign that succeeded (pledged and settled
through the services), download the backer report from the backers page and read it back; the database is checked
at each step.

Run with `-m browser`; it needs /usr/bin/chromium and never downloads a browser.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core import mail
from django.utils import timezone

from crowdmaker.commons.models import DesignVersion
from crowdmaker.conftest import BROWSER_TEST, PASSWORD
from crowdmaker.funding.models import Campaign, CampaignStatus, Tier, Update, UpdateDelivery
from crowdmaker.funding.reports import BOM
from crowdmaker.funding.tests.backer_world import build_world
from crowdmaker.people.models import User

pytestmark = BROWSER_TEST

FORM_TIME = "%Y-%m-%dT%H:%M"


def test_a_maker_creates_publishes_posts_an_update_and_downloads_the_backer_report(
    live_server: Any, transactional_db: None, page: Any, user: User, design_version: DesignVersion,
    make_campaign: Callable[..., Campaign], make_user: Callable[..., User], tmp_path: Path,
) -> None:  # fmt: skip
    from playwright.sync_api import expect

    base = live_server.url
    navigation = page.get_by_role("navigation", name="Main")
    page.goto(base + "/login/")
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("summary", has_text="Account")).to_be_visible()  # signed in: the account menu

    # Create the campaign from the maker pages.
    navigation.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="Start a campaign").click()
    page.get_by_label("Desk lamp, version 1").check()
    page.get_by_label("Address").fill("lamp-batch")
    page.get_by_role("textbox", name="Title").fill("A batch of desk lamps")
    page.get_by_role("textbox", name="Goal").fill("500")
    now = timezone.now()
    page.get_by_label("Starts").fill(now.strftime(FORM_TIME))
    page.get_by_label("Deadline").fill((now + timedelta(days=30)).strftime(FORM_TIME))
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Draft: A batch of desk lamps")
    campaign = Campaign.objects.get(slug="lamp-batch")
    assert (campaign.status, campaign.goal, campaign.owner_user) == (CampaignStatus.DRAFT, 50_000, user)

    # Add a reward, then publish.
    reward = page.get_by_role("region", name="Add a reward")
    reward.get_by_label("Title").fill("One lamp")
    reward.get_by_label("Price (EUR)").fill("45")
    reward.get_by_label("Declared unit cost (EUR)").fill("15")
    page.get_by_role("button", name="Add the reward").click()
    expect(page.get_by_role("status")).to_contain_text("The reward “One lamp” is added.")
    assert list(Tier.objects.filter(campaign=campaign).values_list("title", "price", "unit_cost")) == [
        ("One lamp", 4_500, 1_500)
    ]
    page.get_by_role("button", name="Publish the campaign").click()
    expect(page.get_by_role("status")).to_contain_text("is published")
    expect(page.get_by_role("heading", level=1)).to_have_text("A batch of desk lamps")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LIVE

    # Post a backers-only update from the campaign page; nobody backs it yet, so it is mailed to nobody.
    page.get_by_role("link", name="Post an update").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Post an update")
    page.get_by_label("Title").fill("Tooling is ordered")
    page.get_by_label("Text").fill("The **moulds** arrive in May.")
    page.get_by_label("Backers only").check()
    page.get_by_label("One lamp").check()
    page.get_by_role("button", name="Post and e-mail the update").click()
    expect(page.get_by_role("status")).to_contain_text("Update #1 is posted and being e-mailed to 0 backers.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tooling is ordered")
    expect(page.locator(".prose strong")).to_have_text("moulds")
    update = Update.objects.get()
    assert (update.campaign, update.number, update.audience, [t.title for t in update.tiers.all()]) == (
        campaign, 1, "backers", ["One lamp"],
    )  # fmt: skip
    assert UpdateDelivery.objects.count() == 0
    page.get_by_role("link", name="A batch of desk lamps").first.click()
    expect(page.get_by_role("region", name="Updates (1)")).to_contain_text("Tooling is ordered")

    # A campaign that succeeded (pledged and settled through the services): download its backer report.
    world = build_world(make_campaign, make_user, settle=True)
    assert mail.outbox == []
    page.goto(f"{base}/campaigns/{world.campaign.slug}/")
    page.get_by_role("link", name="Backers and rewards").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Backers of First run of the desk lamp")
    expect(page.locator("#totals-by-tier")).to_contain_text("Early bird")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the backer report (CSV)").click()
    download = download_info.value
    assert download.suggested_filename == "desk-lamp-run-backers.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert text.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(text.removeprefix(BOM))))
    assert [(r["backer_number"], r["email"], r["tier"], r["add_ons"], r["amount"], r["pledge_status"]) for r in rows] == [
        ("1", "ana@example.org", "Early bird", "2 x Spare shade", "56.00", "captured"),
        ("2", "ben@example.org", "Lamp", "", "50.00", "captured"),
        ("3", "", "No reward", "", "25.00", "captured"),
    ]  # fmt: skip
