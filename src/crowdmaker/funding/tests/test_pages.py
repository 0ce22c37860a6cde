"""The funding pages: campaigns in public, pledging with a review that shows the fee first, a backer's pledges
(change, cancel) and the maker's campaign pages. Every refusal shows its message by the field it concerns and
changes nothing (apart from the declined pledge the service records for a refused card).

Real campaigns through the services, the sandbox gateway's test cards, the Django test client.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import date, timedelta
from html import escape, unescape
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crowdmaker.commons import services as commons
from crowdmaker.commons.models import DesignVersion
from crowdmaker.commons.tests.conftest import manifest
from crowdmaker.funding import pledges, services
from crowdmaker.funding.models import (
    AddOn,
    Campaign,
    CampaignImage,
    CampaignStatus,
    Pledge,
    PledgeStatus,
    StretchGoal,
    Tier,
    TierItem,
    TierSlot,
)
from crowdmaker.ledger.gateways import GatewayUnavailable, sandbox
from crowdmaker.ledger.models import Payment, PaymentStatus
from crowdmaker.people import services as people
from crowdmaker.people.models import Role, User
from crowdmaker.people.tests.test_pages import assert_error_next_to, signed_in

pytestmark = pytest.mark.django_db

DEMO_BUDGET_S = 10.0  # the funding demo loader runs on a first `crowdmaker run`: it must stay quick


def text(response: Any) -> str:
    """The page's text with tags removed and spaces collapsed, as a reader would take it in."""
    words = " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())
    return re.sub(r" ([.,;:])", r"\1", words)  # "<a>#24</a>." reads "#24."


def state() -> tuple[int, int, int, int]:
    """Pledges, payments, authorized pledges and held places: what a refused pledge must leave as it was."""
    return (
        Pledge.objects.count(),
        Payment.objects.count(),
        Pledge.objects.filter(status=PledgeStatus.AUTHORIZED).count(),
        TierSlot.objects.filter(pledge__isnull=False).count(),
    )


def campaign_state() -> tuple[int, int, int, int, int]:
    return (
        Campaign.objects.count(),
        Tier.objects.count(),
        AddOn.objects.count(),
        StretchGoal.objects.count(),
        TierSlot.objects.count(),
    )


@pytest.fixture
def shop(make_campaign: Callable[..., Campaign], user: User) -> Campaign:
    """The desk lamp campaign (Early bird 40.00 EUR, 3 places; Lamp 50.00 EUR; both costing 15.00 EUR to make) with a
    spare shade add-on, a stretch goal and a story, published."""
    campaign = make_campaign(
        publish=False,
        story="## Why\nA lamp that lasts. <script>alert('x')</script>",
        risks="Shades may arrive **late**.",
        faq=[{"question": "Does it dim?", "answer": "Yes, *smoothly*."}],
    )
    campaign.addon = services.addon_add(  # type: ignore[attr-defined]
        actor=user, campaign=campaign, title="Spare shade", price=800, unit_cost=300
    )
    services.stretch_goal_add(actor=user, campaign=campaign, threshold=150_000, title="Walnut base")
    tier = campaign.tier  # type: ignore[attr-defined]
    open_tier = campaign.open_tier  # type: ignore[attr-defined]
    Tier.objects.filter(pk=tier.pk).update(delivery_month=date(2027, 3, 1))
    services.campaign_publish(actor=user, campaign=campaign)
    campaign.refresh_from_db()
    campaign.tier, campaign.open_tier = Tier.objects.get(pk=tier.pk), open_tier  # type: ignore[attr-defined]
    return campaign


@pytest.fixture
def backer(other_user: User) -> Client:
    return signed_in(other_user)


def pledge_url(campaign: Campaign) -> str:
    return reverse("funding:pledge_new", kwargs={"slug": campaign.slug})


def review(client: Client, url: str, **fields: Any) -> Any:
    data = {"card": sandbox.CARD_OK, "extra": "", **fields}
    return client.post(url, {**data, "action": "review"})


def request_key(response: Any) -> str:
    found = re.search(r'name="request_key" value="([0-9a-f]{32})"', response.content.decode())
    assert found, "the review carries no Idempotency-Key"
    return found.group(1)


def confirm(client: Client, url: str, key: str, **fields: Any) -> Any:
    data = {"card": sandbox.CARD_OK, "extra": "", **fields}
    return client.post(url, {**data, "action": "confirm", "request_key": key})


def pledge_through_pages(client: Client, campaign: Campaign, **fields: Any) -> Any:
    url = pledge_url(campaign)
    return confirm(client, url, request_key(review(client, url, **fields)), **fields)


# --- public pages -------------------------------------------------------------------------------------------------


def test_the_list_shows_live_and_recent_campaigns_with_progress(
    shop: Campaign, make_campaign: Callable[..., Campaign], other_user: User
) -> None:
    pledges.pledge_create(backer=other_user, campaign=shop, tier=shop.tier, payment_method=sandbox.CARD_OK)  # type: ignore[attr-defined]
    make_campaign("a-draft", publish=False)
    ended = make_campaign("ended-run")
    long_ago = make_campaign("long-ago")
    now = timezone.now()
    Campaign.objects.filter(pk=ended.pk).update(
        status=CampaignStatus.SUCCEEDED, starts_at=now - timedelta(days=20), deadline=now - timedelta(days=2),
        decided_at=now,
    )  # fmt: skip
    Campaign.objects.filter(pk=long_ago.pk).update(
        status=CampaignStatus.FAILED, starts_at=now - timedelta(days=90), deadline=now - timedelta(days=60),
        decided_at=now,
    )  # fmt: skip

    response = Client().get("/campaigns/")

    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r'<a href="/campaigns/([^/]+)/">', html) == ["desk-lamp-run", "ended-run"]
    live, _, recent = text(response).partition("Recently ended")
    assert "First run of the desk lamp by Ada Okafor · All or nothing" in live
    assert re.search(r"40\.00 EUR of 1000\.00 EUR \(4 %\) · 1 backer · 4 weeks, \d days? left", live)
    assert '<progress class="campaign-card__progress" max="100" value="4"' in html
    assert "Succeeded" in recent
    assert "a-draft" not in html
    assert "long-ago" not in html


