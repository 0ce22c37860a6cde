"""The makers' dashboard (selector, page, API) and the referral capture that feeds its top referrers.

One worked scenario: pledges on several days, two tiers and no reward, two referrers and a direct pledge, a
cancelled pledge (never counted) and one still being authorized (shown apart), checked to the minor unit in the
selector, on the page and in the API. Refusals answer their status and leak nothing; a refused API pledge records
nothing. Real services, the sandbox gateway, the Django test client.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crowdmaker.conftest import BROWSER_MISSING, PASSWORD, ApiClient
from crowdmaker.core.errors import Forbidden
from crowdmaker.funding import dashboard, pledges, referrals, selectors, services
from crowdmaker.funding.models import Campaign, Pledge, PledgeStatus, TierSlot
from crowdmaker.funding.tests.test_pages import pledge_through_pages, text
from crowdmaker.ledger.gateways import sandbox
from crowdmaker.ledger.models import Payment
from crowdmaker.people.models import User
from crowdmaker.people.tests.test_pages import signed_in

pytestmark = pytest.mark.django_db

CARD_OK = sandbox.CARD_OK


def state() -> tuple[int, int, int]:
    """What a refused pledge must leave as it was: pledges, payments, places held."""
    return Pledge.objects.count(), Payment.objects.count(), TierSlot.objects.filter(pledge__isnull=False).count()


def refused(answer: Any, status: int, code: str, field: str | None = None) -> None:
    assert answer.status_code == status, answer.content
    error = answer.json()["error"]
    assert error["code"] == code
    if field is not None:
        assert error["field"] == field


class World:
    """The scenario's campaign, its people and the days its pledges were made on."""

    def __init__(self, campaign: Campaign, people: dict[str, User], first_day: Any) -> None:
        self.campaign, self.people, self.first_day = campaign, people, first_day


@pytest.fixture
def first_day() -> Any:
    return timezone.now().astimezone(UTC).date() - timedelta(days=4)


@pytest.fixture
def live(make_campaign: Callable[..., Campaign], user: User, first_day: Any) -> Campaign:
    """Ada's desk lamp campaign (goal 1000.00 EUR; Early bird 40.00 EUR, 3 places; Lamp 50.00 EUR; both cost 15.00
    EUR to make), started four days ago at 01:00 UTC, with a stretch goal at 1500.00 EUR."""
    start = datetime.combine(first_day, time(1), UTC)
    campaign = make_campaign(publish=False, starts_at=start, deadline=timezone.now() + timedelta(days=20, hours=1))
    tier, open_tier = campaign.tier, campaign.open_tier  # type: ignore[attr-defined]
    services.stretch_goal_add(actor=user, campaign=campaign, threshold=150_000, title="Walnut base")
    services.campaign_publish(actor=user, campaign=campaign)
    campaign.refresh_from_db()
    campaign.tier, campaign.open_tier = tier, open_tier  # type: ignore[attr-defined]
    return campaign


def _on_day(pledge: Pledge, first_day: Any, day: int) -> None:
    Pledge.objects.filter(pk=pledge.pk).update(
        created_at=datetime.combine(first_day + timedelta(days=day), time(12), UTC)
    )


