"""Browser test of comments on the campaign page, in the system Chromium driven by Playwright: "Older comments"
swaps the next page in place (htmx), and a maker hides a comment, which a visitor then sees only as hidden.

Run with `-m browser`; it needs /usr/bin/chromium and never downloads a browser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from crowdmaker.conftest import BROWSER_TEST, PASSWORD
from crowdmaker.funding import updates
from crowdmaker.funding.models import Campaign, Comment
from crowdmaker.funding.tests.backer_world import build_world
from crowdmaker.people.models import User

pytestmark = BROWSER_TEST


def test_older_comments_load_in_place_and_a_maker_hides_one(
    live_server: Any, transactional_db: None, page: Any, make_campaign: Callable[..., Campaign],
    make_user: Callable[..., User],
) -> None:  # fmt: skip
    from playwright.sync_api import expect

    world = build_world(make_campaign, make_user)
    now = timezone.now()
    for n in range(1, 22):
        updates.comment_post(actor=world.ben, campaign=world.campaign, body=f"Question {n}", now=now)
    url = f"{live_server.url}/campaigns/{world.campaign.slug}/"

    page.goto(live_server.url + "/login/")
    page.get_by_label("E-mail address").fill(world.maker.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("summary", has_text="Account")).to_be_visible()

    page.goto(url)
    comments = page.locator("#comments")
    expect(comments.get_by_text("Question 21", exact=True)).to_be_visible()
    expect(comments.get_by_text("Question 1", exact=True)).to_have_count(0)
    comments.get_by_role("link", name="Older comments").click()
    expect(comments.get_by_text("Question 1", exact=True)).to_be_visible()
    expect(comments.get_by_role("link", name="Older comments")).to_have_count(0)
    assert page.url == url  # swapped in place, no navigation

    newest = Comment.objects.get(body="Question 21")
    item = page.locator(f"#comment-{newest.pk}")
    item.locator("summary", has_text="Hide").click()
    item.get_by_label("Reason (optional, shown to its author)").fill("Asked three times")
    item.get_by_role("button", name="Hide the comment").click()
    expect(page.locator(f"#comment-{newest.pk}")).to_contain_text(
        "Hidden by the campaign's makers (reason: Asked three times)"
    )
    expect(page.locator(f"#comment-{newest.pk}").get_by_role("button", name="Show it again")).to_be_visible()
    newest.refresh_from_db()
    assert (newest.hidden_by, newest.hidden_reason) == (world.maker, "Asked three times")

    visitor = page.context.browser.new_page()
    visitor.goto(url)
    hidden = visitor.locator(f"#comment-{newest.pk}")
    expect(hidden).to_contain_text("Hidden by the campaign's makers")
    expect(hidden).not_to_contain_text("Question 21")
    expect(hidden).not_to_contain_text("three times")
    visitor.close()