def test_the_list_costs_the_same_queries_for_more_campaigns(
    shop: Campaign, make_campaign: Callable[..., Campaign]
) -> None:
    client = Client()
    with CaptureQueriesContext(connection) as one:
        client.get("/campaigns/")
    make_campaign("second-run")
    make_campaign("third-run")
    with CaptureQueriesContext(connection) as three:
        response = client.get("/campaigns/")
    assert response.content.decode().count('class="card campaign-card"') == 3
    assert len(three) == len(one)


def test_the_campaign_page_shows_story_terms_progress_and_rewards(
    shop: Campaign, other_user: User, design_version: DesignVersion
) -> None:
    pledges.pledge_create(backer=other_user, campaign=shop, tier=shop.tier, extra=1_000,  # type: ignore[attr-defined]
                          payment_method=sandbox.CARD_OK)  # fmt: skip

    response = Client().get(f"/campaigns/{shop.slug}/")

    assert response.status_code == 200
    html, words = response.content.decode(), text(response)
    assert "<h4>Why</h4>" in html
    assert "<script>" not in html  # sanitised Markdown
    assert "Shades may arrive <strong>late</strong>." in html
    assert "<dt>Does it dim?</dt>" in html
    assert "<em>smoothly</em>" in html
    assert (
        f'<a href="/designs/desk-lamp/">Desk lamp</a> — <a href="/designs/desk-lamp/v{design_version.number}/">' in html
    )
    assert "50.00 EUR pledged of a 1000.00 EUR goal (5 %) · 1 backer" in words
    assert 'role="progressbar"' in html
    assert 'aria-valuetext="50.00 EUR pledged: 5 % of the 1000.00 EUR goal"' in html
    # The bar reaches the stretch goal (1500.00 EUR): the goal sits at two thirds of it.
    assert 'class="progress__marker progress__marker--goal" style="left: 66%"' in html
    assert 'class="progress__marker" style="left: 100%" title="Walnut base: 1500.00 EUR"' in html
    assert "Goal at 1000.00 EUR — not reached yet" in words
    assert "Stretch goal: Walnut base at 1500.00 EUR — not reached yet" in words
    assert re.search(r"\b4 weeks, \d days? left · ends", words)
    assert "Early bird 40.00 EUR Declared unit cost 15.00 EUR Places 2 of 3 left Estimated delivery March 2027" in words
    assert "Includes: 1 \N{MULTIPLICATION SIGN} Desk lamp, version 1" in words
    assert "Lamp 50.00 EUR Declared unit cost 15.00 EUR Places Unlimited" in words
    assert "Spare shade 8.00 EUR 3.00 EUR" in words
    assert "Ada Okafor: 100.0 %" in words
    assert f'href="/ledger/campaign/{shop.pk}/"' in html
    assert f'href="/campaigns/{shop.slug}/pledge/?tier={shop.tier.pk}"' in html  # type: ignore[attr-defined]


def test_a_sold_out_tier_says_so_and_offers_no_pledge_link(shop: Campaign, make_user: Callable[..., User]) -> None:
    for n in range(3):
        pledges.pledge_create(backer=make_user(f"early{n}"), campaign=shop, tier=shop.tier,  # type: ignore[attr-defined]
                              payment_method=sandbox.CARD_OK)  # fmt: skip
    response = Client().get(f"/campaigns/{shop.slug}/")
    assert "Early bird 40.00 EUR Declared unit cost 15.00 EUR Places Sold out (3 taken)" in text(response)
    assert f"?tier={shop.tier.pk}" not in response.content.decode()  # type: ignore[attr-defined]


def test_a_draft_is_seen_by_its_makers_only(
    make_campaign: Callable[..., Campaign], user: User, other_user: User
) -> None:
    draft = make_campaign(publish=False)
    assert Client().get(f"/campaigns/{draft.slug}/").status_code == 404
    assert signed_in(other_user).get(f"/campaigns/{draft.slug}/").status_code == 404
    response = signed_in(user).get(f"/campaigns/{draft.slug}/")
    assert response.status_code == 200
    assert "This is a draft: only its owners and maintainers see it until it is published." in text(response)
    assert "/ledger/campaign/" not in response.content.decode()
    assert Client().get("/campaigns/no-such-run/").status_code == 404


def test_the_navigation_offers_campaigns_and_my_pledges(user: User) -> None:
    anonymous = Client().get("/campaigns/").content.decode()
    assert '<a href="/campaigns/" aria-current="page">Campaigns</a>' in anonymous
    assert "My pledges" not in anonymous
    mine = signed_in(user).get("/pledges/").content.decode()
    assert '<a href="/pledges/" aria-current="page">My pledges</a>' in mine


# --- pledging -------------------------------------------------------------------------------------------------------


def test_pledging_needs_an_account(shop: Campaign) -> None:
    response = Client().get(pledge_url(shop))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_form_offers_tiers_no_reward_add_ons_and_the_test_cards(shop: Campaign, backer: Client) -> None:
    response = backer.get(pledge_url(shop) + f"?tier={shop.open_tier.pk}")  # type: ignore[attr-defined]
    assert response.status_code == 200
    html, words = response.content.decode(), text(response)
    assert "Early bird — 40.00 EUR (3 of 3 left)" in words
    assert "Lamp — 50.00 EUR" in words
    assert "No reward: I just want to back it" in words
    assert re.search(rf'<input type="radio" name="tier" value="{shop.open_tier.pk}"[^>]* checked', html)  # type: ignore[attr-defined]
    assert f'name="addon_{shop.addon.pk}"' in html  # type: ignore[attr-defined]
    assert "Spare shade (8.00 EUR each)" in words
    assert '<label for="id_extra">Extra amount (EUR):</label>' in html
    assert f'<option value="{sandbox.CARD_OK}" selected>' in html