@pytest.fixture
def world(live: Campaign, make_user: Callable[..., User], other_user: User, first_day: Any) -> World:
    """Pledges: Carla, Early bird via Bruno (day 0); Dan, Lamp + 10.00 extra via Bruno (day 1); Eve, no reward 25.00
    via Frank (day 1); Hana, Lamp via Frank, cancelled (day 2); Gus, Early bird, direct (day 3); Ines, 7.00 without
    a reward still being authorized (pending)."""
    people = {"bruno": other_user}
    for handle, name in (("carla", "Carla Mendes"), ("dan", "Dan Oyelaran"), ("eve", "Eve Marchetti"),
                         ("frank", "Frank Osei"), ("gus", "Gus Halvorsen"), ("hana", "Hana Kato"),
                         ("ines", "Ines Duarte")):  # fmt: skip
        people[handle] = make_user(handle, display_name=name)
    tier, lamp = live.tier, live.open_tier  # type: ignore[attr-defined]
    made = [
        (pledges.pledge_create(backer=people["carla"], campaign=live, tier=tier, payment_method=CARD_OK,
                               referrer=people["bruno"]), 0),
        (pledges.pledge_create(backer=people["dan"], campaign=live, tier=lamp, extra=1_000, payment_method=CARD_OK,
                               referrer=people["bruno"]), 1),
        (pledges.pledge_create(backer=people["eve"], campaign=live, extra=2_500, payment_method=CARD_OK,
                               referrer=people["frank"]), 1),
        (pledges.pledge_create(backer=people["hana"], campaign=live, tier=lamp, payment_method=CARD_OK,
                               referrer=people["frank"]), 2),
        (pledges.pledge_create(backer=people["gus"], campaign=live, tier=tier, payment_method=CARD_OK), 3),
    ]  # fmt: skip
    for pledge, day in made:
        _on_day(pledge, first_day, day)
    pledges.pledge_cancel(backer=people["hana"], pledge_id=made[3][0].pk)
    # A pledge whose card has not answered yet (the process stopped between the steps): recorded, not authorized.
    Pledge.objects.create(campaign=live, backer=people["ines"], extra_amount=700, amount=700)
    return World(live, people, first_day)


EXPECTED_SERIES = [4_000, 12_500, 12_500, 16_500, 16_500]  # cumulative, from the start day to today


# --- the selector ------------------------------------------------------------------------------------------------


def test_the_dashboard_adds_up_the_counted_pledges_per_day_tier_and_referrer(world: World, user: User) -> None:
    campaign = selectors.campaign_visible(slug=world.campaign.slug, viewer=user)

    board = dashboard.campaign_dashboard(actor=user, campaign=campaign)

    assert (board.pledged.amount, board.backers, board.pledges) == (16_500, 4, 4)
    assert board.average.amount == 4_125
    assert board.percent == 16
    # 10 % of each pledge's margin over its declared cost: 25.00 - 15.00 twice, 60.00 - 15.00, 25.00 (no reward).
    assert board.fee.amount == 250 + 450 + 250 + 250
    assert board.fee.amount == sum(
        Payment.objects.filter(pledge__status=PledgeStatus.AUTHORIZED).values_list("fee_quoted", flat=True)
    )
    assert (board.pending.pledges, board.pending.amount.amount) == (1, 700)
    assert board.days_left == 21
    # The same figures as the campaign's progress bar.
    progress = selectors.campaign_progress(campaign=campaign)
    assert (board.progress.pledged, board.progress.backers, board.progress.percent) == (
        progress.pledged,
        progress.backers,
        progress.percent,
    )
    assert [(point.day, point.cumulative.amount) for point in board.series] == [
        (world.first_day + timedelta(days=n), amount) for n, amount in enumerate(EXPECTED_SERIES)
    ]
    assert [point.pledged.amount for point in board.series] == [4_000, 8_500, 0, 4_000, 0]
    assert board.first_day == world.first_day
    assert board.last_day == (campaign.deadline - timedelta(microseconds=1)).astimezone(UTC).date()
    assert [(row.tier.title, row.figure.pledges, row.figure.amount.amount, row.limit, row.places_left)
            for row in board.tiers] == [("Early bird", 2, 8_000, 3, 1), ("Lamp", 1, 6_000, None, None)]  # fmt: skip
    assert (board.no_reward.pledges, board.no_reward.amount.amount) == (1, 2_500)
    assert [(row.handle, row.name, row.figure.pledges, row.figure.amount.amount) for row in board.referrers] == [
        ("bruno", "Bruno Lindqvist", 2, 10_000),
        ("frank", "Frank Osei", 1, 2_500),
    ]
    assert (board.direct.pledges, board.direct.amount.amount) == (1, 4_000)
    assert (board.other_referrers.pledges, board.other_referrers.amount.amount) == (0, 0)


