"""The funding API: public campaigns (drafts only for their editors), makers' drafts, quotes and pledges with an
Idempotency-Key. Every refusal answers its status and code and changes nothing (pledges, payments, places held,
ledger transactions)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crowdmaker.commons.models import DesignVersion
from crowdmaker.conftest import ApiClient
from crowdmaker.core.models import IdempotencyRecord
from crowdmaker.funding import pledges, services
from crowdmaker.funding.models import (
    AddOn,
    Campaign,
    CampaignStatus,
    FundingModel,
    Pledge,
    PledgeAddOn,
    PledgeStatus,
    StretchGoal,
    Tier,
    TierSlot,
)
from crowdmaker.ledger import payments
from crowdmaker.ledger.gateways import Authorization, GatewayUnavailable, sandbox
from crowdmaker.ledger.gateways.sandbox import SandboxGateway
from crowdmaker.ledger.models import Payment, PaymentStatus, Transaction
from crowdmaker.ledger.money import Money
from crowdmaker.people import services as people
from crowdmaker.people.models import Role, User

pytestmark = pytest.mark.django_db

CARD_OK = sandbox.CARD_OK


def state() -> tuple[int, ...]:
    """What a refused request must leave as it was."""
    return (
        Campaign.objects.count(),
        Tier.objects.count(),
        AddOn.objects.count(),
        StretchGoal.objects.count(),
        Pledge.objects.count(),
        PledgeAddOn.objects.count(),
        Payment.objects.count(),
        TierSlot.objects.count(),
        TierSlot.objects.filter(pledge__isnull=False).count(),
        Transaction.objects.count(),
    )


def pledge_state() -> list[tuple[int, str]]:
    return list(Pledge.objects.order_by("pk").values_list("pk", "status"))


def refused(answer: Any, status: int, code: str, field: str | None = None) -> None:
    assert answer.status_code == status, answer.content
    error = answer.json()["error"]
    assert error["code"] == code
    if field is not None:
        assert error["field"] == field


def post(client: ApiClient, path: str, body: Any = None, *, key: str) -> Any:
    return client.post(path, body, headers={"Idempotency-Key": key})


@pytest.fixture
def live(make_campaign: Callable[..., Campaign], user: User) -> Campaign:
    """A live campaign with a limited early bird (3 places), an open tier, an add-on and a stretch goal."""
    campaign = make_campaign(publish=False, story="# The lamp\n\nIt *glows*.", risks="Parts may be late.",
                             faq=[{"question": "Shipping?", "answer": "Worldwide."}])  # fmt: skip
    campaign.addon = services.addon_add(  # type: ignore[attr-defined]
        actor=user, campaign=campaign, title="Spare shade", price=800, unit_cost=300
    )
    services.stretch_goal_add(actor=user, campaign=campaign, threshold=150_000, title="A walnut base")
    services.stretch_goal_add(actor=user, campaign=campaign, threshold=200_000, title="A second colour")
    services.campaign_publish(actor=user, campaign=campaign)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def backer(other_user: User, api_for: Callable[..., ApiClient]) -> ApiClient:
    return api_for(other_user)


@pytest.fixture
def maker(user: User, api_for: Callable[..., ApiClient]) -> ApiClient:
    return api_for(user)


@pytest.fixture
def anonymous(api_for: Callable[..., ApiClient]) -> ApiClient:
    return api_for(None)


def pledge_body(campaign: Campaign, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"tier": campaign.tier.pk, "addons": [], "extra": 0, "payment_method": CARD_OK}  # type: ignore[attr-defined]
    body.update(changes)
    return body


def pledge_url(campaign: Campaign) -> str:
    return f"/api/v1/campaigns/{campaign.slug}/pledges"


# --- public reads ---------------------------------------------------------------------------------------------


def test_anyone_reads_a_live_campaign_with_tiers_fees_places_and_progress(
    live: Campaign, backer: ApiClient, anonymous: ApiClient, make_user: Callable[..., User],
    api_for: Callable[..., ApiClient],
) -> None:  # fmt: skip
    post(backer, pledge_url(live), pledge_body(live, extra=1_000), key="p-1")
    post(api_for(make_user("carol")), pledge_url(live), pledge_body(live, tier=live.open_tier.pk), key="p-1")  # type: ignore[attr-defined]

    answer = anonymous.get(f"/api/v1/campaigns/{live.slug}")

    assert answer.status_code == 200
    body = answer.json()
    assert (body["slug"], body["status"], body["currency"], body["goal"]) == (live.slug, "live", "EUR", 100_000)
    assert body["owner"] == {"kind": "maker", "handle": "ada", "name": "Ada Okafor"}
    assert body["story"] == "# The lamp\n\nIt *glows*."
    assert body["story_html"] == "<h3>The lamp</h3>\n<p>It <em>glows</em>.</p>"
    assert body["risks"] == "Parts may be late."
    assert body["faq"] == [{"question": "Shipping?", "answer": "Worldwide."}]
    assert body["designs"] == [{"slug": "desk-lamp", "title": "Desk lamp", "version": 1}]
    assert body["shares"] == [{"kind": "person", "handle": "ada", "name": "Ada Okafor", "percent": "100.0"}]
    assert body["accepting_pledges"] is True
    assert body["can_edit"] is False
    early, lamp = body["tiers"]
    assert (early["title"], early["price"], early["unit_cost"], early["limit"], early["places_left"]) == (
        "Early bird",
        4_000,
        1_500,
        3,
        2,
    )
    assert early["fee"] == 250  # 10 % of the margin over the declared cost: (4,000 - 1,500) / 10
    assert early["items"] == [{"design": "desk-lamp", "title": "Desk lamp", "version": 1, "quantity": 1}]
    assert early["available_now"] is True
    assert (lamp["limit"], lamp["places_left"], lamp["fee"]) == (None, None, 350)
    assert body["addons"] == [{"id": live.addon.pk, "title": "Spare shade", "description": "", "price": 800,  # type: ignore[attr-defined]
                               "unit_cost": 300, "fee": 50}]  # fmt: skip
    assert body["progress"]["pledged"] == 10_000  # 4,000 + 1,000 extra, and 5,000
    assert body["progress"]["backers"] == 2
    assert body["progress"]["percent"] == 10
    assert 29 * 86_400 < body["progress"]["seconds_left"] <= 30 * 86_400
    assert [(g["threshold"], g["reached"]) for g in body["stretch_goals"]] == [(150_000, False), (200_000, False)]


def test_a_stretch_goal_is_reached_when_the_pledged_total_gets_there(
    make_campaign: Callable[..., Campaign], user: User, backer: ApiClient, anonymous: ApiClient
) -> None:
    campaign = make_campaign(publish=False, goal=5_000)
    services.stretch_goal_add(actor=user, campaign=campaign, threshold=6_000, title="Walnut")
    services.stretch_goal_add(actor=user, campaign=campaign, threshold=6_001, title="Brass")
    services.campaign_publish(actor=user, campaign=campaign)
    post(backer, pledge_url(campaign), pledge_body(campaign, extra=2_000), key="p-1")

    body = anonymous.get(f"/api/v1/campaigns/{campaign.slug}").json()

    assert (body["progress"]["pledged"], body["progress"]["percent"]) == (6_000, 120)
    assert [(g["title"], g["reached"]) for g in body["stretch_goals"]] == [("Walnut", True), ("Brass", False)]


def test_declined_and_cancelled_pledges_are_not_progress(
    live: Campaign, backer: ApiClient, anonymous: ApiClient
) -> None:
    post(backer, pledge_url(live), pledge_body(live, payment_method=sandbox.CARD_DECLINED), key="p-1")
    kept = post(backer, pledge_url(live), pledge_body(live), key="p-2").json()
    post(backer, f"/api/v1/pledges/{kept['id']}/cancel", key="c-1")

    body = anonymous.get(f"/api/v1/campaigns/{live.slug}").json()

    assert body["progress"] == {**body["progress"], "pledged": 0, "backers": 0, "percent": 0}
    assert body["tiers"][0]["places_left"] == 3


def test_the_list_shows_published_campaigns_newest_first_and_filters_by_status(
    live: Campaign, make_campaign: Callable[..., Campaign], anonymous: ApiClient
) -> None:
    draft = make_campaign("lamp-draft", publish=False)
    second = make_campaign("lamp-second")
    Campaign.objects.filter(pk=second.pk).update(status=CampaignStatus.FAILED, decided_at=timezone.now())

    everything = anonymous.get("/api/v1/campaigns").json()
    failed = anonymous.get("/api/v1/campaigns?status=failed").json()

    assert [c["slug"] for c in everything["results"]] == ["lamp-second", live.slug]
    assert draft.slug not in str(everything)
    assert everything["results"][1]["progress"]["pledged"] == 0
    assert everything["results"][1]["owner"]["handle"] == "ada"
    assert [c["slug"] for c in failed["results"]] == ["lamp-second"]
    assert everything["results"][0]["progress"]["seconds_left"] == 0  # over: nothing is left


def test_the_list_pages_with_a_cursor(make_campaign: Callable[..., Campaign], anonymous: ApiClient) -> None:
    for n in range(3):
        make_campaign(f"lamp-{n}")

    first = anonymous.get("/api/v1/campaigns?page_size=2").json()
    rest = anonymous.get(first["next"]).json()

    assert [c["slug"] for c in first["results"]] == ["lamp-2", "lamp-1"]
    assert [c["slug"] for c in rest["results"]] == ["lamp-0"]
    assert rest["next"] is None


@pytest.mark.parametrize("status", ["draft", "nonsense"])
def test_the_list_refuses_a_status_it_does_not_show(live: Campaign, anonymous: ApiClient, status: str) -> None:
    refused(anonymous.get(f"/api/v1/campaigns?status={status}"), 422, "validation_error", "status")


def test_the_list_and_the_page_cost_no_query_per_campaign_or_tier(
    make_campaign: Callable[..., Campaign], user: User, anonymous: ApiClient, design_version: DesignVersion
) -> None:
    first = make_campaign("lamp-0")

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert anonymous.get(path).status_code == 200
        return len(captured)

    list_one, page_two_tiers = queries("/api/v1/campaigns"), queries(f"/api/v1/campaigns/{first.slug}")
    more = make_campaign("lamp-1", publish=False)
    for n in range(3):
        services.tier_add(actor=user, campaign=more, title=f"Tier {n}", price=1_000, limit=5,
                          items=[(design_version, 2)])  # fmt: skip
        services.addon_add(actor=user, campaign=more, title=f"Add-on {n}", price=100)
    services.campaign_publish(actor=user, campaign=more)
    make_campaign("lamp-2")

    assert queries("/api/v1/campaigns") == list_one
    assert queries(f"/api/v1/campaigns/{more.slug}") == page_two_tiers


def test_a_draft_is_shown_to_its_editors_only(
    make_campaign: Callable[..., Campaign], maker: ApiClient, backer: ApiClient, anonymous: ApiClient
) -> None:
    draft = make_campaign(publish=False)

    refused(anonymous.get(f"/api/v1/campaigns/{draft.slug}"), 404, "not_found")
    refused(backer.get(f"/api/v1/campaigns/{draft.slug}"), 404, "not_found")
    mine = maker.get(f"/api/v1/campaigns/{draft.slug}")
    assert mine.status_code == 200
    assert (mine.json()["status"], mine.json()["can_edit"], mine.json()["accepting_pledges"]) == ("draft", True, False)
    assert maker.get("/api/v1/campaigns").json()["results"] == []


def test_a_team_draft_is_shown_to_its_maintainers_not_to_its_members(
    user: User, make_user: Callable[..., User], api_for: Callable[..., ApiClient], design_version: DesignVersion
) -> None:
    team = people.team_create(actor=user, slug="lamp-makers", name="Lamp makers")
    maintainer, member = make_user("mia"), make_user("max")
    people.team_member_add(team=team, user=maintainer, role=Role.MAINTAINER)
    people.team_member_add(team=team, user=member, role=Role.MEMBER)
    now = timezone.now()
    services.campaign_create(actor=user, slug="team-lamp", title="Team lamp", design_versions=[design_version],
                             goal=10_000, currency="EUR", starts_at=now, deadline=now + timedelta(days=10), team=team)  # fmt: skip

    assert api_for(maintainer).get("/api/v1/campaigns/team-lamp").json()["owner"] == {
        "kind": "team", "handle": "lamp-makers", "name": "Lamp makers"
    }  # fmt: skip
    refused(api_for(member).get("/api/v1/campaigns/team-lamp"), 404, "not_found")


def test_an_unknown_campaign_is_404(anonymous: ApiClient) -> None:
    refused(anonymous.get("/api/v1/campaigns/no-such-thing"), 404, "not_found")
    refused(anonymous.get("/api/v1/campaigns/NOT%20A%20SLUG"), 404, "not_found")


# --- makers' writes -------------------------------------------------------------------------------------------


def campaign_body(**changes: Any) -> dict[str, Any]:
    start = timezone.now() + timedelta(days=1)
    body = {
        "slug": "desk-lamp-run", "title": "First run of the desk lamp", "summary": "A lamp for desks.",
        "story": "It *glows*.", "risks": "Parts.", "faq": [{"question": "When?", "answer": "Spring."}],
        "designs": [{"design": "desk-lamp", "version": 1}], "goal": 100_000, "currency": "EUR",
        "starts_at": start.isoformat(), "deadline": (start + timedelta(days=30)).isoformat(),
        "funding_model": "flexible",
    }  # fmt: skip
    body.update(changes)
    return body


def test_a_maker_drafts_a_campaign_adds_rewards_and_publishes_it(
    maker: ApiClient, anonymous: ApiClient, design_version: DesignVersion, user: User
) -> None:
    created = maker.post("/api/v1/campaigns", campaign_body())
    assert created.status_code == 201, created.content
    assert (created.json()["status"], created.json()["funding_model"], created.json()["can_edit"]) == (
        "draft", "flexible", True
    )  # fmt: skip
    assert created.json()["story_html"] == "<p>It <em>glows</em>.</p>"
    base = "/api/v1/campaigns/desk-lamp-run"

    tier = maker.post(f"{base}/tiers", {
        "title": "Early bird", "price": 4_000, "unit_cost": 1_500, "limit": 2, "delivery_month": "2031-05-17",
        "items": [{"design": "desk-lamp", "version": 1, "quantity": 2}],
    })  # fmt: skip
    addon = maker.post(f"{base}/addons", {"title": "Spare shade", "price": 800, "unit_cost": 300})
    goal = maker.post(f"{base}/stretch-goals", {"threshold": 150_000, "title": "Walnut base"})

    assert tier.status_code == addon.status_code == goal.status_code == 201
    assert tier.json() | {"id": 0} == {
        "id": 0, "title": "Early bird", "description": "", "price": 4_000, "unit_cost": 1_500, "fee": 250,
        "limit": 2, "places_left": 2, "available_from": None, "available_until": None, "available_now": True,
        "delivery_month": "2031-05-01", "items": [{"design": "desk-lamp", "title": "Desk lamp", "version": 1,
                                                   "quantity": 2}],
        "shipping": [],  # nothing to ship
    }  # fmt: skip
    assert addon.json()["fee"] == 50
    assert goal.json() == {"threshold": 150_000, "title": "Walnut base", "description": "", "reached": False}
    assert TierSlot.objects.filter(tier_id=tier.json()["id"]).count() == 2
    refused(anonymous.get(base), 404, "not_found")

    published = maker.post(f"{base}/publish")

    assert published.status_code == 200
    assert published.json()["status"] == "live"
    assert anonymous.get(base).json()["tiers"][0]["title"] == "Early bird"
    assert Campaign.objects.get().created_by == user


def test_a_team_campaign_shares_its_funds_as_told(
    maker: ApiClient, user: User, other_user: User, design_version: DesignVersion
) -> None:
    people.team_create(actor=user, slug="lamp-makers", name="Lamp makers")
    answer = maker.post("/api/v1/campaigns", campaign_body(team="lamp-makers", shares=[
        {"kind": "team", "handle": "lamp-makers", "weight": 60}, {"kind": "person", "handle": "bruno", "weight": 40},
    ]))  # fmt: skip

    assert answer.status_code == 201, answer.content
    assert answer.json()["owner"]["kind"] == "team"
    assert answer.json()["shares"] == [
        {"kind": "team", "handle": "lamp-makers", "name": "Lamp makers", "percent": "60.0"},
        {"kind": "person", "handle": "bruno", "name": "Bruno Lindqvist", "percent": "40.0"},
    ]


@pytest.mark.parametrize(
    ("changes", "status", "code", "field"),
    [
        ({"currency": "ABC"}, 422, "invalid", "currency"),
        ({"goal": 0}, 422, "invalid", "goal"),
        ({"slug": "Not a slug!"}, 422, "invalid", "slug"),
        ({"starts_at": "2031-01-01T10:00:00"}, 422, "invalid", "starts_at"),
        ({"designs": []}, 422, "validation_error", "designs"),
        ({"designs": [{"design": "desk-lamp", "version": 9}]}, 422, "design_unknown", "designs.0"),
        ({"designs": [{"design": "no-such-design", "version": 1}]}, 422, "design_unknown", "designs.0"),
        ({"team": "no-such-team"}, 422, "team_unknown", "team"),
        ({"shares": [{"kind": "person", "handle": "nobody", "weight": 1}]}, 422, "beneficiary_unknown", "shares.0"),
        ({"funding_model": "keep-it-all"}, 422, "validation_error", "funding_model"),
        ({"colour": "red"}, 422, "validation_error", "colour"),
    ],
)
def test_a_bad_draft_is_refused_and_nothing_is_made(
    maker: ApiClient, design_version: DesignVersion, changes: dict[str, Any], status: int, code: str, field: str
) -> None:
    before = state()
    refused(maker.post("/api/v1/campaigns", campaign_body(**changes)), status, code, field)
    assert state() == before


def test_a_taken_address_is_refused(live: Campaign, maker: ApiClient) -> None:
    before = state()
    refused(maker.post("/api/v1/campaigns", campaign_body(slug=live.slug)), 409, "slug_taken", "slug")
    assert state() == before


def test_a_published_campaign_takes_no_new_tiers_and_strangers_none_at_all(
    live: Campaign, maker: ApiClient, backer: ApiClient, make_campaign: Callable[..., Campaign]
) -> None:
    draft = make_campaign("lamp-draft", publish=False)
    tier = {"title": "Late bird", "price": 4_500}
    before = state()

    refused(maker.post(f"/api/v1/campaigns/{live.slug}/tiers", tier), 409, "not_draft")
    refused(maker.post(f"/api/v1/campaigns/{live.slug}/publish"), 409, "not_draft")
    refused(backer.post(f"/api/v1/campaigns/{live.slug}/tiers", tier), 403, "not_owner")
    refused(backer.post(f"/api/v1/campaigns/{draft.slug}/tiers", tier), 404, "not_found")
    refused(backer.post(f"/api/v1/campaigns/{draft.slug}/publish"), 404, "not_found")
    refused(maker.post(f"/api/v1/campaigns/{draft.slug}/tiers", {**tier, "price": -1}), 422, "invalid", "price")
    refused(maker.post(f"/api/v1/campaigns/{draft.slug}/tiers", {**tier, "limit": 0}), 422, "invalid", "limit")
    refused(maker.post(f"/api/v1/campaigns/{draft.slug}/stretch-goals", {"threshold": 10, "title": "Less"}), 422,
            "invalid", "threshold")  # fmt: skip
    assert state() == before
    assert Campaign.objects.get(pk=draft.pk).status == CampaignStatus.DRAFT


def test_writes_need_a_signed_in_caller_with_a_write_token(
    live: Campaign, user: User, anonymous: ApiClient, api_for: Callable[..., ApiClient], design_version: DesignVersion
) -> None:
    reader = api_for(user, "read")
    before = state()

    refused(anonymous.post("/api/v1/campaigns", campaign_body()), 401, "not_authenticated")
    refused(reader.post("/api/v1/campaigns", campaign_body()), 403, "token_read_only")
    refused(reader.post(f"/api/v1/campaigns/{live.slug}/pledges/quote", {"tier": None, "extra": 100}), 403,
            "token_read_only")  # fmt: skip
    assert state() == before


# --- quotes ---------------------------------------------------------------------------------------------------


def test_a_quote_shows_the_cost_and_the_fee_and_stores_nothing(live: Campaign, backer: ApiClient) -> None:
    before = state()
    body = {"tier": live.tier.pk, "addons": [{"id": live.addon.pk, "quantity": 2}], "extra": 1_000}  # type: ignore[attr-defined]

    answer = backer.post(f"/api/v1/campaigns/{live.slug}/pledges/quote", body)

    assert answer.status_code == 200
    assert answer.json() == {
        "currency": "EUR", "reward_amount": 5_600, "extra_amount": 1_000, "amount": 6_600, "unit_cost": 2_100,
        "fee": 450,  # 10 % of 6,600 - 2,100
        "addons": [{"id": live.addon.pk, "title": "Spare shade", "quantity": 2, "price": 800}],  # type: ignore[attr-defined]
        "shipping_amount": 0, "shipping_country": "",  # the tier has no shipping rates
    }  # fmt: skip
    assert state() == before

    pledged = post(backer, pledge_url(live), {**body, "payment_method": CARD_OK}, key="p-1")

    assert pledged.json()["fee_quoted"] == answer.json()["fee"]
    assert Payment.objects.get().fee_quoted == answer.json()["fee"]


def test_a_quote_without_a_reward_takes_the_whole_amount_as_margin(live: Campaign, backer: ApiClient) -> None:
    answer = backer.post(f"/api/v1/campaigns/{live.slug}/pledges/quote", {"tier": None, "extra": 2_000})
    assert (answer.json()["amount"], answer.json()["unit_cost"], answer.json()["fee"]) == (2_000, 0, 200)


# --- pledges ---------------------------------------------------------------------------------------------------


def test_a_pledge_is_authorized_and_answered_with_its_amounts_fee_and_payment(
    live: Campaign, backer: ApiClient, other_user: User
) -> None:
    body = pledge_body(live, addons=[{"id": live.addon.pk, "quantity": 1}], extra=500)  # type: ignore[attr-defined]

    answer = post(backer, pledge_url(live), body, key="p-1")

    assert answer.status_code == 201, answer.content
    pledge = Pledge.objects.get()
    payment = Payment.objects.get()
    assert answer.json() | {"created_at": "", "updated_at": ""} == {
        "id": pledge.pk, "status": "authorized",
        "campaign": {"slug": live.slug, "title": live.title, "status": "live",
                     "deadline": answer.json()["campaign"]["deadline"]},
        "tier": {"id": live.tier.pk, "title": "Early bird"},  # type: ignore[attr-defined]
        "addons": [{"id": live.addon.pk, "title": "Spare shade", "quantity": 1, "price": 800}],  # type: ignore[attr-defined]
        "currency": "EUR", "reward_amount": 4_800, "extra_amount": 500, "amount": 5_300, "unit_cost": 1_800,
        "shipping_amount": 0, "shipping_country": "", "fee_quoted": 350, "late": False,
        "payment": {"id": payment.pk, "status": "authorized", "fee_quoted": 350, "captured_amount": 0,
                    "fee_amount": 0, "refunded_amount": 0, "failure_code": "", "failure_message": ""},
        "replaces": None, "replaced_by": None, "created_at": "", "updated_at": "",
    }  # fmt: skip
    assert (pledge.backer, pledge.status, payment.amount) == (other_user, PledgeStatus.AUTHORIZED, 5_300)
    assert TierSlot.objects.get(pledge=pledge).tier_id == live.tier.pk  # type: ignore[attr-defined]
    assert Transaction.objects.count() == 0  # authorized, not captured


def test_a_pledge_without_a_reward(live: Campaign, backer: ApiClient) -> None:
    answer = post(backer, pledge_url(live), {"tier": None, "extra": 2_500, "payment_method": CARD_OK}, key="p-1")

    assert answer.status_code == 201
    assert (answer.json()["tier"], answer.json()["amount"], answer.json()["fee_quoted"]) == (None, 2_500, 250)


def test_a_flexible_campaign_takes_the_money_at_once(make_campaign: Callable[..., Campaign], backer: ApiClient) -> None:
    campaign = make_campaign(funding_model=FundingModel.FLEXIBLE)

    answer = post(backer, pledge_url(campaign), pledge_body(campaign), key="p-1")

    assert answer.status_code == 201
    assert (answer.json()["status"], answer.json()["payment"]["status"]) == ("captured", "captured")
    assert answer.json()["payment"]["fee_amount"] == 250
    assert Transaction.objects.count() > 0


def test_the_same_key_replays_the_first_answer_and_pledges_once(live: Campaign, backer: ApiClient) -> None:
    first = post(backer, pledge_url(live), pledge_body(live), key="p-1")
    after_first = state()

    again = post(backer, pledge_url(live), pledge_body(live), key="p-1")

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert state() == after_first
    assert Pledge.objects.count() == 1


def test_the_same_key_for_another_pledge_is_refused(live: Campaign, backer: ApiClient) -> None:
    post(backer, pledge_url(live), pledge_body(live), key="p-1")
    before, statuses = state(), pledge_state()

    answer = post(backer, pledge_url(live), pledge_body(live, extra=100), key="p-1")

    refused(answer, 422, "idempotency_key_reused", "Idempotency-Key")
    assert (state(), pledge_state()) == (before, statuses)


def test_a_pledge_without_an_idempotency_key_is_refused(live: Campaign, backer: ApiClient) -> None:
    before = state()
    refused(backer.post(pledge_url(live), pledge_body(live)), 400, "idempotency_key_required", "Idempotency-Key")
    assert state() == before


def test_a_declined_card_answers_402_and_the_pledge_is_kept_as_declined(live: Campaign, backer: ApiClient) -> None:
    body = pledge_body(live, payment_method=sandbox.CARD_DECLINED)

    answer = post(backer, pledge_url(live), body, key="p-1")

    refused(answer, 402, "card_declined")
    pledge = Pledge.objects.get()
    assert pledge.status == PledgeStatus.DECLINED
    assert pledge.payment is not None
    assert pledge.payment.status == PaymentStatus.FAILED
    assert TierSlot.objects.filter(pledge__isnull=False).count() == 0
    assert backer.get("/api/v1/pledges").json()["results"][0]["status"] == "declined"
    replayed = post(backer, pledge_url(live), body, key="p-1")
    assert (replayed.status_code, replayed.content) == (402, answer.content)
    assert Pledge.objects.count() == 1


def test_a_sold_out_tier_answers_409_and_nothing_is_recorded(
    live: Campaign, backer: ApiClient, make_user: Callable[..., User], api_for: Callable[..., ApiClient]
) -> None:
    for n in range(3):
        assert post(api_for(make_user(f"early{n}")), pledge_url(live), pledge_body(live), key="p").status_code == 201
    before, statuses = state(), pledge_state()

    answer = post(backer, pledge_url(live), pledge_body(live), key="p-1")

    refused(answer, 409, "sold_out", "tier")
    assert (state(), pledge_state()) == (before, statuses)
    assert not IdempotencyRecord.objects.filter(key="p-1").exists()  # "not now": a retry may find a place


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"tier": 999_999}, "tier_unknown", "tier"),
        ({"tier": 10**30}, "tier_unknown", "tier"),
        ({"addons": [{"id": 10**30}]}, "addon_unknown", "addons"),
        ({"addons": [{"id": 999_999, "quantity": 1}]}, "addon_unknown", "addons"),
        ({"tier": None, "extra": 100, "addons": [{"id": -1}]}, "validation_error", "addons.0.id"),
        ({"addons": [{"id": 1, "quantity": 101}]}, "validation_error", "addons.0.quantity"),
        ({"tier": None, "extra": 0}, "amount_zero", "extra"),
        ({"extra": -5}, "validation_error", "extra"),
        ({"payment_method": ""}, "validation_error", "payment_method"),
        ({"tip": 5}, "validation_error", "tip"),
    ],
)
def test_a_bad_pledge_is_refused_with_422_and_changes_nothing(
    live: Campaign, backer: ApiClient, changes: dict[str, Any], code: str, field: str
) -> None:
    before = state()
    refused(post(backer, pledge_url(live), pledge_body(live, **changes), key="p-1"), 422, code, field)
    assert state() == before


def test_add_ons_need_a_tier_and_are_named_once(live: Campaign, backer: ApiClient) -> None:
    addon = {"id": live.addon.pk, "quantity": 1}  # type: ignore[attr-defined]
    before = state()

    refused(post(backer, pledge_url(live), pledge_body(live, tier=None, extra=100, addons=[addon]), key="p-1"),
            422, "addons_need_tier", "addons")  # fmt: skip
    refused(post(backer, pledge_url(live), pledge_body(live, addons=[addon, addon]), key="p-2"), 422, "invalid",
            "addons.1.id")  # fmt: skip
    assert state() == before


def test_another_campaigns_tier_is_unknown_here(
    live: Campaign, make_campaign: Callable[..., Campaign], backer: ApiClient
) -> None:
    other = make_campaign("another-lamp")
    before = state()
    refused(post(backer, pledge_url(live), pledge_body(other), key="p-1"), 422, "tier_unknown", "tier")
    assert state() == before


def test_a_maker_cannot_back_their_own_campaign_nor_a_closed_one(
    live: Campaign, maker: ApiClient, backer: ApiClient, make_campaign: Callable[..., Campaign]
) -> None:
    draft = make_campaign("lamp-draft", publish=False)
    before = state()

    refused(post(maker, pledge_url(live), pledge_body(live), key="p-1"), 403, "own_campaign")
    refused(post(maker, pledge_url(draft), pledge_body(draft), key="p-2"), 409, "campaign_closed")
    refused(post(backer, pledge_url(draft), pledge_body(draft), key="p-3"), 404, "not_found")
    assert state() == before


def test_pledging_needs_a_signed_in_caller_with_a_write_token(
    live: Campaign, other_user: User, anonymous: ApiClient, api_for: Callable[..., ApiClient]
) -> None:
    before = state()
    refused(post(anonymous, pledge_url(live), pledge_body(live), key="p-1"), 401, "not_authenticated")
    refused(post(api_for(other_user, "read"), pledge_url(live), pledge_body(live), key="p-1"), 403,
            "token_read_only")  # fmt: skip
    refused(anonymous.get("/api/v1/pledges"), 401, "not_authenticated")
    assert state() == before


class DownThenUp(SandboxGateway):
    """Unreachable for the first `down` authorize calls, then the plain sandbox."""

    down = 0

    def authorize(self, amount: Money, payment_method: str, reference: str) -> Authorization:
        if DownThenUp.down > 0:
            DownThenUp.down -= 1
            raise GatewayUnavailable("down")
        return super().authorize(amount, payment_method, reference)


def test_after_a_503_the_same_key_resumes_the_same_pledge(live: Campaign, backer: ApiClient, settings: Any) -> None:
    settings.CROWDMAKER_PAYMENT_GATEWAY = f"{__name__}.DownThenUp"
    DownThenUp.down = payments.GATEWAY_ATTEMPTS

    failed = post(backer, pledge_url(live), pledge_body(live), key="p-1")

    refused(failed, 503, "gateway_unavailable")
    assert Pledge.objects.get().status == PledgeStatus.PENDING
    assert TierSlot.objects.filter(pledge__isnull=False).count() == 1  # the place is held while it is pending
    assert backer.get(f"/api/v1/campaigns/{live.slug}").json()["progress"]["pledged"] == 0  # no money held yet

    retried = post(backer, pledge_url(live), pledge_body(live), key="p-1")

    assert retried.status_code == 201, retried.content
    assert retried.json()["id"] == Pledge.objects.get().pk
    assert retried.json()["status"] == "authorized"
    assert (Pledge.objects.count(), Payment.objects.count()) == (1, 1)
    assert TierSlot.objects.filter(pledge__isnull=False).count() == 1


# --- my pledges -----------------------------------------------------------------------------------------------


def test_a_backer_sees_their_own_pledges_newest_first(
    live: Campaign, backer: ApiClient, make_user: Callable[..., User], api_for: Callable[..., ApiClient]
) -> None:
    first = post(backer, pledge_url(live), pledge_body(live), key="p-1").json()
    declined = post(backer, pledge_url(live), pledge_body(live, payment_method=sandbox.CARD_DECLINED), key="p-2")
    third = post(backer, pledge_url(live), pledge_body(live, tier=None, extra=700), key="p-3").json()
    post(api_for(make_user("carol")), pledge_url(live), pledge_body(live), key="p-1")

    mine = backer.get("/api/v1/pledges").json()
    authorized = backer.get("/api/v1/pledges?status=authorized").json()

    assert declined.status_code == 402
    assert [(p["status"], p["amount"]) for p in mine["results"]] == [
        ("authorized", 700), ("declined", 4_000), ("authorized", 4_000)
    ]  # fmt: skip
    assert [p["id"] for p in authorized["results"]] == [third["id"], first["id"]]
    assert backer.get(f"/api/v1/pledges/{first['id']}").json() == first
    refused(backer.get("/api/v1/pledges?status=nonsense"), 422, "validation_error", "status")


def test_someone_elses_pledge_does_not_exist_for_me(
    live: Campaign, backer: ApiClient, make_user: Callable[..., User], api_for: Callable[..., ApiClient]
) -> None:
    theirs = post(api_for(make_user("carol")), pledge_url(live), pledge_body(live), key="p-1").json()
    before, statuses = state(), pledge_state()

    refused(backer.get(f"/api/v1/pledges/{theirs['id']}"), 404, "not_found")
    refused(post(backer, f"/api/v1/pledges/{theirs['id']}/cancel", key="c-1"), 404, "not_found")
    refused(post(backer, f"/api/v1/pledges/{theirs['id']}/change", pledge_body(live, extra=5), key="x-1"), 404,
            "not_found")  # fmt: skip
    refused(backer.get("/api/v1/pledges/999999"), 404, "not_found")
    refused(backer.get(f"/api/v1/pledges/{10**30}"), 404, "not_found")
    refused(post(backer, f"/api/v1/pledges/{10**30}/cancel", key="c-2"), 404, "not_found")
    assert (state(), pledge_state()) == (before, statuses)
    assert backer.get("/api/v1/pledges").json()["results"] == []


def test_a_backer_cancels_before_the_deadline_and_the_place_is_freed(live: Campaign, backer: ApiClient) -> None:
    pledge = post(backer, pledge_url(live), pledge_body(live), key="p-1").json()

    answer = post(backer, f"/api/v1/pledges/{pledge['id']}/cancel", key="c-1")

    assert answer.status_code == 200
    assert answer.json()["status"] == "cancelled"
    assert answer.json()["payment"]["status"] == "voided"
    assert TierSlot.objects.filter(pledge__isnull=False).count() == 0
    after = state()
    replayed = post(backer, f"/api/v1/pledges/{pledge['id']}/cancel", key="c-1")
    assert (replayed.status_code, replayed.content) == (200, answer.content)
    refused(post(backer, f"/api/v1/pledges/{pledge['id']}/cancel", key="c-2"), 409, "pledge_not_cancellable")
    assert state() == after


def test_a_backer_changes_tier_and_amount(live: Campaign, backer: ApiClient) -> None:
    old = post(backer, pledge_url(live), pledge_body(live), key="p-1").json()
    body = pledge_body(live, tier=live.open_tier.pk, extra=1_000)  # type: ignore[attr-defined]

    answer = post(backer, f"/api/v1/pledges/{old['id']}/change", body, key="x-1")

    assert answer.status_code == 201, answer.content
    new = answer.json()
    assert (new["status"], new["tier"]["title"], new["amount"], new["replaces"]) == (
        "authorized", "Lamp", 6_000, old["id"]
    )  # fmt: skip
    assert new["fee_quoted"] == 450  # 10 % of 6,000 - 1,500
    assert backer.get(f"/api/v1/pledges/{old['id']}").json()["status"] == "replaced"
    assert backer.get(f"/api/v1/pledges/{old['id']}").json()["replaced_by"] == new["id"]
    assert TierSlot.objects.filter(pledge__isnull=False).count() == 0  # the early bird place is free again
    replayed = post(backer, f"/api/v1/pledges/{old['id']}/change", body, key="x-1")
    assert (replayed.status_code, replayed.content) == (201, answer.content)
    assert Pledge.objects.count() == 2


def test_a_change_to_a_sold_out_tier_keeps_the_pledge_one_had(
    live: Campaign, backer: ApiClient, other_user: User, make_user: Callable[..., User],
    api_for: Callable[..., ApiClient],
) -> None:  # fmt: skip
    mine = post(backer, pledge_url(live), pledge_body(live, tier=live.open_tier.pk), key="p-1").json()  # type: ignore[attr-defined]
    for n in range(3):
        post(api_for(make_user(f"early{n}")), pledge_url(live), pledge_body(live), key="p")
    before, statuses = state(), pledge_state()

    answer = post(backer, f"/api/v1/pledges/{mine['id']}/change", pledge_body(live), key="x-1")

    refused(answer, 409, "sold_out", "tier")
    assert (state(), pledge_state()) == (before, statuses)
    assert backer.get(f"/api/v1/pledges/{mine['id']}").json()["status"] == "authorized"


def test_a_declined_change_keeps_the_pledge_one_had(live: Campaign, backer: ApiClient) -> None:
    mine = post(backer, pledge_url(live), pledge_body(live), key="p-1").json()

    answer = post(backer, f"/api/v1/pledges/{mine['id']}/change",
                  pledge_body(live, extra=1_000, payment_method=sandbox.CARD_DECLINED), key="x-1")  # fmt: skip

    refused(answer, 402, "card_declined")
    assert backer.get(f"/api/v1/pledges/{mine['id']}").json()["status"] == "authorized"
    assert TierSlot.objects.get(pledge__isnull=False).pledge_id == mine["id"]


def test_a_cancelled_pledge_cannot_be_changed(live: Campaign, backer: ApiClient) -> None:
    mine = post(backer, pledge_url(live), pledge_body(live), key="p-1").json()
    post(backer, f"/api/v1/pledges/{mine['id']}/cancel", key="c-1")
    before, statuses = state(), pledge_state()

    refused(post(backer, f"/api/v1/pledges/{mine['id']}/change", pledge_body(live), key="x-1"), 409,
            "pledge_not_changeable")  # fmt: skip
    assert (state(), pledge_state()) == (before, statuses)


def test_pledge_reads_cost_no_query_per_pledge(live: Campaign, backer: ApiClient, other_user: User) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert backer.get("/api/v1/pledges").status_code == 200
        return len(captured)

    post(backer, pledge_url(live), pledge_body(live, addons=[{"id": live.addon.pk, "quantity": 1}]), key="p-1")  # type: ignore[attr-defined]
    one = queries()
    for _ in range(3):
        pledges.pledge_create(backer=other_user, campaign=live, tier=live.open_tier,  # type: ignore[attr-defined]
                              addons={live.addon.pk: 2}, payment_method=CARD_OK)  # type: ignore[attr-defined]  # fmt: skip

    assert queries() == one


def test_a_pledges_payment_moves_only_through_the_pledge(live: Campaign, backer: ApiClient) -> None:
    """MONEY.md 4 and 6: voiding or capturing a pledge's payment through the generic payments API would leave the
    pledge and the campaign's books out of step (a reviewer faked a campaign's success that way)."""
    pledge = post(backer, pledge_url(live), pledge_body(live), key="p-1").json()
    payment_id = Pledge.objects.get(pk=pledge["id"]).payment_id
    before = state()
    for action in ("void", "capture"):
        refused(post(backer, f"/api/v1/payments/{payment_id}/{action}", key=f"{action}-1"), 403, "payment_managed")
    direct = {"payee": {"kind": "campaign", "id": str(live.pk)}, "amount": 4_500, "currency": "EUR",
              "payment_method": "sandbox-card-ok"}  # fmt: skip
    refused(post(backer, "/api/v1/payments", direct, key="direct-1"), 422, "payee_not_direct")
    assert state() == before
    assert Payment.objects.get(pledge__pk=pledge["id"]).status == "authorized"


@pytest.mark.parametrize("extra", [True, "100", 1e3, 10.5])
def test_amounts_must_be_whole_numbers_not_lookalikes(live: Campaign, backer: ApiClient, extra: object) -> None:
    before = state()
    answer = post(backer, pledge_url(live), {**pledge_body(live), "tier": None, "extra": extra}, key="p-1")
    assert answer.status_code == 422, answer.content
    assert state() == before