def test_the_review_shows_the_total_and_fee_and_records_nothing(shop: Campaign, backer: Client) -> None:
    before = state()

    response = review(backer, pledge_url(shop), tier=str(shop.tier.pk), extra="10.50",  # type: ignore[attr-defined]
                      **{f"addon_{shop.addon.pk}": "2"})  # type: ignore[attr-defined]  # fmt: skip

    assert response.status_code == 200
    words = text(response)
    assert "Reward Early bird 40.00 EUR" in words
    assert "Add-on 2 \N{MULTIPLICATION SIGN} Spare shade 16.00 EUR" in words
    assert "Extra 10.50 EUR" in words
    # 66.50 EUR pledged; declared cost 15.00 + 2 x 3.00 = 21.00; fee 10 % of the 45.50 margin = 4.55 EUR.
    assert "Total 66.50 EUR" in words
    assert "Platform fee 10 % of the margin above the declared unit cost of 21.00 EUR 4.55 EUR" in words
    assert "To the campaign 61.95 EUR" in words
    assert state() == before


def test_a_confirmed_pledge_is_authorized_with_the_fee_shown(shop: Campaign, backer: Client, other_user: User) -> None:
    response = pledge_through_pages(backer, shop, tier=str(shop.tier.pk), extra="10.50",  # type: ignore[attr-defined]
                                    **{f"addon_{shop.addon.pk}": "2"})  # type: ignore[attr-defined]  # fmt: skip

    pledge = Pledge.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/pledges/{pledge.pk}/thanks/"
    assert (pledge.backer, pledge.tier, pledge.status) == (other_user, shop.tier, PledgeStatus.AUTHORIZED)  # type: ignore[attr-defined]
    assert (pledge.reward_amount, pledge.extra_amount, pledge.amount, pledge.unit_cost) == (5_600, 1_050, 6_650, 2_100)
    assert list(pledge.addons.values_list("addon_id", "quantity")) == [(shop.addon.pk, 2)]  # type: ignore[attr-defined]
    assert pledge.payment is not None
    assert (pledge.payment.status, pledge.payment.fee_quoted) == (PaymentStatus.AUTHORIZED, 455)
    thanks = text(backer.get(response["Location"]))
    assert "Your pledge of 66.50 EUR is made: the amount is held on your card" in thanks
    assert "Platform fee 4.55 EUR of it" in thanks


def test_confirming_twice_makes_one_pledge(shop: Campaign, backer: Client) -> None:
    url = pledge_url(shop)
    key = request_key(review(backer, url, tier=str(shop.open_tier.pk)))  # type: ignore[attr-defined]
    first = confirm(backer, url, key, tier=str(shop.open_tier.pk))  # type: ignore[attr-defined]
    second = confirm(backer, url, key, tier=str(shop.open_tier.pk))  # type: ignore[attr-defined]
    assert first["Location"] == second["Location"]
    assert (Pledge.objects.count(), Payment.objects.count()) == (1, 1)


def test_each_review_carries_a_new_key(shop: Campaign, backer: Client) -> None:
    url = pledge_url(shop)
    assert request_key(review(backer, url, tier="none", extra="5")) != request_key(
        review(backer, url, tier="none", extra="5")
    )


def test_a_pledge_without_a_reward(shop: Campaign, backer: Client) -> None:
    review_page = review(backer, pledge_url(shop), tier="none", extra="25")
    assert "Reward No reward 0.00 EUR" in text(review_page)
    assert "Platform fee 10 % of the margin above the declared unit cost of 0.00 EUR 2.50 EUR" in text(review_page)
    pledge_through_pages(backer, shop, tier="none", extra="25")
    pledge = Pledge.objects.get()
    assert (pledge.tier, pledge.amount, pledge.status) == (None, 2_500, PledgeStatus.AUTHORIZED)


def test_a_sold_out_tier_is_refused_next_to_the_reward(
    shop: Campaign, backer: Client, make_user: Callable[..., User]
) -> None:
    url = pledge_url(shop)
    key = request_key(review(backer, url, tier=str(shop.tier.pk)))  # type: ignore[attr-defined]
    for n in range(3):  # the last places go while the backer reads the review
        pledges.pledge_create(backer=make_user(f"fast{n}"), campaign=shop, tier=shop.tier,  # type: ignore[attr-defined]
                              payment_method=sandbox.CARD_OK)  # fmt: skip
    before = state()

    response = confirm(backer, url, key, tier=str(shop.tier.pk))  # type: ignore[attr-defined]

    assert response.status_code == 409
    assert response.context["form"].errors["tier"] == ["“Early bird” is sold out."]
    assert (
        '<ul class="errorlist" id="id_tier_error"><li>“Early bird” is sold out.</li></ul>' in response.content.decode()
    )
    assert state() == before