def test_only_the_top_referrers_are_named_and_the_rest_summed_up(
    live: Campaign, make_user: Callable[..., User], user: User
) -> None:
    # Referrer n brings one pledge of 10.00 + n EUR: the ten largest are named, the other two summed up.
    for n in range(dashboard.TOP_REFERRERS + 2):
        referrer, backer = make_user(f"referrer{n}"), make_user(f"backer{n}")
        pledges.pledge_create(backer=backer, campaign=live, extra=1_000 + 100 * n, payment_method=CARD_OK,
                              referrer=referrer)  # fmt: skip

    board = dashboard.campaign_dashboard(actor=user, campaign=live)

    assert [row.handle for row in board.referrers] == [f"referrer{n}" for n in range(11, 1, -1)]
    assert (board.other_referrers.pledges, board.other_referrers.amount.amount) == (2, 1_000 + 1_100)
    assert board.direct.pledges == 0


def test_the_dashboard_runs_the_same_queries_whatever_the_number_of_pledges(
    world: World, user: User, make_user: Callable[..., User], django_assert_max_num_queries: Any
) -> None:
    campaign = world.campaign
    with django_assert_max_num_queries(6), CaptureQueriesContext(connection) as few:
        dashboard.campaign_dashboard(actor=user, campaign=campaign)
    referrer = world.people["frank"]
    for n in range(30):  # more pledges, on more days, with more referrers
        backer = make_user(f"more{n}")
        pledge = pledges.pledge_create(backer=backer, campaign=campaign, extra=100 + n, payment_method=CARD_OK,
                                       referrer=referrer if n % 2 else world.people["carla"])  # fmt: skip
        _on_day(pledge, world.first_day, n % 5)

    with CaptureQueriesContext(connection) as many:
        board = dashboard.campaign_dashboard(actor=user, campaign=campaign)

    assert board.pledges == 34
    assert len(many) == len(few)


def test_the_dashboard_is_for_the_editors_only(world: World, other_user: User) -> None:
    with pytest.raises(Forbidden) as refusal:
        dashboard.campaign_dashboard(actor=other_user, campaign=world.campaign)
    assert refusal.value.code == "not_editor"


# --- the page ------------------------------------------------------------------------------------------------------


def dashboard_url(campaign: Campaign) -> str:
    return f"/campaigns/{campaign.slug}/dashboard/"


def test_the_maker_sees_the_figures_the_chart_and_the_tables(world: World, user: User) -> None:
    response = signed_in(user).get(dashboard_url(world.campaign))

    assert response.status_code == 200
    html, words = response.content.decode(), text(response)
    assert (
        "Pledged 165.00 EUR Goal 1000.00 EUR (16 % reached) Backers 4 Pledges 4 Average pledge 41.25 EUR "
        "Days left 21 Estimated platform fee 12.00 EUR Being authorized 1 pledge, 7.00 EUR"
    ) in words
    assert "165.00 EUR pledged of a 1000.00 EUR goal (16 %) · 4 backers" in words  # the progress bar
    # The chart: an accessible inline SVG with the goal and stretch goal lines and the cumulative line.
    assert re.search(r'<svg id="funding-chart" [^>]*role="img" aria-labelledby="funding-chart-title funding-chart-desc"',
                     html)  # fmt: skip
    assert '<title id="funding-chart-title">Funding over time against the goal</title>' in html
    assert "165.00 EUR so far, 16 % of the 1000.00 EUR goal, and 1 stretch goal." in html
    # The plot spans y 260 (zero) to 24 (the scale: the stretch goal, 1500.00 EUR); the goal sits at two thirds.
    assert re.search(r'<line class="chart__goal" x1="96" y1="102.7" x2="696" y2="102.7"', html)
    assert re.search(r'<line class="chart__stretch" x1="96" y1="24.0" x2="696" y2="24.0"', html)
    points = re.search(r'<polyline class="chart__pledged" points="([^"]+)"', html)
    assert points is not None
    ys = [float(point.split(",")[1]) for point in points.group(1).split()]
    assert ys == [260.0, *(round(260 - 236 * amount / 150_000, 1) for amount in EXPECTED_SERIES)]
    # The chart's figures as a table, the tiers and the referrers.
    assert (
        "Pledged per day Day Pledged that day Pledged in all "
        f"{world.first_day.day} {world.first_day:%b %Y} 40.00 EUR 40.00 EUR"
    ) in words
    assert "Early bird 2 80.00 EUR 1 of 3 Lamp 1 60.00 EUR no limit No reward 1 25.00 EUR — All 4 165.00 EUR" in words
    assert "Bruno Lindqvist 2 100.00 EUR Frank Osei 1 25.00 EUR Direct (no referrer) 1 40.00 EUR" in words
    assert '<a href="/makers/bruno/">Bruno Lindqvist</a>' in html
    assert "Other referrers" not in words


