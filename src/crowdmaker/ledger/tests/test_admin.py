"""Operators see the ledger in the admin, and nothing there can change it: every write is refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from crowdmaker.ledger import services
from crowdmaker.ledger.models import Account, Leg, Transaction
from crowdmaker.ledger.money import Money
from crowdmaker.people.models import User


@pytest.fixture
def operator(make_user: Callable[..., User]) -> User:
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def operator_client(operator: User) -> Client:
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def ledger(db: None) -> dict[str, object]:
    card = services.account_open(
        owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="EUR", allow_negative=True
    )
    escrow = services.account_open(owner_kind="campaign", owner_id="42", purpose="campaign-escrow", currency="EUR")
    capture = services.transaction_post(
        kind="pledge-capture",
        legs=[(card, Money(-2500, "EUR")), (escrow, Money(2500, "EUR"))],
        subject=("campaign", "42"),
        memo="Pledges of the lamp campaign",
        idempotency_key="capture:42",
    )
    reversal = services.transaction_reverse(original=capture)
    return {"card": card, "escrow": escrow, "capture": capture, "reversal": reversal}


def ledger_state() -> tuple[int, int, list[tuple[int, int, bool]]]:
    return (
        Transaction.objects.count(),
        Leg.objects.count(),
        list(Account.objects.order_by("pk").values_list("pk", "balance", "allow_negative")),
    )


@pytest.mark.parametrize(
    "path",
    [
        "/admin/ledger/",
        "/admin/ledger/account/",
        "/admin/ledger/account/?owner_kind__exact=campaign&currency__exact=EUR",
        "/admin/ledger/account/?q=campaign-escrow",
        "/admin/ledger/transaction/",
        "/admin/ledger/transaction/?kind__exact=pledge-capture",
        "/admin/ledger/transaction/?q=42",
        "/admin/ledger/transaction/?q=gateway-clearing",
        "/admin/ledger/leg/",
        "/admin/ledger/leg/?account__purpose__exact=campaign-escrow",
        "/admin/ledger/leg/?q=sandbox",
    ],
)
def test_ledger_admin_lists_open_for_operators(operator_client: Client, ledger: dict[str, object], path: str) -> None:
    response = operator_client.get(path)

    assert response.status_code == 200


def test_an_account_page_shows_its_balance_cached_and_from_the_legs(
    operator_client: Client, ledger: dict[str, Account]
) -> None:
    page = operator_client.get(f"/admin/ledger/account/{ledger['card'].pk}/change/").content.decode()

    assert "gateway-clearing" in page
    assert page.count("0.00 EUR") >= 2  # captured, then reversed: zero by the cache and by the legs
    assert 'name="_save"' not in page


def test_a_transaction_page_shows_its_legs_read_only(operator_client: Client, ledger: dict[str, Transaction]) -> None:
    page = operator_client.get(f"/admin/ledger/transaction/{ledger['capture'].pk}/change/").content.decode()

    assert "Pledges of the lamp campaign" in page
    assert "-25.00 EUR" in page
    assert "25.00 EUR" in page
    assert f"#{ledger['reversal'].pk} reversal" in page  # it names the transaction that reversed it
    assert 'name="_save"' not in page
    assert 'name="legs-MAX_NUM_FORMS" value="0"' in page  # no leg can be added,
    assert 'name="legs-0-DELETE"' not in page  # nor deleted
    assert 'name="legs-0-amount"' not in page  # nor changed


def test_a_leg_page_opens(operator_client: Client, ledger: dict[str, Transaction]) -> None:
    leg = Leg.objects.filter(transaction=ledger["capture"]).order_by("pk").first()
    assert leg is not None

    response = operator_client.get(f"/admin/ledger/leg/{leg.pk}/change/")

    assert response.status_code == 200
    assert "-25.00 EUR" in response.content.decode()


def test_the_admin_offers_no_add_change_or_delete(operator_client: Client, ledger: dict[str, object]) -> None:
    for model in ("account", "transaction", "leg"):
        page = operator_client.get(f"/admin/ledger/{model}/").content.decode()
        assert f"/admin/ledger/{model}/add/" not in page
        assert 'name="action"' not in page  # no bulk actions, not even delete


def test_posts_to_the_ledger_admin_change_nothing(operator_client: Client, ledger: dict[str, object]) -> None:
    card, capture = ledger["card"], ledger["capture"]
    assert isinstance(card, Account)
    assert isinstance(capture, Transaction)
    leg = Leg.objects.filter(transaction=capture).order_by("pk").first()
    assert leg is not None
    before = ledger_state()
    attempts = [
        ("/admin/ledger/account/add/", {"owner_kind": "platform", "purpose": "x", "currency": "EUR", "balance": 10**6}),
        (f"/admin/ledger/account/{card.pk}/change/", {"purpose": "gateway-clearing", "balance": 10**6}),
        (f"/admin/ledger/account/{card.pk}/delete/", {"post": "yes"}),
        ("/admin/ledger/transaction/add/", {"kind": "gift"}),
        (f"/admin/ledger/transaction/{capture.pk}/change/", {"kind": "gift", "memo": "changed"}),
        (f"/admin/ledger/transaction/{capture.pk}/delete/", {"post": "yes"}),
        ("/admin/ledger/leg/add/", {"transaction": capture.pk, "account": card.pk, "amount": 5, "currency": "EUR"}),
        (f"/admin/ledger/leg/{leg.pk}/change/", {"amount": 5}),
        (f"/admin/ledger/leg/{leg.pk}/delete/", {"post": "yes"}),
    ]
    bulk_deletes = [
        ("/admin/ledger/transaction/", {"action": "delete_selected", "_selected_action": [capture.pk], "post": "yes"}),
        ("/admin/ledger/leg/", {"action": "delete_selected", "_selected_action": [leg.pk], "post": "yes"}),
    ]

    for path, data in attempts:
        response = operator_client.post(path, data)
        assert response.status_code == 403, (path, response.status_code)
    for path, data in bulk_deletes:  # there are no actions: the list is shown again, nothing is deleted
        response = operator_client.post(path, data)
        assert response.status_code == 200, path
        assert "Are you sure" not in response.content.decode()

    assert ledger_state() == before
    capture.refresh_from_db()
    assert (capture.kind, capture.memo) == ("pledge-capture", "Pledges of the lamp campaign")


def test_the_ledger_admin_is_closed_to_makers(signed_in_client: Client, ledger: dict[str, object]) -> None:
    for model in ("account", "transaction", "leg"):
        response = signed_in_client.get(f"/admin/ledger/{model}/")
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