@pytest.mark.parametrize(
    ("card", "reason"),
    [
        (sandbox.CARD_DECLINED, "the card was declined"),
        (sandbox.CARD_INSUFFICIENT_FUNDS, "the card has not enough money"),
    ],
)
def test_a_refused_card_is_said_next_to_the_card_and_frees_the_place(
    shop: Campaign, backer: Client, card: str, reason: str
) -> None:
    url = pledge_url(shop)
    tier = str(shop.tier.pk)  # type: ignore[attr-defined]
    key = request_key(review(backer, url, tier=tier, card=card))

    response = confirm(backer, url, key, tier=tier, card=card)

    assert response.status_code == 402
    message = f"The pledge was not made: {reason}. Nothing is held on your card; choose another card and try again."
    assert_error_next_to(response, "card", message)
    declined = Pledge.objects.get()  # the service's own record of the attempt
    assert declined.status == PledgeStatus.DECLINED
    assert state() == (1, 1, 0, 0)
    # The same key again (a resubmitted page) is the same refusal, not a pledge.
    again = confirm(backer, url, key, tier=tier, card=sandbox.CARD_OK)
    assert again.status_code == 402
    assert state() == (1, 1, 0, 0)
    # A new review with another card makes the pledge.
    assert pledge_through_pages(backer, shop, tier=tier).status_code == 302
    assert Pledge.objects.filter(status=PledgeStatus.AUTHORIZED).count() == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("12,50", "“12,50” is not an amount; write it like 0.05 (digits, a dot for decimals)."),
        ("-5", "“-5” is not an amount; write it like 0.05 (digits, a dot for decimals)."),
        ("1.005", "EUR amounts have 2 decimal places; “1.005” has more."),
        ("1e3", "“1e3” is not an amount; write it like 0.05 (digits, a dot for decimals)."),
        ("9999999999999", "The amount “9999999999999” is too large."),
    ],
)
def test_a_bad_extra_amount_is_refused_next_to_it(shop: Campaign, backer: Client, extra: str, message: str) -> None:
    before = state()
    for action in ("review", "confirm"):
        response = backer.post(pledge_url(shop), {"tier": "none", "extra": extra, "card": sandbox.CARD_OK,
                                                  "action": action, "request_key": "a" * 32})  # fmt: skip
        assert response.status_code == 400
        assert_error_next_to(response, "extra", message)
    assert state() == before


def test_nothing_at_all_is_refused_next_to_the_amount(shop: Campaign, backer: Client) -> None:
    before = state()
    response = review(backer, pledge_url(shop), tier="none", extra="0")
    assert response.status_code == 422
    assert_error_next_to(response, "extra", "Pledge more than nothing: choose a tier or give an amount.")
    assert state() == before


def test_add_ons_without_a_reward_are_refused_next_to_them(shop: Campaign, backer: Client) -> None:
    name = f"addon_{shop.addon.pk}"  # type: ignore[attr-defined]
    before = state()
    response = review(backer, pledge_url(shop), tier="none", extra="5", **{name: "1"})
    assert response.status_code == 400
    assert_error_next_to(
        response, name, "Add-ons come on top of a reward: choose a reward tier, or set the add-ons to 0."
    )
    assert state() == before


def test_a_missing_reward_choice_and_an_unknown_card_are_refused(shop: Campaign, backer: Client) -> None:
    before = state()
    response = backer.post(pledge_url(shop), {"extra": "5", "card": "my-own-card", "action": "review"})
    assert response.status_code == 400
    assert response.context["form"].errors["tier"] == ["Choose a reward, or “No reward”."]
    assert_error_next_to(response, "card", "Select a valid choice. my-own-card is not one of the available choices.")
    assert state() == before


def test_a_closed_campaign_takes_no_pledge(shop: Campaign, backer: Client) -> None:
    url = pledge_url(shop)
    key = request_key(review(backer, url, tier="none", extra="5"))
    Campaign.objects.filter(pk=shop.pk).update(
        starts_at=timezone.now() - timedelta(days=10), deadline=timezone.now() - timedelta(minutes=1)
    )
    before = state()

    page = backer.get(url)
    response = confirm(backer, url, key, tier="none", extra="5")

    assert page.status_code == 200
    assert "This campaign does not take pledges now." in text(page)
    assert 'name="action"' not in page.content.decode()
    assert response.status_code == 409
    assert "This campaign does not take pledges now." in text(response)
    assert state() == before


def test_a_maker_cannot_back_their_own_campaign(shop: Campaign, user: User) -> None:
    client = signed_in(user)
    before = state()
    response = pledge_through_pages(client, shop, tier="none", extra="5")
    assert response.status_code == 403
    assert "You cannot back your own campaign." in text(response)
    assert response.context["form"].non_field_errors() == ["You cannot back your own campaign."]
    assert state() == before


class DownGateway(sandbox.SandboxGateway):
    """The sandbox with its network cut: every authorization attempt fails to reach it."""

    def authorize(self, amount: Any, payment_method: str, reference: str) -> Any:
        raise GatewayUnavailable("connection refused")


def test_a_gateway_that_does_not_answer_can_be_retried_without_paying_twice(
    shop: Campaign, backer: Client, settings: Any
) -> None:
    url = pledge_url(shop)
    tier = str(shop.open_tier.pk)  # type: ignore[attr-defined]
    key = request_key(review(backer, url, tier=tier))
    settings.CROWDMAKER_PAYMENT_GATEWAY = f"{__name__}.DownGateway"

    response = confirm(backer, url, key, tier=tier)

    assert response.status_code == 503
    assert "The payment service did not answer. Nothing was charged; confirm again to retry" in text(response)
    assert request_key(response) == key  # the retry resumes the same pledge
    assert Pledge.objects.get().status == PledgeStatus.PENDING
    settings.CROWDMAKER_PAYMENT_GATEWAY = "crowdmaker.ledger.gateways.sandbox.SandboxGateway"
    retried = confirm(backer, url, key, tier=tier)
    assert retried.status_code == 302
    assert (Pledge.objects.get().status, Payment.objects.count()) == (PledgeStatus.AUTHORIZED, 1)