def test_the_campaign_page_links_its_editors_to_the_dashboard(world: World, user: User, other_user: User) -> None:
    link = f'href="{dashboard_url(world.campaign)}"'
    assert link in signed_in(user).get(f"/campaigns/{world.campaign.slug}/").content.decode()
    assert link in signed_in(user).get(f"/campaigns/{world.campaign.slug}/backers/").content.decode()
    assert link not in signed_in(other_user).get(f"/campaigns/{world.campaign.slug}/").content.decode()
    assert link not in Client().get(f"/campaigns/{world.campaign.slug}/").content.decode()


def test_others_get_no_dashboard_and_see_none_of_its_figures(
    world: World, other_user: User, make_campaign: Callable[..., Campaign]
) -> None:
    anonymous = Client().get(dashboard_url(world.campaign))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("people:login"))

    stranger = signed_in(other_user).get(dashboard_url(world.campaign))
    assert stranger.status_code == 403
    assert "165.00 EUR" not in stranger.content.decode()
    assert "Bruno Lindqvist" not in stranger.content.decode()

    draft = make_campaign("a-draft", publish=False)
    assert signed_in(other_user).get(dashboard_url(draft)).status_code == 404
    assert signed_in(other_user).get("/campaigns/no-such-run/dashboard/").status_code == 404


def test_a_campaign_not_started_yet_has_an_empty_chart(make_campaign: Callable[..., Campaign], user: User) -> None:
    later = make_campaign("later-run", starts_at=timezone.now() + timedelta(days=2),
                          deadline=timezone.now() + timedelta(days=20))  # fmt: skip

    response = signed_in(user).get(dashboard_url(later))

    assert response.status_code == 200
    html = response.content.decode()
    assert '<line class="chart__goal"' in html
    assert "chart__pledged" not in html
    assert "the campaign has not started yet" in text(response)
    assert dashboard.campaign_dashboard(actor=user, campaign=later).series == []


# --- the API -------------------------------------------------------------------------------------------------------


def test_the_api_gives_the_editors_the_same_figures(
    world: World,
    user: User,
    other_user: User,
    api_for: Callable[..., ApiClient],
    make_campaign: Callable[..., Campaign],
) -> None:
    url = f"/api/v1/campaigns/{world.campaign.slug}/dashboard"

    answer = api_for(user, "read").get(url)

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert {key: body[key] for key in ("currency", "goal", "pledged", "backers", "pledges", "average_pledge",
                                       "percent", "days_left", "fee_estimate", "pending")} == {
        "currency": "EUR", "goal": 100_000, "pledged": 16_500, "backers": 4, "pledges": 4, "average_pledge": 4_125,
        "percent": 16, "days_left": 21, "fee_estimate": 1_200, "pending": {"pledges": 1, "amount": 700},
    }  # fmt: skip
    assert body["series"] == [
        {"date": (world.first_day + timedelta(days=n)).isoformat(), "cumulative": amount}
        for n, amount in enumerate(EXPECTED_SERIES)
    ]
    tiers = world.campaign.tier.pk, world.campaign.open_tier.pk  # type: ignore[attr-defined]
    assert body["tiers"] == [
        {"id": tiers[0], "title": "Early bird", "pledges": 2, "amount": 8_000, "limit": 3, "places_left": 1},
        {"id": tiers[1], "title": "Lamp", "pledges": 1, "amount": 6_000, "limit": None, "places_left": None},
    ]
    assert body["no_reward"] == {"pledges": 1, "amount": 2_500}
    assert body["referrers"] == [
        {"handle": "bruno", "name": "Bruno Lindqvist", "pledges": 2, "amount": 10_000},
        {"handle": "frank", "name": "Frank Osei", "pledges": 1, "amount": 2_500},
    ]
    assert body["other_referrers"] == {"pledges": 0, "amount": 0}
    assert body["direct"] == {"pledges": 1, "amount": 4_000}
    assert body["stretch_goals"] == [{"title": "Walnut base", "threshold": 150_000, "reached": False}]


