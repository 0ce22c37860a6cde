"""Shipping by region and country: a country's rate overrides its region's, `world` applies where neither does;
a reward with rates ships only where one applies, its shipping is added to the pledge's amount and to its unit
cost (the platform's fee is never taken on shipping); rates are set on drafts only; the survey's address is in the
country the pledge paid shipping to; the report and the totals show the shipping. Every refusal changes nothing.

Real PostgreSQL, the sandbox gateway, the services, the JSON API and the pages.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from crowdmaker.conftest import ApiClient
from crowdmaker.core.errors import Conflict, Forbidden, Invalid
from crowdmaker.funding import countries, fulfilment, pledges, reports, services, settlement, surveys
from crowdmaker.funding.models import (
    Campaign,
    FundingModel,
    Pledge,
    PledgeStatus,
    ShippingRate,
    SurveyResponse,
    Tier,
    TierSlot,
)
from crowdmaker.funding.services import ShippingRateIn
from crowdmaker.ledger import verify
from crowdmaker.ledger.gateways import sandbox
from crowdmaker.ledger.models import Account, Leg, Payment, PaymentStatus, Transaction
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db

OK = sandbox.CARD_OK
# Lamp (50.00 EUR, declared cost 15.00): Europe 8.00, Germany 5.00, elsewhere 20.00.
LAMP_RATES = [
    ShippingRateIn(800, region="europe"),
    ShippingRateIn(500, country="DE"),
    ShippingRateIn(2_000, region="world"),
]
# Early bird (40.00 EUR, 3 places): Germany and France only.
EARLY_RATES = [ShippingRateIn(500, country="DE"), ShippingRateIn(700, country="FR")]


def shipped_campaign(make_campaign: Callable[..., Campaign], slug: str = "shipped-run", **extra: Any) -> Campaign:
    """The desk lamp campaign with shipping rates on both tiers, published."""
    campaign = make_campaign(slug, publish=False, **extra)
    maker = campaign.created_by
    services.tier_shipping_set(actor=maker, tier=campaign.open_tier, rates=LAMP_RATES)  # type: ignore[attr-defined]
    services.tier_shipping_set(actor=maker, tier=campaign.tier, rates=EARLY_RATES)  # type: ignore[attr-defined]
    services.campaign_publish(actor=maker, campaign=campaign)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def shipped(make_campaign: Callable[..., Campaign]) -> Campaign:
    return shipped_campaign(make_campaign)


def state() -> tuple[int, int, int, int, int]:
    """What a refused pledge must leave as it was: pledges, payments, ledger transactions, places held, rates."""
    return (
        Pledge.objects.count(),
        Payment.objects.count(),
        Transaction.objects.count(),
        TierSlot.objects.filter(pledge__isnull=False).count(),
        ShippingRate.objects.count(),
    )


def rates_of(tier: Tier) -> list[tuple[str, str, int]]:
    return sorted(ShippingRate.objects.filter(tier=tier).values_list("region", "country", "amount"))


# --- which rate applies ------------------------------------------------------------------------------------------


def test_a_country_rate_beats_its_region_which_beats_world() -> None:
    rates = [ShippingRate(region="europe", amount=800), ShippingRate(country="DE", amount=500),
             ShippingRate(region="world", amount=2_000), ShippingRate(region="asia", amount=1_500)]  # fmt: skip

    def amount(country: str) -> int | None:
        rate = countries.shipping_rate_for(rates, country)
        return rate.amount if rate is not None else None

    assert amount("DE") == 500  # its own rate, though Europe has one too
    assert amount("FR") == 800  # Europe's
    assert amount("JP") == 1_500  # Asia's
    assert amount("US") == 2_000  # no rate of its own nor of North America: world's
    assert amount("ZZ") is None  # not a country
    assert countries.shipping_rate_for(rates[:2], "US") is None  # without world it does not ship there
    assert countries.shipping_rate_for([], "DE") is None


def test_every_country_is_in_exactly_one_region() -> None:
    regions = [region for code, region in countries.REGIONS.items() if code != countries.WORLD]
    placed = [country for region in regions for country in region.countries]
    assert sorted(placed) == sorted(countries.COUNTRY_NAMES)  # all of them, none twice
    assert countries.REGIONS[countries.WORLD].countries == frozenset(countries.COUNTRY_NAMES)
    assert all(re.fullmatch(r"[a-z][a-z-]*", code) for code in countries.REGIONS)  # the model's format
    assert (countries.COUNTRY_REGION["NO"], countries.COUNTRY_REGION["MX"], countries.COUNTRY_REGION["PR"]) == (
        "europe", "latin-america", "latin-america",
    )  # fmt: skip


# --- setting rates: drafts only, validated ------------------------------------------------------------------------


def test_rates_are_set_on_a_draft_and_replaced_whole(make_campaign: Callable[..., Campaign], user: User) -> None:
    draft = make_campaign(publish=False)
    lamp = draft.open_tier  # type: ignore[attr-defined]

    shown = services.tier_shipping_set(actor=user, tier=lamp, rates=LAMP_RATES)

    assert [(r.region, r.country, r.amount) for r in shown] == [
        ("europe", "", 800),
        ("", "DE", 500),
        ("world", "", 2_000),
    ]
    services.tier_shipping_set(actor=user, tier=lamp, rates=[ShippingRateIn(0, region=" Europe ")])
    assert rates_of(lamp) == [("europe", "", 0)]  # replaced; free shipping; the code is normalised
    services.tier_shipping_set(actor=user, tier=lamp, rates=[])
    assert rates_of(lamp) == []  # nothing ships


def test_a_tier_is_added_with_its_rates(make_campaign: Callable[..., Campaign], user: User) -> None:
    draft = make_campaign(publish=False)
    tier = services.tier_add(actor=user, campaign=draft, title="Two lamps", price=9_000,
                             shipping=[ShippingRateIn(1_200, region="europe"), ShippingRateIn(900, country="de")])  # fmt: skip
    assert rates_of(tier) == [("", "DE", 900), ("europe", "", 1_200)]


@pytest.mark.parametrize(
    ("rates", "code", "field"),
    [
        ([ShippingRateIn(800, region="narnia")], "region_unknown", "shipping.0.region"),
        ([ShippingRateIn(800, country="XX")], "country_unknown", "shipping.0.country"),
        ([ShippingRateIn(800, region="europe", country="DE")], "invalid", "shipping.0"),
        ([ShippingRateIn(800)], "invalid", "shipping.0"),
        ([ShippingRateIn(-1, region="europe")], "invalid", "shipping.0.amount"),
        ([ShippingRateIn(10**12 + 1, region="europe")], "invalid", "shipping.0.amount"),
        ([ShippingRateIn(8.5, region="europe")], "invalid", "shipping.0.amount"),  # type: ignore[arg-type]
        ([ShippingRateIn(800, country="DE"), ShippingRateIn(900, country="de")], "shipping_duplicate", "shipping.1"),
        ([ShippingRateIn(800, region="world"), ShippingRateIn(0, region="world")], "shipping_duplicate", "shipping.1"),
    ],
)
def test_bad_rates_are_refused_and_change_nothing(
    make_campaign: Callable[..., Campaign], user: User, rates: list[ShippingRateIn], code: str, field: str
) -> None:
    draft = make_campaign(publish=False)
    lamp = draft.open_tier  # type: ignore[attr-defined]
    services.tier_shipping_set(actor=user, tier=lamp, rates=LAMP_RATES)
    before = (rates_of(lamp), Tier.objects.count())

    with pytest.raises(Invalid) as refused:
        services.tier_shipping_set(actor=user, tier=lamp, rates=rates)
    with pytest.raises(Invalid) as refused_on_add:
        services.tier_add(actor=user, campaign=draft, title="Two lamps", price=9_000, shipping=rates)

    assert (refused.value.code, refused.value.field) == (code, field)
    assert (refused_on_add.value.code, refused_on_add.value.field) == (code, field)
    assert refused.value.message
    assert (rates_of(lamp), Tier.objects.count()) == before


def test_a_published_campaigns_rates_are_fixed(shipped: Campaign, user: User, other_user: User) -> None:
    lamp = shipped.open_tier  # type: ignore[attr-defined]
    before = rates_of(lamp)

    with pytest.raises(Conflict) as fixed:
        services.tier_shipping_set(actor=user, tier=lamp, rates=[ShippingRateIn(0, region="world")])
    with pytest.raises(Forbidden):
        services.tier_shipping_set(actor=other_user, tier=lamp, rates=[])

    assert fixed.value.code == "not_draft"
    assert rates_of(lamp) == before


# --- pledges --------------------------------------------------------------------------------------------------------


def test_shipping_is_added_to_the_amount_and_the_unit_cost(shipped: Campaign, other_user: User) -> None:
    lamp = shipped.open_tier  # type: ignore[attr-defined]
    quotes = {country: pledges.pledge_quote(campaign=shipped, tier=lamp, shipping_country=country)
              for country in ("DE", "fr", "US")}  # fmt: skip
    assert {c: (q.shipping_country, q.shipping_amount, q.amount, q.unit_cost, q.fee) for c, q in quotes.items()} == {
        "DE": ("DE", 500, 5_500, 2_000, 350),
        "fr": ("FR", 800, 5_800, 2_300, 350),
        "US": ("US", 2_000, 7_000, 3_500, 350),
    }  # the fee is 10 % of 50.00 - 15.00 whatever the shipping

    pledge = pledges.pledge_create(backer=other_user, campaign=shipped, tier=lamp, extra=300, shipping_country="DE",
                                   payment_method=OK)  # fmt: skip

    assert (pledge.reward_amount, pledge.extra_amount, pledge.shipping_amount, pledge.amount) == (
        5_000,
        300,
        500,
        5_800,
    )
    assert (pledge.shipping_country, pledge.unit_cost, pledge.status) == ("DE", 2_000, PledgeStatus.AUTHORIZED)
    assert pledge.payment is not None
    assert (pledge.payment.amount, pledge.payment.fee_quoted) == (5_800, 380)  # 10 % of 58.00 - 20.00


def test_a_reward_that_does_not_ship_there_is_refused_and_nothing_changes(shipped: Campaign, other_user: User) -> None:
    early = shipped.tier  # type: ignore[attr-defined]
    before = state()

    with pytest.raises(Invalid) as norway:
        pledges.pledge_create(backer=other_user, campaign=shipped, tier=early, shipping_country="NO", payment_method=OK)
    with pytest.raises(Invalid) as missing:
        pledges.pledge_create(backer=other_user, campaign=shipped, tier=early, payment_method=OK)
    with pytest.raises(Invalid) as unknown:
        pledges.pledge_create(backer=other_user, campaign=shipped, tier=early, shipping_country="XX", payment_method=OK)

    assert (norway.value.code, norway.value.field, norway.value.message) == (
        "not_shipped_there", "shipping_country", "This reward does not ship to Norway.",
    )  # fmt: skip
    assert (missing.value.code, missing.value.field) == ("shipping_country_required", "shipping_country")
    assert (unknown.value.code, unknown.value.field) == ("country_unknown", "shipping_country")
    assert state() == before  # no pledge, no payment, no place taken
    assert TierSlot.objects.filter(tier=early, pledge__isnull=True).count() == 3


def test_no_reward_or_a_reward_without_rates_ships_nothing(
    make_campaign: Callable[..., Campaign], other_user: User
) -> None:
    campaign = make_campaign()  # its tiers have no shipping rates

    plain = pledges.pledge_create(backer=other_user, campaign=campaign, tier=campaign.open_tier,  # type: ignore[attr-defined]
                                  shipping_country="DE", payment_method=OK)  # fmt: skip
    gift = pledges.pledge_create(backer=other_user, campaign=campaign, extra=1_000, shipping_country="DE",
                                 payment_method=OK)  # fmt: skip

    assert (plain.shipping_amount, plain.shipping_country, plain.amount, plain.unit_cost) == (0, "", 5_000, 1_500)
    assert (gift.shipping_amount, gift.shipping_country, gift.amount) == (0, "", 1_000)


def test_the_fee_is_not_taken_on_shipping_when_a_flexible_pledge_is_captured(
    make_campaign: Callable[..., Campaign], other_user: User
) -> None:
    campaign = shipped_campaign(make_campaign, "flexible-shipped", funding_model=FundingModel.FLEXIBLE)

    pledge = pledges.pledge_create(backer=other_user, campaign=campaign, tier=campaign.open_tier,  # type: ignore[attr-defined]
                                   shipping_country="US", payment_method=OK)  # fmt: skip

    assert (pledge.status, pledge.amount, pledge.shipping_amount) == (PledgeStatus.CAPTURED, 7_000, 2_000)
    fee_leg = Leg.objects.get(transaction__kind="platform-fee", account__purpose="platform-revenue")
    assert fee_leg.amount == 350  # 10 % of 50.00 - 15.00; on 70.00 - 15.00 it would have been 5.50
    received = Account.objects.get(owner_kind="campaign", owner_id=str(campaign.pk), purpose="received")
    assert received.balance == 7_000 - 350  # the shipping reaches the campaign whole
    assert Payment.objects.get().fee_amount == 350
    report = io.StringIO()
    assert verify.run_verify(out=report, err=report), report.getvalue()


def test_changing_the_country_prices_the_shipping_anew(shipped: Campaign, other_user: User) -> None:
    lamp = shipped.open_tier  # type: ignore[attr-defined]
    old = pledges.pledge_create(
        backer=other_user, campaign=shipped, tier=lamp, shipping_country="DE", payment_method=OK
    )

    new = pledges.pledge_change(backer=other_user, pledge_id=old.pk, tier=lamp, shipping_country="US",
                                payment_method=OK)  # fmt: skip

    old.refresh_from_db()
    assert (new.shipping_country, new.shipping_amount, new.amount, new.unit_cost) == ("US", 2_000, 7_000, 3_500)
    assert (new.status, new.replaces_id, old.status) == (PledgeStatus.AUTHORIZED, old.pk, PledgeStatus.REPLACED)
    assert Payment.objects.get(reference=f"pledge-{old.pk}").status == PaymentStatus.VOIDED

    gift = pledges.pledge_change(backer=other_user, pledge_id=new.pk, tier=None, extra=2_000, shipping_country="US",
                                 payment_method=OK)  # fmt: skip
    assert (gift.shipping_country, gift.shipping_amount, gift.amount) == ("", 0, 2_000)


def test_a_change_to_a_country_not_shipped_to_keeps_the_pledge(shipped: Campaign, other_user: User) -> None:
    early = shipped.tier  # type: ignore[attr-defined]
    old = pledges.pledge_create(
        backer=other_user, campaign=shipped, tier=early, shipping_country="FR", payment_method=OK
    )
    before = state()

    with pytest.raises(Invalid) as refused:
        pledges.pledge_change(backer=other_user, pledge_id=old.pk, tier=early, shipping_country="US", payment_method=OK)

    old.refresh_from_db()
    assert (refused.value.code, refused.value.message) == (
        "not_shipped_there", "This reward does not ship to United States.",
    )  # fmt: skip
    assert (old.status, old.shipping_country, old.amount) == (PledgeStatus.AUTHORIZED, "FR", 4_700)
    assert state() == before


def test_a_retry_under_the_same_key_must_name_the_same_country(shipped: Campaign, other_user: User) -> None:
    lamp = shipped.open_tier  # type: ignore[attr-defined]
    first = pledges.pledge_create(backer=other_user, campaign=shipped, tier=lamp, shipping_country="DE",
                                  payment_method=OK, request_key="k-1")  # fmt: skip
    again = pledges.pledge_create(backer=other_user, campaign=shipped, tier=lamp, shipping_country="de",
                                  payment_method=OK, request_key="k-1")  # fmt: skip
    before = state()

    with pytest.raises(Invalid) as reused:
        pledges.pledge_create(backer=other_user, campaign=shipped, tier=lamp, shipping_country="FR",
                              payment_method=OK, request_key="k-1")  # fmt: skip

    assert again.pk == first.pk
    assert reused.value.code == "idempotency_key_reused"
    assert state() == before


# --- after success: survey, report, totals ----------------------------------------------------------------------------


def succeeded_with_shipping(make_campaign: Callable[..., Campaign], make_user: Callable[..., User]) -> Campaign:
    campaign = shipped_campaign(make_campaign, "ships-run", goal=5_000)
    ana, ben = make_user("ana"), make_user("ben")
    campaign.ana = pledges.pledge_create(backer=ana, campaign=campaign, tier=campaign.open_tier,  # type: ignore[attr-defined]
                                         shipping_country="DE", payment_method=OK)  # fmt: skip
    campaign.ben = pledges.pledge_create(backer=ben, campaign=campaign, tier=campaign.open_tier,  # type: ignore[attr-defined]
                                         shipping_country="FR", payment_method=OK)  # fmt: skip
    report = settlement.campaign_settle(campaign_id=campaign.pk, now=campaign.deadline + settlement.IN_FLIGHT_GRACE)
    assert report.status == "succeeded", report
    campaign.refresh_from_db()
    return campaign


def home(country: str) -> surveys.AddressIn:
    return surveys.AddressIn(ship_to="Ana Backer", address_line1="Hauptstraße 1", city="Berlin", country=country)


def test_the_survey_address_must_be_in_the_country_shipping_was_paid_to(
    make_campaign: Callable[..., Campaign], make_user: Callable[..., User], django_capture_on_commit_callbacks: Any
) -> None:
    campaign = succeeded_with_shipping(make_campaign, make_user)
    with django_capture_on_commit_callbacks(execute=True):
        surveys.survey_open(actor=campaign.created_by, campaign=campaign,
                            address_lock_at=timezone.now() + timedelta(days=14))  # fmt: skip
    ana = campaign.ana  # type: ignore[attr-defined]
    form = Client()
    form.force_login(ana.backer)
    page = form.get(f"/pledges/{ana.pk}/survey/")
    assert page.status_code == 200
    assert re.search(r'<option value="DE" selected>Germany</option>', page.content.decode())  # preselected

    with pytest.raises(Invalid) as refused:
        surveys.survey_answer(backer=ana.backer, pledge_id=ana.pk, address=home("AT"), answers={})

    assert (refused.value.code, refused.value.field) == ("country_not_pledged", "country")
    assert "paid shipping to Germany" in refused.value.message
    assert "change your pledge before the campaign's deadline, or write to the makers" in refused.value.message
    response = SurveyResponse.objects.get(pledge=ana)
    assert (response.answered_at, response.country, response.ship_to) == (None, "", "")  # nothing recorded

    answered = surveys.survey_answer(backer=ana.backer, pledge_id=ana.pk, address=home("de"), answers={})
    assert (answered.country, answered.answered_at is not None) == ("DE", True)


def test_the_report_and_the_totals_show_the_shipping(
    make_campaign: Callable[..., Campaign], make_user: Callable[..., User], django_capture_on_commit_callbacks: Any
) -> None:
    campaign = succeeded_with_shipping(make_campaign, make_user)
    ana, ben = campaign.ana, campaign.ben  # type: ignore[attr-defined]
    with django_capture_on_commit_callbacks(execute=True):
        surveys.survey_open(actor=campaign.created_by, campaign=campaign,
                            address_lock_at=timezone.now() + timedelta(days=14))  # fmt: skip
    surveys.survey_answer(backer=ana.backer, pledge_id=ana.pk, address=home("DE"), answers={})
    surveys.survey_answer(backer=ben.backer, pledge_id=ben.pk, address=home("FR"), answers={})

    text = "".join(reports.backer_report_csv(actor=campaign.created_by, campaign=campaign)).removeprefix(reports.BOM)
    rows = list(csv.DictReader(io.StringIO(text)))
    totals = fulfilment.fulfilment_totals(campaign=campaign)

    assert [(r["pledge"], r["amount"], r["shipping_amount"], r["shipping_country"]) for r in rows] == [
        (str(ana.pk), "55.00", "5.00", "DE"), (str(ben.pk), "58.00", "8.00", "FR"),
    ]  # fmt: skip
    assert [(r.key, r.pledges, r.amount.amount, r.shipping.amount) for r in totals.by_country] == [
        ("FR", 1, 5_800, 800),
        ("DE", 1, 5_500, 500),
    ]  # fmt: skip  (ties by name: France before Germany)
    assert (totals.overall.amount.amount, totals.overall.shipping.amount) == (11_300, 1_300)
    assert Pledge.objects.filter(campaign=campaign).aggregate(s=Sum("shipping_amount"))["s"] == 1_300
    # Settled at the deadline: each capture's fee is 10 % of 50.00 - 15.00, its shipping left out.
    assert sorted(Payment.objects.values_list("captured_amount", "fee_amount")) == [(5_500, 350), (5_800, 350)]


# --- the JSON API ---------------------------------------------------------------------------------------------------


def test_rates_and_shipped_pledges_through_the_api(
    make_campaign: Callable[..., Campaign], api_for: Callable[..., ApiClient], user: User, other_user: User
) -> None:
    draft = make_campaign(publish=False)
    maker, backer = api_for(user), api_for(other_user)
    base = f"/api/v1/campaigns/{draft.slug}"

    added = maker.post(f"{base}/tiers", {"title": "Two lamps", "price": 9_000, "unit_cost": 3_000,
                                         "shipping": [{"region": "europe", "amount": 1_000},
                                                      {"country": "DE", "amount": 600}]})  # fmt: skip
    assert added.status_code == 201, added.content
    assert added.json()["shipping"] == [
        {"region": "europe", "country": "", "name": "Europe", "amount": 1_000},
        {"region": "", "country": "DE", "name": "Germany", "amount": 600},
    ]
    lamp = draft.open_tier  # type: ignore[attr-defined]
    body = {"rates": [{"region": "world", "amount": 2_000}, {"country": "DE", "amount": 500},
                      {"region": "europe", "amount": 800}]}  # fmt: skip
    put = maker.request("PUT", f"{base}/tiers/{lamp.pk}/shipping", body)
    assert put.status_code == 200, put.content
    assert [(r["name"], r["amount"]) for r in put.json()["shipping"]] == [
        ("Europe", 800), ("Germany", 500), ("Everywhere", 2_000),
    ]  # fmt: skip
    bad = maker.request("PUT", f"{base}/tiers/{lamp.pk}/shipping", {"rates": [{"region": "mars", "amount": 1}]})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "region_unknown")
    assert maker.post(f"{base}/publish").status_code == 200

    shown = {tier["title"]: tier["shipping"] for tier in backer.get(base).json()["tiers"]}
    assert shown["Early bird"] == []  # nothing to ship
    assert [r["name"] for r in shown["Lamp"]] == ["Europe", "Germany", "Everywhere"]
    fixed = maker.request("PUT", f"{base}/tiers/{lamp.pk}/shipping", {"rates": []})
    assert (fixed.status_code, fixed.json()["error"]["code"]) == (409, "not_draft")
    assert len(rates_of(lamp)) == 3

    quote = backer.post(f"{base}/pledges/quote", {"tier": lamp.pk, "shipping_country": "FR"})
    assert quote.status_code == 200, quote.content
    assert {k: quote.json()[k] for k in ("amount", "unit_cost", "fee", "shipping_amount", "shipping_country")} == {
        "amount": 5_800, "unit_cost": 2_300, "fee": 350, "shipping_amount": 800, "shipping_country": "FR",
    }  # fmt: skip
    before = state()
    missing = backer.post(f"{base}/pledges", {"tier": lamp.pk, "payment_method": OK}, headers={"Idempotency-Key": "a"})
    assert (missing.status_code, missing.json()["error"]["code"]) == (422, "shipping_country_required")
    assert missing.json()["error"]["field"] == "shipping_country"
    assert state() == before

    made = backer.post(f"{base}/pledges", {"tier": lamp.pk, "payment_method": OK, "shipping_country": "DE"},
                       headers={"Idempotency-Key": "b"})  # fmt: skip
    assert made.status_code == 201, made.content
    pledge = made.json()
    assert (pledge["amount"], pledge["shipping_amount"], pledge["shipping_country"], pledge["unit_cost"]) == (
        5_500, 500, "DE", 2_000,
    )  # fmt: skip
    changed = backer.post(f"/api/v1/pledges/{pledge['id']}/change",
                          {"tier": lamp.pk, "payment_method": OK, "shipping_country": "JP"},
                          headers={"Idempotency-Key": "c"})  # fmt: skip
    assert changed.status_code == 201, changed.content
    assert (changed.json()["shipping_country"], changed.json()["shipping_amount"], changed.json()["amount"]) == (
        "JP", 2_000, 7_000,
    )  # fmt: skip
    listed = backer.get("/api/v1/pledges").json()["results"]
    assert [(p["shipping_country"], p["status"]) for p in listed] == [("JP", "authorized"), ("DE", "replaced")]


# --- the pages ------------------------------------------------------------------------------------------------------


def words(response: Any) -> str:
    found = " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())
    return re.sub(r" ([.,;:])", r"\1", found)


def test_the_pages_show_the_rates_ask_the_country_and_show_the_shipping(shipped: Campaign, other_user: User) -> None:
    backer = Client()
    backer.force_login(other_user)
    lamp = shipped.open_tier  # type: ignore[attr-defined]
    url = f"/campaigns/{shipped.slug}/pledge/"

    campaign_page = words(backer.get(f"/campaigns/{shipped.slug}/"))
    assert "Shipping Ships to Europe 8.00 EUR, Germany 5.00 EUR, elsewhere 20.00 EUR" in campaign_page
    assert "Shipping Ships to France 7.00 EUR, Germany 5.00 EUR; nowhere else" in campaign_page
    form = backer.get(url).content.decode()
    assert 'name="shipping_country"' in form
    assert '<option value="NO">Norway</option>' in form

    before = state()
    refused = backer.post(url, {"tier": str(shipped.tier.pk), "shipping_country": "NO", "card": OK, "action": "review"})  # type: ignore[attr-defined]
    assert refused.status_code == 422
    assert "This reward does not ship to Norway." in words(refused)
    assert state() == before

    review = backer.post(url, {"tier": str(lamp.pk), "shipping_country": "DE", "card": OK, "action": "review"})
    assert review.status_code == 200
    assert "Shipping to Germany 5.00 EUR" in words(review)
    assert "Total 55.00 EUR" in words(review)
    key = re.search(r'name="request_key" value="([0-9a-f]{32})"', review.content.decode())
    assert key is not None
    made = backer.post(url, {"tier": str(lamp.pk), "shipping_country": "DE", "card": OK, "action": "confirm",
                             "request_key": key.group(1)})  # fmt: skip
    assert made.status_code == 302
    pledge = Pledge.objects.get()
    assert (pledge.shipping_country, pledge.shipping_amount, pledge.amount) == ("DE", 500, 5_500)
    assert "Shipping to Germany: 5.00 EUR" in words(backer.get(made["Location"]))
    assert "Shipping to Germany: 5.00 EUR" in words(backer.get(f"/pledges/{pledge.pk}/"))
    assert "incl. shipping to Germany: 5.00 EUR" in words(backer.get("/pledges/"))


def test_the_maker_types_rates_on_the_draft_page(make_campaign: Callable[..., Campaign], user: User) -> None:
    draft = make_campaign(publish=False)
    maker = Client()
    maker.force_login(user)
    url = f"/campaigns/{draft.slug}/edit/"

    added = maker.post(url, {"action": "tier", "tier-title": "Two lamps", "tier-price": "90",
                             "tier-shipping": "Europe 10\nDE: 6.00\nworld 25"})  # fmt: skip
    set_rates = maker.post(url, {"action": "shipping", "shipping-tier": str(draft.open_tier.pk),  # type: ignore[attr-defined]
                                 "shipping-shipping": "north america 12.50"})  # fmt: skip
    before = rates_of(draft.open_tier)  # type: ignore[attr-defined]
    refused = maker.post(url, {"action": "shipping", "shipping-tier": str(draft.open_tier.pk),  # type: ignore[attr-defined]
                               "shipping-shipping": "Narnia 5"})  # fmt: skip

    assert (added.status_code, set_rates.status_code) == (302, 302)
    assert rates_of(Tier.objects.get(title="Two lamps")) == [
        ("", "DE", 600),
        ("europe", "", 1_000),
        ("world", "", 2_500),
    ]
    assert before == [("north-america", "", 1_250)]
    assert refused.status_code == 422
    assert "“narnia” is not a region" in words(refused)
    assert rates_of(draft.open_tier) == before  # type: ignore[attr-defined]
    assert "Ships to North America 12.50 EUR; nowhere else" in words(maker.get(url))