def test_the_live_summary_shows_the_fee_for_htmx(shop: Campaign, backer: Client) -> None:
    response = backer.post(
        pledge_url(shop), {"tier": str(shop.open_tier.pk), "extra": "", "card": sandbox.CARD_OK, "action": "quote"},  # type: ignore[attr-defined]
        headers={"HX-Request": "true"},
    )  # fmt: skip
    assert response.status_code == 200
    assert text(response).startswith(
        "Total: 50.00 EUR — of which the platform's fee is 3.50 EUR (10 % of the margin above the declared unit "
        "cost of 15.00 EUR); 46.50 EUR goes to the campaign."
    )
    incomplete = backer.post(pledge_url(shop), {"extra": "abc", "action": "quote"}, headers={"HX-Request": "true"})
    assert incomplete.status_code == 200
    assert "Choose a reward" in text(incomplete)
    assert Pledge.objects.count() == 0


# --- my pledges: list, detail, change, cancel ---------------------------------------------------------------------------


@pytest.fixture
def pledge(shop: Campaign, other_user: User) -> Pledge:
    return pledges.pledge_create(backer=other_user, campaign=shop, tier=shop.tier,  # type: ignore[attr-defined]
                                 payment_method=sandbox.CARD_OK)  # fmt: skip


def test_my_pledges_lists_mine_with_their_status(
    pledge: Pledge, shop: Campaign, backer: Client, make_user: Callable[..., User]
) -> None:
    pledges.pledge_create(backer=make_user("someone"), campaign=shop, tier=None, extra=700,
                          payment_method=sandbox.CARD_OK)  # fmt: skip
    declined = pledges.pledge_quote(campaign=shop, tier=None, extra=300)
    assert declined.amount == 300
    with pytest.raises(pledges.payments.PaymentDeclined):
        pledges.pledge_create(backer=pledge.backer, campaign=shop, tier=None, extra=300,
                              payment_method=sandbox.CARD_DECLINED)  # fmt: skip

    response = backer.get("/pledges/")

    assert response.status_code == 200
    rows = re.findall(r"<tr>\s*<td><a href=\"/pledges/(\d+)/\">", response.content.decode())
    mine = list(Pledge.objects.filter(backer=pledge.backer).order_by("-created_at", "-id").values_list("pk", flat=True))
    assert [int(pk) for pk in rows] == mine
    words = text(response)
    assert f"#{pledge.pk} First run of the desk lamp Early bird 40.00 EUR 2.50 EUR Authorized" in words
    assert "No reward 3.00 EUR 0.30 EUR Declined" in words
    assert "7.00 EUR" not in words  # someone else's


def test_someone_elses_pledge_is_not_found(pledge: Pledge, user: User, make_user: Callable[..., User]) -> None:
    stranger = signed_in(make_user("stranger"))
    before = state()
    for path in (f"/pledges/{pledge.pk}/", f"/pledges/{pledge.pk}/cancel/", f"/pledges/{pledge.pk}/thanks/"):
        assert stranger.get(path).status_code == 404
    assert stranger.post(f"/pledges/{pledge.pk}/cancel/").status_code == 404
    assert stranger.post(f"/pledges/{pledge.pk}/", {"tier": "none", "extra": "5", "card": sandbox.CARD_OK,
                                                   "action": "review"}).status_code == 404  # fmt: skip
    assert state() == before


def test_the_pledge_page_shows_it_and_offers_a_change(pledge: Pledge, backer: Client) -> None:
    response = backer.get(f"/pledges/{pledge.pk}/")
    assert response.status_code == 200
    words = text(response)
    assert "Status Authorized Reward Early bird (40.00 EUR) Total 40.00 EUR Platform fee 2.50 EUR of it" in words
    assert "Card sandbox-card-ok" in words
    html = response.content.decode()
    assert re.search(rf'<input type="radio" name="tier" value="{pledge.tier_id}"[^>]* checked', html)
    assert f'href="/pledges/{pledge.pk}/cancel/"' in html


def test_changing_the_tier_reviews_then_replaces_the_pledge(pledge: Pledge, shop: Campaign, backer: Client) -> None:
    url = f"/pledges/{pledge.pk}/"
    lamp = str(shop.open_tier.pk)  # type: ignore[attr-defined]
    review_page = review(backer, url, tier=lamp, extra="5")
    assert review_page.status_code == 200
    assert "Total 55.00 EUR" in text(review_page)
    assert "Platform fee 10 % of the margin above the declared unit cost of 15.00 EUR 4.00 EUR" in text(review_page)
    assert Pledge.objects.get().status == PledgeStatus.AUTHORIZED  # nothing changed yet

    response = confirm(backer, url, request_key(review_page), tier=lamp, extra="5")

    new = Pledge.objects.exclude(pk=pledge.pk).get()
    assert response.status_code == 302
    assert response["Location"] == f"/pledges/{new.pk}/"
    pledge.refresh_from_db()
    assert (pledge.status, new.status, new.replaces_id) == (PledgeStatus.REPLACED, PledgeStatus.AUTHORIZED, pledge.pk)
    assert (new.tier_id, new.amount) == (shop.open_tier.pk, 5_500)  # type: ignore[attr-defined]
    assert TierSlot.objects.filter(pledge__isnull=False).count() == 0  # the early bird place is free again
    assert pledge.payment is not None
    assert pledge.payment.status == PaymentStatus.VOIDED
    old_page = text(backer.get(url))
    assert f"You changed this pledge: it is replaced by pledge #{new.pk}." in old_page
    assert "Change your pledge" not in old_page