def test_the_api_refuses_the_dashboard_to_anyone_else(
    world: World, other_user: User, api_for: Callable[..., ApiClient], make_campaign: Callable[..., Campaign]
) -> None:
    url = f"/api/v1/campaigns/{world.campaign.slug}/dashboard"
    stranger = api_for(other_user, "read").get(url)
    refused(stranger, 403, "not_editor")
    assert set(stranger.json()) == {"error"}
    assert api_for(None).get(url).status_code == 401
    draft = make_campaign("a-draft", publish=False)
    refused(api_for(other_user, "read").get(f"/api/v1/campaigns/{draft.slug}/dashboard"), 404, "not_found")


# --- referral capture: the pages -----------------------------------------------------------------------------------


def test_the_first_share_link_followed_is_credited_with_the_pledge_made_later(
    live: Campaign, other_user: User, make_user: Callable[..., User]
) -> None:
    frank, carla = make_user("frank"), make_user("carla")
    visitor = Client()  # not signed in yet
    assert visitor.get(f"/campaigns/{live.slug}/?ref=bruno").status_code == 200
    assert visitor.get(f"/campaigns/{live.slug}/?ref={frank.handle}").status_code == 200  # first touch wins
    visitor.force_login(carla)  # signing in keeps the session's referral

    response = pledge_through_pages(visitor, live, tier=str(live.open_tier.pk))  # type: ignore[attr-defined]

    assert response.status_code == 302, response.content
    assert Pledge.objects.get(backer=carla).referrer == other_user


def test_unknown_and_own_share_links_are_ignored_and_never_stop_a_pledge(
    live: Campaign, make_user: Callable[..., User]
) -> None:
    carla = make_user("carla")
    visitor = signed_in(carla)
    for ref in ("carla", "nobody-here", "Not A Handle!", ""):
        assert visitor.get(f"/campaigns/{live.slug}/", {"ref": ref}).status_code == 200
    assert referrals.SESSION_KEY not in visitor.session

    response = pledge_through_pages(visitor, live, tier=str(live.open_tier.pk))  # type: ignore[attr-defined]

    assert response.status_code == 302, response.content
    assert Pledge.objects.get(backer=carla).referrer is None


def test_following_ones_own_link_before_signing_in_credits_no_one(
    live: Campaign, make_user: Callable[..., User]
) -> None:
    carla = make_user("carla")
    visitor = Client()
    visitor.get(f"/campaigns/{live.slug}/?ref=carla")  # anonymous: it could be anyone's visit
    visitor.force_login(carla)

    response = pledge_through_pages(visitor, live, tier=str(live.open_tier.pk))  # type: ignore[attr-defined]

    assert response.status_code == 302, response.content
    assert Pledge.objects.get(backer=carla).referrer is None


def test_a_referral_is_remembered_for_thirty_days(
    live: Campaign, other_user: User, make_user: Callable[..., User]
) -> None:
    frank, carla = make_user("frank"), make_user("carla")
    session, now = SessionStore(), timezone.now()
    touched = now - timedelta(days=referrals.REFERRAL_DAYS - 1)
    assert referrals.referral_remember(session=session, campaign=live, ref="bruno", viewer=None, now=touched)
    assert referrals.referral_remember(session=session, campaign=live, ref="frank", viewer=None, now=now) is None
    assert referrals.referral_for(session=session, campaign=live, backer=carla, now=now) == other_user

    later = touched + timedelta(days=referrals.REFERRAL_DAYS, seconds=1)
    assert referrals.referral_for(session=session, campaign=live, backer=carla, now=later) is None
    assert referrals.referral_remember(session=session, campaign=live, ref="frank", viewer=None, now=later) == frank
    assert referrals.referral_for(session=session, campaign=live, backer=carla, now=later) == frank


