"""Browser test of the backer journey in the system Chromium, driven by Playwright: find a campaign from the list,
pledge to a tier with the sandbox's `sandbox-card-ok` seeing the platform fee before confirming, see the pledge on
"My pledges", change its tier, cancel it; the database is checked at each step.

Run with `-m browser`; it needs /usr/bin/chromium and never downloads a browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from crowdmaker.conftest import BROWSER_TEST, PASSWORD
from crowdmaker.funding.models import Campaign, Pledge, PledgeStatus, TierSlot
from crowdmaker.ledger.models import PaymentStatus
from crowdmaker.people.models import User

pytestmark = BROWSER_TEST


def test_a_backer_pledges_changes_the_tier_and_cancels(
    live_server: Any, transactional_db: None, page: Any, make_campaign: Callable[..., Campaign], other_user: User
) -> None:
    from playwright.sync_api import expect

    campaign = make_campaign()  # Early bird 40.00 EUR (3 places) and Lamp 50.00 EUR, each costing 15.00 EUR to make
    early_bird, lamp = campaign.tier, campaign.open_tier  # type: ignore[attr-defined]
    base = live_server.url
    navigation = page.get_by_role("navigation", name="Main")

    page.goto(base + "/login/")
    page.get_by_label("E-mail address").fill(other_user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("summary", has_text="Account")).to_be_visible()  # signed in: the account menu

    # Find the campaign from the list.
    navigation.get_by_role("link", name="Campaigns").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")
    page.get_by_role("link", name="First run of the desk lamp").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("First run of the desk lamp")
    expect(page.get_by_text("3 of 3 left")).to_be_visible()

    # Pledge to the early bird tier: the fee is shown as the form changes and on the review, before confirming.
    page.get_by_role("link", name="Back this campaign").click()
    page.get_by_label("Early bird — 40.00 EUR (3 of 3 left)").check()
    page.get_by_label("Card").select_option("sandbox-card-ok")
    expect(page.locator("#pledge-summary")).to_contain_text(
        "Total: 40.00 EUR — of which the platform's fee is 2.50 EUR"
    )
    page.get_by_role("button", name="Review my pledge").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your pledge")
    expect(page.locator("#pledge-total")).to_have_text("40.00 EUR")
    expect(page.locator("#pledge-fee")).to_have_text("2.50 EUR")  # 10 % of the 25.00 EUR margin
    assert Pledge.objects.count() == 0  # nothing is recorded before the backer confirms
    page.get_by_role("button", name="Confirm my pledge").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for backing First run of the desk lamp")
    first = Pledge.objects.get()
    assert (first.backer, first.tier, first.status, first.amount) == (
        other_user, early_bird, PledgeStatus.AUTHORIZED, 4_000,
    )  # fmt: skip
    assert first.payment is not None
    assert (first.payment.status, first.payment.payment_method, first.payment.fee_quoted) == (
        PaymentStatus.AUTHORIZED, "sandbox-card-ok", 250,
    )  # fmt: skip
    assert TierSlot.objects.filter(tier=early_bird, pledge=first).count() == 1

    # See it on "My pledges".
    navigation.get_by_role("link", name="My pledges").click()
    row = page.get_by_role("row", name=re.compile(f"#{first.pk} "))
    expect(row).to_contain_text("Early bird")
    expect(row).to_contain_text("40.00 EUR")
    expect(row).to_contain_text("Authorized")
    row.get_by_role("link", name=f"#{first.pk}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pledge #{first.pk} to First run of the desk lamp")

    # Change the tier: reviewed first, then the new pledge replaces the old one.
    page.get_by_label("Lamp — 50.00 EUR", exact=True).check()
    page.get_by_role("button", name="Review the change").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review the change of your pledge")
    expect(page.locator("#pledge-total")).to_have_text("50.00 EUR")
    expect(page.locator("#pledge-fee")).to_have_text("3.50 EUR")
    assert Pledge.objects.get().status == PledgeStatus.AUTHORIZED
    page.get_by_role("button", name="Confirm the change").click()
    expect(page.get_by_role("status")).to_contain_text("Your pledge is changed: 50.00 EUR now.")
    second = Pledge.objects.exclude(pk=first.pk).get()
    first.refresh_from_db()
    assert (first.status, second.status, second.tier, second.replaces) == (
        PledgeStatus.REPLACED, PledgeStatus.AUTHORIZED, lamp, first,
    )  # fmt: skip
    assert TierSlot.objects.filter(pledge__isnull=False).count() == 0  # the early bird place is free again
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pledge #{second.pk} to First run of the desk lamp")

    # Cancel, after a confirmation.
    page.get_by_role("link", name="Cancel this pledge…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Cancel pledge #{second.pk}?")
    assert Pledge.objects.get(pk=second.pk).status == PledgeStatus.AUTHORIZED
    page.get_by_role("button", name="Yes, cancel my pledge").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Your pledge is cancelled: nothing will be taken from your card."
    )
    expect(page.locator("#pledge-status")).to_have_text("Cancelled")
    second.refresh_from_db()
    assert second.status == PledgeStatus.CANCELLED
    assert second.payment is not None
    assert second.payment.status == PaymentStatus.VOIDED
    navigation.get_by_role("link", name="My pledges").click()
    expect(page.get_by_role("row", name=re.compile(f"#{second.pk} "))).to_contain_text("Cancelled")
    expect(page.get_by_role("row", name=re.compile(f"#{first.pk} "))).to_contain_text("Replaced")