def test_a_change_to_a_sold_out_tier_keeps_the_pledge(
    pledge: Pledge, shop: Campaign, make_user: Callable[..., User], user: User
) -> None:
    # A second backer on the open tier wants the early bird, whose other two places go first.
    second = make_user("second")
    mine = pledges.pledge_create(backer=second, campaign=shop, tier=shop.open_tier, payment_method=sandbox.CARD_OK)  # type: ignore[attr-defined]
    client = signed_in(second)
    url = f"/pledges/{mine.pk}/"
    key = request_key(review(client, url, tier=str(shop.tier.pk)))  # type: ignore[attr-defined]
    for n in range(2):
        pledges.pledge_create(backer=make_user(f"quick{n}"), campaign=shop, tier=shop.tier,  # type: ignore[attr-defined]
                              payment_method=sandbox.CARD_OK)  # fmt: skip
    before = state()

    response = confirm(client, url, key, tier=str(shop.tier.pk))  # type: ignore[attr-defined]

    assert response.status_code == 409
    assert response.context["form"].errors["tier"] == ["“Early bird” is sold out."]
    assert state() == before
    mine.refresh_from_db()
    assert mine.status == PledgeStatus.AUTHORIZED


def test_cancelling_asks_first_then_voids_and_frees_the_place(pledge: Pledge, backer: Client) -> None:
    url = f"/pledges/{pledge.pk}/cancel/"
    page = backer.get(url)
    assert page.status_code == 200
    assert (
        "Cancelling releases the hold of 40.00 EUR on your card; nothing is charged, and your place in “Early bird”"
        in text(page)
    )
    assert Pledge.objects.get().status == PledgeStatus.AUTHORIZED

    response = backer.post(url)

    assert response.status_code == 302
    assert response["Location"] == f"/pledges/{pledge.pk}/"
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.CANCELLED
    assert Payment.objects.get().status == PaymentStatus.VOIDED
    assert TierSlot.objects.filter(pledge__isnull=False).count() == 0
    detail = text(backer.get(f"/pledges/{pledge.pk}/"))
    assert "Your pledge is cancelled: nothing will be taken from your card." in detail
    assert "Status Cancelled" in detail
    assert "Change your pledge" not in detail


def test_a_cancelled_pledge_cannot_be_cancelled_or_changed_again(pledge: Pledge, backer: Client) -> None:
    pledges.pledge_cancel(backer=pledge.backer, pledge_id=pledge.pk)
    before = state()
    again = backer.post(f"/pledges/{pledge.pk}/cancel/")
    assert again.status_code == 409
    assert "This pledge is cancelled; it cannot be cancelled." in text(again)
    change = review(backer, f"/pledges/{pledge.pk}/", tier="none", extra="5")
    assert change.status_code == 409
    assert "This pledge can no longer be changed." in text(change)
    assert state() == before


def test_after_the_deadline_a_pledge_is_neither_cancelled_nor_changed(
    pledge: Pledge, shop: Campaign, backer: Client
) -> None:
    Campaign.objects.filter(pk=shop.pk).update(
        starts_at=timezone.now() - timedelta(days=10), deadline=timezone.now() - timedelta(minutes=1)
    )
    before = state()
    response = backer.post(f"/pledges/{pledge.pk}/cancel/")
    assert response.status_code == 409
    assert "Pledges can be cancelled until the deadline." in text(response)
    assert state() == before
    assert Pledge.objects.get().status == PledgeStatus.AUTHORIZED


# --- the maker's pages ------------------------------------------------------------------------------------------------