def test_signed_in_members_see_their_share_link(live: Campaign, other_user: User) -> None:
    html = signed_in(other_user).get(f"/campaigns/{live.slug}/").content.decode()
    assert re.search(
        rf'<input type="text" id="share-link" class="share__link" value="http://testserver/campaigns/{live.slug}/\?ref=bruno" readonly',
        html,
    )
    assert 'id="share-link"' not in Client().get(f"/campaigns/{live.slug}/").content.decode()


def test_a_changed_pledge_keeps_its_referrer(live: Campaign, other_user: User, make_user: Callable[..., User]) -> None:
    carla = make_user("carla")
    first = pledges.pledge_create(backer=carla, campaign=live, tier=live.tier, payment_method=CARD_OK,  # type: ignore[attr-defined]
                                  referrer=other_user)  # fmt: skip

    changed = pledges.pledge_change(backer=carla, pledge_id=first.pk, tier=live.open_tier, payment_method=CARD_OK)  # type: ignore[attr-defined]

    assert changed.replaces_id == first.pk
    assert Pledge.objects.get(pk=changed.pk).referrer == other_user


# --- referral capture: the API -------------------------------------------------------------------------------------


def api_pledge(client: ApiClient, campaign: Campaign, key: str, **changes: Any) -> Any:
    body = {"tier": campaign.open_tier.pk, "addons": [], "extra": 0, "payment_method": CARD_OK, **changes}  # type: ignore[attr-defined]
    return client.post(f"/api/v1/campaigns/{campaign.slug}/pledges", body, headers={"Idempotency-Key": key})


def test_a_pledge_through_the_api_names_its_referrer(
    live: Campaign, other_user: User, make_user: Callable[..., User], api_for: Callable[..., ApiClient]
) -> None:
    carla = make_user("carla")

    answer = api_pledge(api_for(carla), live, "p-1", ref="bruno")

    assert answer.status_code == 201, answer.content
    assert Pledge.objects.get(pk=answer.json()["id"]).referrer == other_user


def test_the_api_refuses_an_unknown_or_own_referrer_and_records_nothing(
    live: Campaign, make_user: Callable[..., User], api_for: Callable[..., ApiClient]
) -> None:
    carla = make_user("carla")
    client = api_for(carla)
    before = state()

    refused(api_pledge(client, live, "p-1", ref="nobody-here"), 422, "referrer_unknown", "ref")
    assert state() == before
    refused(api_pledge(client, live, "p-2", ref="carla"), 422, "referrer_self", "ref")
    assert state() == before
    refused(api_pledge(client, live, "p-3", ref=""), 422, "validation_error")
    assert state() == before


# --- in the browser --------------------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(BROWSER_MISSING, reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
def test_in_the_browser_a_member_copies_their_link_and_the_maker_reads_the_dashboard(
    live_server: Any, transactional_db: None, page: Any, world: World, user: User, other_user: User
) -> None:
    from playwright.sync_api import expect

    base, campaign_url = live_server.url, f"/campaigns/{world.campaign.slug}/"

    def log_in(person: User) -> None:
        page.goto(base + "/login/")
        page.get_by_label("E-mail address").fill(person.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("summary", has_text="Account")).to_be_visible()

    log_in(other_user)
    page.goto(base + campaign_url)
    link = page.get_by_label("Your link to this campaign")
    expect(link).to_have_value(f"{base}{campaign_url}?ref=bruno")
    link.focus()  # the whole link is selected on focus, ready to copy
    selected = "() => { const f = document.activeElement; return f.value.slice(f.selectionStart, f.selectionEnd); }"
    assert page.evaluate(selected) == f"{base}{campaign_url}?ref=bruno"
    expect(page.get_by_role("link", name="Dashboard")).to_have_count(0)

    page.context.clear_cookies()
    log_in(user)
    page.goto(base + campaign_url)
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Dashboard of {world.campaign.title}")
    chart = page.get_by_role("img", name="Funding over time against the goal")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] > 300
    expect(page.locator("#funding-chart .chart__goal")).to_have_count(1)
    page.get_by_text("The chart's figures, day by day").click()
    expect(page.locator("#funding-by-day tbody tr")).to_have_count(len(EXPECTED_SERIES))
    expect(page.locator("#dashboard-referrers tbody tr").first).to_contain_text("Bruno Lindqvist")
