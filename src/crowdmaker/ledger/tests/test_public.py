"""The public ledger: who may read an owner's ledger, what they see, running balances, and query counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crowdmaker.ledger import services
from crowdmaker.ledger.models import Account, Transaction
from crowdmaker.ledger.money import Money
from crowdmaker.people import services as people
from crowdmaker.people.ledger_owners import person_pseudonym
from crowdmaker.people.models import Team, User


@dataclass
class World:
    team: Team
    owner: User  # the team's owner
    backer: User  # a person who received a distribution
    txns: dict[str, Transaction]
    accounts: dict[str, Account]


def eur(cents: int) -> Money:
    return Money(cents, "EUR")


@pytest.fixture
def world(user: User, other_user: User) -> World:
    team = people.team_create(actor=user, slug="lamp-makers", name="Lamp makers")
    tid = str(team.pk)
    accounts = {
        "card": services.account_open(
            owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="EUR", allow_negative=True
        ),
        "card_usd": services.account_open(
            owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="USD", allow_negative=True
        ),
        "team": services.account_open(owner_kind="team", owner_id=tid, purpose="received", currency="EUR"),
        "team_usd": services.account_open(owner_kind="team", owner_id=tid, purpose="received", currency="USD"),
        "team_reserve": services.account_open(owner_kind="team", owner_id=tid, purpose="reserve", currency="EUR"),
        "fee": services.account_open(owner_kind="platform", purpose="platform-revenue", currency="EUR"),
        "bruno": services.account_open(
            owner_kind="person", owner_id=str(other_user.pk), purpose="contributor-payable", currency="EUR"
        ),
    }
    a = accounts
    txns = {}
    txns["capture"] = services.transaction_post(
        kind="pledge-capture",
        legs=[(a["card"], eur(-10000)), (a["team"], eur(10000))],
        memo="Pledge 41 captured",
        subject=("campaign", "5"),
    )
    txns["fee"] = services.transaction_post(kind="platform-fee", legs=[(a["team"], eur(-1000)), (a["fee"], eur(1000))])
    txns["distribution"] = services.transaction_post(
        kind="distribution", legs=[(a["team"], eur(-3000)), (a["bruno"], eur(3000))], memo="Share of Bruno"
    )
    txns["usd"] = services.transaction_post(
        kind="pledge-capture", legs=[(a["card_usd"], Money(-5000, "USD")), (a["team_usd"], Money(5000, "USD"))]
    )
    txns["reserve"] = services.transaction_post(
        kind="transfer", legs=[(a["team"], eur(-500)), (a["team_reserve"], eur(500))]
    )
    txns["refund"] = services.transaction_post(kind="refund", legs=[(a["team"], eur(-2000)), (a["card"], eur(2000))])
    txns["reversal"] = services.transaction_reverse(original=txns["distribution"])
    return World(team=team, owner=user, backer=other_user, txns=txns, accounts=accounts)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def team_url(world: World, api: str = "") -> str:
    return f"/api/v1/ledger/team/{world.team.pk}/{api}" if api else f"/ledger/team/{world.team.pk}/"


def brief(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            e["kind"],
            [(m["amount"], m["currency"]) for m in e["amounts"]],
            [(m["amount"], m["currency"]) for m in e["balances"]],
            [c["label"] for c in e["counterparts"]],
        )
        for e in entries
    ]


# --- the API ---------------------------------------------------------------------------------------------------


def test_anyone_reads_a_teams_ledger_newest_first_with_running_balances(world: World) -> None:
    response = Client().get(team_url(world, "transactions"))

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    bruno = person_pseudonym(world.backer.pk)
    gateway = "Payment gateway (sandbox)"
    assert brief(body["results"]) == [
        ("reversal", [("30.00", "EUR")], [("70.00", "EUR")], [bruno]),
        ("refund", [("-20.00", "EUR")], [("40.00", "EUR")], [gateway]),
        ("transfer", [("0.00", "EUR")], [("60.00", "EUR")], []),
        ("pledge-capture", [("50.00", "USD")], [("50.00", "USD")], [gateway]),
        ("distribution", [("-30.00", "EUR")], [("60.00", "EUR")], [bruno]),
        ("platform-fee", [("-10.00", "EUR")], [("90.00", "EUR")], ["Crowdmaker platform"]),
        ("pledge-capture", [("100.00", "EUR")], [("100.00", "EUR")], [gateway]),
    ]
    first = body["results"][0]
    assert first["id"] == world.txns["reversal"].pk
    assert first["reverses"] == world.txns["distribution"].pk
    assert first["amounts"][0]["amount_minor"] == 3000
    # Visitors get no detail.
    assert {(e["memo"], e["subject"], e["legs"]) for e in body["results"]} == {(None, None, None)}
    assert "Bruno" not in response.content.decode()


def test_the_last_running_balance_is_the_owners_balance(world: World) -> None:
    body = Client().get(team_url(world, "transactions")).json()
    team_accounts = Account.objects.filter(owner_kind="team", owner_id=str(world.team.pk))
    cached: dict[str, int] = {}
    for account in team_accounts:
        cached[account.currency] = cached.get(account.currency, 0) + account.balance

    latest: dict[str, int] = {}
    for entry in reversed(body["results"]):
        for money in entry["balances"]:
            latest[money["currency"]] = money["amount_minor"]

    assert latest == cached == {"EUR": 7000, "USD": 5000}


def test_the_summary_gives_balances_and_totals_per_kind(world: World) -> None:
    response = Client().get(team_url(world, "summary"))

    assert response.status_code == 200
    body = response.json()
    assert body["owner"] == {
        "kind": "team",
        "id": str(world.team.pk),
        "label": "Lamp makers",
        "public": True,
        "url": "/teams/lamp-makers/",
    }
    assert body["detail"] is False
    assert [(m["amount"], m["currency"]) for m in body["balances"]] == [("70.00", "EUR"), ("50.00", "USD")]
    assert [(t["kind"], t["total"]["amount"], t["total"]["currency"], t["count"]) for t in body["totals"]] == [
        ("distribution", "-30.00", "EUR", 1),
        ("platform-fee", "-10.00", "EUR", 1),
        ("pledge-capture", "100.00", "EUR", 1),
        ("pledge-capture", "50.00", "USD", 1),
        ("refund", "-20.00", "EUR", 1),
        ("reversal", "30.00", "EUR", 1),
        ("transfer", "0.00", "EUR", 1),
    ]
    assert body["transaction_count"] == 7


def test_owners_and_operators_see_memo_subject_and_legs(world: World, make_user: Callable[..., User]) -> None:
    operator = make_user("opal", is_staff=True)
    for viewer in (world.owner, operator):
        body = signed_in(viewer).get(team_url(world, "transactions")).json()
        capture = body["results"][-1]
        assert capture["memo"] == "Pledge 41 captured"
        assert capture["subject"] == "campaign:5"
        assert [(leg["owner"], leg["purpose"], leg["amount"]["amount"]) for leg in capture["legs"]] == [
            ("Payment gateway (sandbox)", "gateway-clearing", "-100.00"),
            ("Lamp makers", "received", "100.00"),
        ]
        assert signed_in(viewer).get(team_url(world, "summary")).json()["detail"] is True


def test_a_token_holder_who_owns_the_team_sees_detail_and_a_bad_token_is_refused(world: World) -> None:
    _, token = people.api_token_create(user=world.owner, name="ledger", scope="read")

    body = Client(headers={"Authorization": f"Bearer {token}"}).get(team_url(world, "summary")).json()
    assert body["detail"] is True

    refused = Client(headers={"Authorization": "Bearer not-a-token"}).get(team_url(world, "summary"))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"


def test_a_persons_ledger_is_theirs_and_the_operators_only(world: World, make_user: Callable[..., User]) -> None:
    url = f"/api/v1/ledger/person/{world.backer.pk}/transactions"
    operator = make_user("opal", is_staff=True)

    for client in (Client(), signed_in(world.owner)):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json() == {
            "error": {"code": "ledger_not_found", "message": "No public ledger here.", "field": None}
        }
    for viewer in (world.backer, operator):
        body = signed_in(viewer).get(url).json()
        assert [(e["kind"], e["amounts"][0]["amount"], e["balances"][0]["amount"]) for e in body["results"]] == [
            ("reversal", "-30.00", "0.00"),
            ("distribution", "30.00", "30.00"),
        ]
        assert body["results"][0]["counterparts"] == [{"label": "Lamp makers", "url": "/teams/lamp-makers/"}]


@pytest.mark.parametrize(
    "path", ["team/999999", "team/abc", "campaign-x/1", "nobody/1", "gateway/sandbox", "person/999999"]
)
def test_unknown_or_private_owners_are_not_found_alike(world: World, path: str) -> None:
    for suffix in ("transactions", "summary"):
        response = Client().get(f"/api/v1/ledger/{path}/{suffix}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ledger_not_found"


def test_the_platforms_ledger_is_public_as_platform_dash(world: World) -> None:
    body = Client().get("/api/v1/ledger/platform/-/summary").json()

    assert body["owner"]["label"] == "Crowdmaker platform"
    assert [(m["amount"], m["currency"]) for m in body["balances"]] == [("10.00", "EUR")]


def test_a_person_who_opted_in_is_named_on_others_ledgers(world: World) -> None:
    people.profile_update(user=world.backer, show_on_public_ledgers=True)

    body = Client().get(team_url(world, "transactions")).json()

    assert body["results"][0]["counterparts"] == [{"label": "Bruno Lindqvist", "url": "/makers/bruno/"}]


def test_cursor_pages_cover_every_transaction_once_in_order(world: World) -> None:
    url: str | None = team_url(world, "transactions") + "?page_size=3"
    seen: list[int] = []
    while url:
        body = Client().get(url).json()
        assert len(body["results"]) <= 3
        seen += [e["id"] for e in body["results"]]
        url = body["next"]

    assert seen == sorted((t.pk for t in world.txns.values()), reverse=True)


def test_a_tampered_cursor_is_a_validation_error(world: World) -> None:
    response = Client().get(team_url(world, "transactions") + "?cursor=cD1ub3QtYS1kYXRl")

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "cursor"


def extend(world: World, n: int) -> None:
    a = world.accounts
    for i in range(n):
        services.transaction_post(
            kind="pledge-capture",
            legs=[(a["card"], eur(-100 - i)), (a["team"], eur(100 + i)), (a["bruno"], eur(1)), (a["card"], eur(-1))],
        )


def test_the_api_page_costs_the_same_number_of_queries_however_long(world: World) -> None:
    url = team_url(world, "transactions") + "?page_size=100"
    with CaptureQueriesContext(connection) as short:
        assert len(Client().get(url).json()["results"]) == 7
    extend(world, 40)
    with CaptureQueriesContext(connection) as long:
        assert len(Client().get(url).json()["results"]) == 47

    assert len(long) == len(short) <= 8


# --- the page --------------------------------------------------------------------------------------------------


def test_the_page_shows_anyone_an_accessible_table_of_the_teams_ledger(world: World) -> None:
    response = Client().get(team_url(world))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<caption>Transactions of Lamp makers, newest first</caption>" in html
    assert '<th scope="col">Counterpart</th>' in html
    assert f'<th scope="row">{world.txns["capture"].pk}</th>' in html
    assert "100.00 EUR" in html
    assert "70.00 EUR" in html  # the balance
    assert "50.00 USD" in html
    assert person_pseudonym(world.backer.pk) in html
    assert "Bruno" not in html
    assert "Pledge 41 captured" not in html
    assert f"(reverses #{world.txns['distribution'].pk})" in html


def test_the_page_shows_the_owner_full_detail(world: World) -> None:
    html = signed_in(world.owner).get(team_url(world)).content.decode()

    assert "Pledge 41 captured" in html
    assert "For campaign:5" in html
    assert "gateway-clearing" in html


def test_the_page_of_a_persons_ledger_is_theirs_only(world: World, make_user: Callable[..., User]) -> None:
    url = f"/ledger/person/{world.backer.pk}/"

    assert Client().get(url).status_code == 404
    assert signed_in(world.owner).get(url).status_code == 404
    assert signed_in(world.backer).get(url).status_code == 200
    assert signed_in(make_user("opal", is_staff=True)).get(url).status_code == 200
    assert Client().get("/ledger/team/999999/").status_code == 404
    assert Client().get("/ledger/unknown/1/").status_code == 404


def test_the_page_is_paginated(world: World, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from crowdmaker.ledger import views

    monkeypatch.setattr(views, "ENTRIES_PER_PAGE", 3)
    html = Client().get(team_url(world) + "?page=3").content.decode()

    assert "Page 3 of 3" in html
    assert f'<th scope="row">{world.txns["capture"].pk}</th>' in html
    assert f'<th scope="row">{world.txns["reversal"].pk}</th>' not in html


def test_the_page_costs_the_same_number_of_queries_however_long(world: World) -> None:
    with CaptureQueriesContext(connection) as short:
        Client().get(team_url(world))
    extend(world, 40)
    with CaptureQueriesContext(connection) as long:
        Client().get(team_url(world))

    assert len(long) == len(short) <= 12


def test_the_team_page_links_to_its_public_ledger(world: World) -> None:
    html = Client().get("/teams/lamp-makers/").content.decode()

    assert f'href="/ledger/team/{world.team.pk}/">Public ledger</a>' in html