def campaign_fields(version: DesignVersion, **changes: Any) -> dict[str, Any]:
    start = timezone.now() + timedelta(days=1)
    fields = {
        "design_versions": [str(version.pk)],
        "slug": "lamp-batch",
        "title": "A batch of desk lamps",
        "summary": "Fifty lamps.",
        "story": "We make **fifty**.",
        "risks": "Shades may be late.",
        "faq": "Does it dim?\nYes.\n\nWhich bulb?\nAn LED board,\nincluded.",
        "currency": "EUR",
        "goal": "8000.50",
        "funding_model": "all-or-nothing",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "deadline": (start + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
        "owner": "",
    }
    fields.update(changes)
    return fields


def test_a_maker_starts_a_draft_from_a_version_of_theirs(
    user: User, other_user: User, design_version: DesignVersion
) -> None:
    commons.design_create(actor=other_user, slug="not-mine", title="Not mine", licence="CC-BY-4.0",
                          manifest=manifest("Not mine"))  # fmt: skip
    client = signed_in(user)
    form = client.get("/campaigns/new/")
    assert form.status_code == 200
    assert "Desk lamp, version 1" in text(form)
    assert "Not mine" not in text(form)

    response = client.post("/campaigns/new/", campaign_fields(design_version))

    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == "/campaigns/lamp-batch/edit/"
    assert (campaign.status, campaign.goal, campaign.currency, campaign.owner_user) == (
        CampaignStatus.DRAFT, 800_050, "EUR", user,
    )  # fmt: skip
    assert list(campaign.designs.values_list("design_version", flat=True)) == [design_version.pk]
    assert campaign.faq == [
        {"question": "Does it dim?", "answer": "Yes."},
        {"question": "Which bulb?", "answer": "An LED board,\nincluded."},
    ]
    assert campaign.deadline - campaign.starts_at == timedelta(days=30)


def test_a_team_runs_a_campaign_when_the_maker_chooses_it(user: User, design_version: DesignVersion) -> None:
    team = people.team_create(actor=user, slug="lamp-lab", name="Lamp Lab")
    response = signed_in(user).post("/campaigns/new/", campaign_fields(design_version, owner="lamp-lab"))
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert (campaign.owner_team, campaign.owner_user) == (team, None)


@pytest.mark.parametrize(
    ("changes", "field", "message", "status"),
    [
        ({"goal": "8,000"}, "goal", "“8,000” is not an amount; write it like 0.05 (digits, a dot for decimals).", 400),
        ({"goal": "0"}, "goal", "The amount must be from 1 to 1,000,000,000,000 minor units.", 422),
        ({"slug": "Bad Slug!"}, "slug", None, 422),
        ({"title": ""}, "title", "This field is required.", 400),
        ({"deadline_days": 120}, "deadline", "A campaign runs at most 90 days.", 422),
        ({"faq": "A question without an answer"}, "faq",
         "“A question without an answer” has no answer: write the answer on the lines under the question.", 400),
        ({"starts_at": "tomorrow"}, "starts_at", "Enter a valid date/time.", 400),
    ],
)  # fmt: skip
def test_a_bad_campaign_is_refused_next_to_the_field(
    user: User, design_version: DesignVersion, changes: dict[str, Any], field: str, message: str | None, status: int
) -> None:
    if "deadline_days" in changes:
        start = timezone.now() + timedelta(days=1)
        changes = {"deadline": (start + timedelta(days=changes["deadline_days"])).strftime("%Y-%m-%dT%H:%M")}
    response = signed_in(user).post("/campaigns/new/", campaign_fields(design_version, **changes))
    assert response.status_code == status
    errors = response.context["form"].errors
    assert list(errors) == [field]
    if message is not None:
        assert errors[field] == [message]
        assert f"<li>{escape(message)}</li>" in response.content.decode()
    assert campaign_state() == (0, 0, 0, 0, 0)


def test_a_taken_address_is_refused_next_to_it(shop: Campaign, user: User, design_version: DesignVersion) -> None:
    before = campaign_state()
    response = signed_in(user).post("/campaigns/new/", campaign_fields(design_version, slug=shop.slug))
    assert response.status_code == 409
    assert_error_next_to(response, "slug", "A campaign with this address exists already.")
    assert campaign_state() == before


def test_someone_elses_design_version_cannot_be_chosen(user: User, other_user: User) -> None:
    theirs = commons.design_create(actor=other_user, slug="theirs", title="Theirs", licence="CC-BY-4.0",
                                   manifest=manifest("Theirs")).versions.get()  # fmt: skip
    response = signed_in(user).post("/campaigns/new/", campaign_fields(theirs))
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["design_versions"]
    assert Campaign.objects.count() == 0
    no_designs = signed_in(user).get("/campaigns/new/")
    assert "You have no design to fund yet" in text(no_designs)


def test_the_draft_page_adds_a_tier_an_add_on_and_a_stretch_goal(
    make_campaign: Callable[..., Campaign], user: User, design_version: DesignVersion
) -> None:
    draft = make_campaign(publish=False)
    client = signed_in(user)
    url = f"/campaigns/{draft.slug}/edit/"
    page = client.get(url)
    assert page.status_code == 200
    assert "Add a reward" in text(page)
    assert "Publish the campaign" in text(page)

    tier = client.post(url, {
        "action": "tier", "tier-title": "Two lamps", "tier-price": "75", "tier-unit_cost": "30.00", "tier-limit": "20",
        "tier-delivery_month": "2027-05", f"tier-item_{design_version.pk}": "2",
    })  # fmt: skip
    addon = client.post(url, {"action": "addon", "addon-title": "Spare shade", "addon-price": "8.00",
                              "addon-unit_cost": "3"})  # fmt: skip
    stretch = client.post(url, {"action": "stretch", "stretch-threshold": "2000", "stretch-title": "Walnut base"})

    assert (tier.status_code, addon.status_code, stretch.status_code) == (302, 302, 302)
    created = Tier.objects.get(campaign=draft, title="Two lamps")
    assert (created.price, created.unit_cost, created.limit, created.delivery_month) == (
        7_500, 3_000, 20, date(2027, 5, 1),
    )  # fmt: skip
    assert list(TierItem.objects.filter(tier=created).values_list("design_version", "quantity")) == [
        (design_version.pk, 2)
    ]
    assert TierSlot.objects.filter(tier=created).count() == 20
    assert list(AddOn.objects.filter(campaign=draft).values_list("title", "price", "unit_cost")) == [
        ("Spare shade", 800, 300)
    ]
    assert list(StretchGoal.objects.filter(campaign=draft).values_list("threshold", "title")) == [
        (200_000, "Walnut base")
    ]
    after = text(client.get(url))
    assert "The stretch goal “Walnut base” is added." in after
    assert "Two lamps 75.00 EUR Declared unit cost 30.00 EUR Places 20 of 20 left Estimated delivery May 2027" in after


@pytest.mark.parametrize(
    ("data", "prefix", "field", "message", "status"),
    [
        ({"action": "tier", "tier-title": "Lamp", "tier-price": "abc"}, "tier", "price",
         "“abc” is not an amount; write it like 0.05 (digits, a dot for decimals).", 400),
        ({"action": "tier", "tier-title": "Lamp", "tier-price": "0"}, "tier", "price",
         "The amount must be from 1 to 1,000,000,000,000 minor units.", 422),
        ({"action": "tier", "tier-title": "Lamp", "tier-price": "10", "tier-limit": "0"}, "tier", "limit",
         "Ensure this value is greater than or equal to 1.", 400),
        ({"action": "tier", "tier-title": "Lamp", "tier-price": "10", "tier-delivery_month": "May"}, "tier",
         "delivery_month", "Enter a valid date.", 400),
        ({"action": "tier", "tier-title": "Lamp", "tier-price": "10", "tier-available_from": "2027-01-02T10:00",
          "tier-available_until": "2027-01-01T10:00"}, "tier", "available_until",
         "The tier must be available for some time.", 422),
        ({"action": "addon", "addon-title": "", "addon-price": "8"}, "addon", "title", "This field is required.", 400),
        ({"action": "stretch", "stretch-threshold": "500", "stretch-title": "Too low"}, "stretch", "threshold",
         "A stretch goal lies beyond the goal.", 422),
    ],
)  # fmt: skip
def test_a_bad_reward_add_on_or_stretch_goal_is_refused_next_to_the_field(
    make_campaign: Callable[..., Campaign], user: User, data: dict[str, str], prefix: str, field: str, message: str,
    status: int,
) -> None:  # fmt: skip
    draft = make_campaign(publish=False)
    before = campaign_state()
    response = signed_in(user).post(f"/campaigns/{draft.slug}/edit/", data)
    assert response.status_code == status
    assert_error_next_to(response, field, message, prefix=prefix)
    assert campaign_state() == before


def test_only_the_campaigns_editors_may_edit_it(
    make_campaign: Callable[..., Campaign], other_user: User, make_user: Callable[..., User], user: User
) -> None:
    draft = make_campaign(publish=False)
    before = campaign_state()
    url = f"/campaigns/{draft.slug}/edit/"
    assert Client().get(url).status_code == 302  # to the login page
    # A stranger does not learn that a draft exists; a team member who is not an editor sees it refused.
    assert signed_in(other_user).get(url).status_code == 404
    team = people.team_create(actor=user, slug="lamp-lab", name="Lamp Lab")
    member = make_user("member")
    people.team_member_add(team=team, user=member, role=Role.MEMBER)
    Campaign.objects.filter(pk=draft.pk).update(owner_team=team, owner_user=None, status=CampaignStatus.LIVE,
                                                published_at=timezone.now())  # fmt: skip
    assert signed_in(member).get(url).status_code == 403
    assert signed_in(member).post(url, {"action": "addon", "addon-title": "X", "addon-price": "1"}).status_code == 403
    assert campaign_state() == before


def test_publishing_opens_the_campaign_and_fixes_its_terms(make_campaign: Callable[..., Campaign], user: User) -> None:
    draft = make_campaign(publish=False)
    client = signed_in(user)
    url = f"/campaigns/{draft.slug}/edit/"

    response = client.post(url, {"action": "publish"})

    assert response.status_code == 302
    assert response["Location"] == f"/campaigns/{draft.slug}/"
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.LIVE
    page = client.get(url)
    assert "these terms are fixed, backers pledged against them" in text(page)
    assert "Add a reward" not in text(page)
    before = campaign_state()
    refused = client.post(url, {"action": "addon", "addon-title": "Late add-on", "addon-price": "1"})
    assert refused.status_code == 409
    assert "A published campaign's terms are fixed; backers pledged against them." in text(refused)
    assert campaign_state() == before


def test_a_deadline_too_close_to_publish_is_said_by_the_publish_button(
    make_campaign: Callable[..., Campaign], user: User
) -> None:
    now = timezone.now()
    draft = make_campaign(publish=False, starts_at=now - timedelta(days=2), deadline=now + timedelta(hours=3))
    response = signed_in(user).post(f"/campaigns/{draft.slug}/edit/", {"action": "publish"})
    assert response.status_code == 422
    assert "The deadline is too close to publish; move it later." in text(response)
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.DRAFT


def test_my_campaigns_are_listed_for_me_with_a_way_to_edit(
    make_campaign: Callable[..., Campaign], user: User, other_user: User
) -> None:
    draft = make_campaign(publish=False)
    mine = signed_in(user).get("/campaigns/")
    assert "Your campaigns" in text(mine)
    assert f'href="/campaigns/{draft.slug}/edit/">Edit the draft' in mine.content.decode()
    assert "Your campaigns" not in text(signed_in(other_user).get("/campaigns/"))


# --- demo data ---------------------------------------------------------------------------------------------------------


def test_the_demo_campaigns_load_once_quickly_and_their_pages_work(settings: Any, tmp_path: Any) -> None:
    from crowdmaker.commons import demo as commons_demo
    from crowdmaker.funding import demo
    from crowdmaker.people import demo as people_demo

    settings.MEDIA_ROOT = str(tmp_path)  # the commons loader stores design pictures
    people_demo.load(lambda line: None)
    commons_demo.load(lambda line: None)
    lines: list[str] = []

    started = time.monotonic()
    created = demo.load(lines.append)
    elapsed = time.monotonic() - started

    assert elapsed < DEMO_BUDGET_S
    slugs = [spec.slug for spec in demo.CAMPAIGNS]
    assert sorted(Campaign.objects.filter(status=CampaignStatus.LIVE).values_list("slug", flat=True)) == sorted(slugs)
    assert Tier.objects.filter(limit__isnull=False).exists()
    made = sum(len(spec.pledges) for spec in demo.CAMPAIGNS)
    assert Pledge.objects.filter(status=PledgeStatus.AUTHORIZED).count() == 8  # the two all-or-nothing campaigns
    assert Pledge.objects.filter(status=PledgeStatus.CAPTURED, campaign__slug="workbench-2020-batch").count() == 2
    assert Pledge.objects.count() == made
    assert created == Campaign.objects.count() + Tier.objects.count() + AddOn.objects.count() + (
        StretchGoal.objects.count() + made + CampaignImage.objects.count()
    )
    covers = CampaignImage.objects.order_by("campaign__slug")
    assert [(c.campaign.slug, c.position, c.content_type) for c in covers] == [
        (slug, 0, "image/png") for slug in sorted(slugs)
    ]
    assert "cover image of climate-node-run" in lines
    assert "campaign climate-node-run (ada, all-or-nothing, goal 1500.00 EUR, 3 reward(s))" in lines
    assert "5 pledge(s) to climate-node-run with sandbox-card-ok" in lines

    assert demo.load(lines.append) == 0
    assert Pledge.objects.count() == made

    listing = Client().get("/campaigns/")
    assert re.findall(r'<a href="/campaigns/([^/]+)/">', listing.content.decode()) == [
        "workbench-2020-batch", "climate-node-run", "lumen-panel-batch",
    ]  # fmt: skip
    assert listing.content.decode().count('class="campaign-card__cover"') == len(slugs)
    for slug in slugs:
        assert Client().get(f"/campaigns/{slug}/").status_code == 200
    assert "5 backers" in text(Client().get("/campaigns/climate-node-run/"))
