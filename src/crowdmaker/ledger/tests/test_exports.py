"""Exports: CSV rows exact to the minor unit, and Beancount files that `bean-check` accepts."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
import threading
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from crowdmaker.ledger import exports, services
from crowdmaker.ledger.exports import (
    CSV_HEADER,
    beancount_account,
    decimal_text,
    write_beancount,
    write_csv,
)
from crowdmaker.ledger.models import Account, Transaction
from crowdmaker.ledger.money import Money


def bean_check_path() -> str:
    found = shutil.which("bean-check") or str(Path(sys.executable).with_name("bean-check"))
    if not Path(found).exists():
        pytest.fail("bean-check is missing: install the dev extras (pip install -e '.[dev]').")
    return found


@dataclass
class Books:
    accounts: dict[str, Account]
    txns: dict[str, Transaction]


def eur(cents: int) -> Money:
    return Money(cents, "EUR")


def usd(cents: int) -> Money:
    return Money(cents, "USD")


@pytest.fixture
def books(db: None) -> Books:
    """A campaign funded in EUR and USD, the platform's fee, a distribution to a team and a maker, a refund,
    a reversal and a payout."""
    open_ = services.account_open
    a = {
        "card": open_(
            owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="EUR", allow_negative=True
        ),
        "card_usd": open_(
            owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="USD", allow_negative=True
        ),
        "escrow": open_(owner_kind="campaign", owner_id="7", purpose="campaign-escrow", currency="EUR"),
        "escrow_usd": open_(owner_kind="campaign", owner_id="7", purpose="campaign-escrow", currency="USD"),
        "fee": open_(owner_kind="platform", purpose="platform-revenue", currency="EUR"),
        "fee_usd": open_(owner_kind="platform", purpose="platform-revenue", currency="USD"),
        "team": open_(owner_kind="team", owner_id="3", purpose="received", currency="EUR"),
        "maker": open_(owner_kind="person", owner_id="12", purpose="contributor-payable", currency="EUR"),
    }
    t = {}
    t["capture"] = services.transaction_post(
        kind="pledge-capture",
        legs=[(a["card"], eur(-25000)), (a["escrow"], eur(25000))],
        memo='Pledges of "Lamp" campaign',
        subject=("campaign", "7"),
    )
    t["capture_usd"] = services.transaction_post(
        kind="pledge-capture", legs=[(a["card_usd"], usd(-9999)), (a["escrow_usd"], usd(9999))]
    )
    t["fee"] = services.transaction_post(
        kind="platform-fee",
        legs=[
            (a["escrow"], eur(-2500)),
            (a["fee"], eur(2500)),
            (a["escrow_usd"], usd(-1000)),
            (a["fee_usd"], usd(1000)),
        ],
    )
    t["distribution"] = services.transaction_post(
        kind="distribution",
        legs=[(a["escrow"], eur(-20000)), (a["team"], eur(13334)), (a["maker"], eur(6666))],
        subject=("campaign", "7"),
    )
    t["refund"] = services.transaction_post(kind="refund", legs=[(a["escrow"], eur(-1)), (a["card"], eur(1))])
    t["reversal"] = services.transaction_reverse(original=t["refund"], memo="Refund sent twice by mistake")
    t["payout"] = services.transaction_post(kind="payout", legs=[(a["team"], eur(-13334)), (a["card"], eur(13334))])
    return Books(accounts=a, txns=t)


def csv_rows(owner: tuple[str, str] | None = None) -> list[list[str]]:
    stream = io.StringIO()
    write_csv(stream, owner)
    return list(csv.reader(io.StringIO(stream.getvalue())))


# --- CSV -------------------------------------------------------------------------------------------------------


def test_decimal_text_is_exact_for_each_currencys_digits() -> None:
    assert [decimal_text(n, "EUR") for n in (0, 1, -1, 1999, -250000, 10**15 + 7)] == [
        "0.00",
        "0.01",
        "-0.01",
        "19.99",
        "-2500.00",
        "10000000000000.07",
    ]
    assert (decimal_text(1500, "JPY"), decimal_text(-1234, "KWD")) == ("1500", "-1.234")


def test_csv_has_one_exact_row_per_leg_in_posting_order(books: Books) -> None:
    rows = csv_rows()
    t = books.txns

    def row(txn: Transaction, account: str, currency: str, amount: str, minor: int) -> list[str]:
        return [str(txn.pk), txn.posted_at.isoformat(), txn.kind, txn.memo, account, currency, amount, str(minor)]

    assert rows[0] == CSV_HEADER
    assert rows[1:] == [
        row(t["capture"], "gateway:sandbox/gateway-clearing", "EUR", "-250.00", -25000),
        row(t["capture"], "campaign:7/campaign-escrow", "EUR", "250.00", 25000),
        row(t["capture_usd"], "gateway:sandbox/gateway-clearing", "USD", "-99.99", -9999),
        row(t["capture_usd"], "campaign:7/campaign-escrow", "USD", "99.99", 9999),
        row(t["fee"], "campaign:7/campaign-escrow", "EUR", "-25.00", -2500),
        row(t["fee"], "platform/platform-revenue", "EUR", "25.00", 2500),
        row(t["fee"], "campaign:7/campaign-escrow", "USD", "-10.00", -1000),
        row(t["fee"], "platform/platform-revenue", "USD", "10.00", 1000),
        row(t["distribution"], "campaign:7/campaign-escrow", "EUR", "-200.00", -20000),
        row(t["distribution"], "team:3/received", "EUR", "133.34", 13334),
        row(t["distribution"], "person:12/contributor-payable", "EUR", "66.66", 6666),
        row(t["refund"], "campaign:7/campaign-escrow", "EUR", "-0.01", -1),
        row(t["refund"], "gateway:sandbox/gateway-clearing", "EUR", "0.01", 1),
        row(t["reversal"], "campaign:7/campaign-escrow", "EUR", "0.01", 1),
        row(t["reversal"], "gateway:sandbox/gateway-clearing", "EUR", "-0.01", -1),
        row(t["payout"], "team:3/received", "EUR", "-133.34", -13334),
        row(t["payout"], "gateway:sandbox/gateway-clearing", "EUR", "133.34", 13334),
    ]
    assert rows[1][3] == 'Pledges of "Lamp" campaign'


def test_csv_sums_to_zero_per_currency_and_per_transaction(books: Books) -> None:
    per_currency: dict[str, Decimal] = defaultdict(Decimal)
    per_transaction: dict[tuple[str, str], int] = defaultdict(int)
    for txn_id, _, _, _, _, currency, amount, minor in csv_rows()[1:]:
        assert Decimal(amount) * 100 == int(minor)
        per_currency[currency] += Decimal(amount)
        per_transaction[txn_id, currency] += int(minor)

    assert dict(per_currency) == {"EUR": Decimal("0.00"), "USD": Decimal("0.00")}
    assert set(per_transaction.values()) == {0}


def test_csv_of_one_owner_has_only_its_legs(books: Books) -> None:
    rows = csv_rows(("team", "3"))

    assert [(r[2], r[4], r[6]) for r in rows[1:]] == [
        ("distribution", "team:3/received", "133.34"),
        ("payout", "team:3/received", "-133.34"),
    ]


# --- Beancount -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "owner_id", "purpose", "name"),
    [
        ("team", "3", "received", "Liabilities:Team:3:Received"),
        ("campaign", "7", "campaign-escrow", "Liabilities:Campaign:7:Escrow"),
        ("person", "12", "contributor-payable", "Liabilities:Person:12:Contributor-Payable"),
        ("gateway", "sandbox", "gateway-clearing", "Assets:Gateway:Sandbox:Clearing"),
        ("platform", "", "platform-revenue", "Income:Platform:Revenue"),
        ("platform", "", "gateway-fee-expense", "Expenses:Platform:Gateway-Fee-Expense"),
        ("platform", "", "reserve", "Assets:Platform:Reserve"),
    ],
)
def test_beancount_account_names(kind: str, owner_id: str, purpose: str, name: str) -> None:
    assert beancount_account(kind, owner_id, purpose) == name


def test_odd_owner_ids_still_give_valid_distinct_account_names() -> None:
    first = beancount_account("gateway", "stripe_eu.1", "gateway-clearing")
    second = beancount_account("gateway", "stripe-eu1", "gateway-clearing")

    assert first != second
    assert first.startswith("Assets:Gateway:XStripe")


def test_two_purposes_that_would_share_a_beancount_name_are_refused(db: None) -> None:
    services.account_open(owner_kind="campaign", owner_id="7", purpose="campaign-escrow", currency="EUR")
    services.account_open(owner_kind="campaign", owner_id="7", purpose="escrow", currency="EUR")

    with pytest.raises(CommandError, match="Liabilities:Campaign:7:Escrow"):
        beancount_text()


def run_bean_check(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "ledger.beancount"
    path.write_text(text, encoding="utf-8")
    command = [bean_check_path(), str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603


def beancount_text(owner: tuple[str, str] | None = None) -> str:
    stream = io.StringIO()
    write_beancount(stream, owner)
    return stream.getvalue()


def test_the_beancount_export_passes_bean_check(books: Books, tmp_path: Path) -> None:
    text = beancount_text()

    result = run_bean_check(tmp_path, text)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "open Liabilities:Campaign:7:Escrow  EUR,USD" in text
    assert "open Income:Platform:Revenue  EUR,USD" in text
    assert "open Assets:Gateway:Sandbox:Clearing  EUR,USD" in text
    # Postings are the platform's view: the negation of each leg.
    capture = books.txns["capture"]
    assert (
        f'{capture.posted_at.date().isoformat()} * "pledge-capture" "Pledges of \\"Lamp\\" campaign"\n'
        f'  ledger-id: "{capture.pk}"\n'
        '  subject: "campaign:7"\n'
        "  Assets:Gateway:Sandbox:Clearing  250.00 EUR\n"
        "  Liabilities:Campaign:7:Escrow  -250.00 EUR\n"
    ) in text
    assert f'  reverses: "{books.txns["refund"].pk}"' in text
    assert "balance Liabilities:Person:12:Contributor-Payable  -66.66 ~ 0 EUR" in text
    assert "balance Liabilities:Team:3:Received  0.00 ~ 0 EUR" in text
    assert "balance Income:Platform:Revenue  -10.00 ~ 0 USD" in text


def test_one_owners_beancount_export_balances_against_equity_external(books: Books, tmp_path: Path) -> None:
    text = beancount_text(("campaign", "7"))

    result = run_bean_check(tmp_path, text)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Assets:Gateway" not in text
    assert "open Equity:External" in text
    fee = books.txns["fee"]
    assert (
        f'  ledger-id: "{fee.pk}"\n'
        "  Liabilities:Campaign:7:Escrow  25.00 EUR\n"
        "  Liabilities:Campaign:7:Escrow  10.00 USD\n"
        "  Equity:External  -25.00 EUR\n"
        "  Equity:External  -10.00 USD\n"
    ) in text


def test_bean_check_catches_a_cached_balance_that_disagrees_with_the_legs(books: Books, tmp_path: Path) -> None:
    with connection.cursor() as cursor:  # forge the corruption the database would otherwise refuse
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE ledger_account SET balance = balance + 1 WHERE id = %s", [books.accounts["team"].pk])
        cursor.execute("SET LOCAL session_replication_role = origin")

    result = run_bean_check(tmp_path, beancount_text())

    assert result.returncode != 0
    assert "Liabilities:Team:3:Received" in result.stdout + result.stderr


def test_an_empty_ledger_exports_a_valid_file(db: None, tmp_path: Path) -> None:
    assert run_bean_check(tmp_path, beancount_text()).returncode == 0
    assert csv_rows() == [CSV_HEADER]


# --- the command -----------------------------------------------------------------------------------------------


def test_the_command_writes_csv_to_stdout_and_beancount_to_a_file(books: Books, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("ledger", "export", "--format", "csv", "--owner", "person:12", stdout=out, stderr=err)
    assert out.getvalue().splitlines()[1].endswith("person:12/contributor-payable,EUR,66.66,6666")

    target = tmp_path / "books.beancount"
    call_command("ledger", "export", "--format", "beancount", "--output", str(target), stdout=out, stderr=err)
    assert target.read_text(encoding="utf-8") == beancount_text()
    assert f"Wrote the beancount export to {target}." in err.getvalue()


def test_the_platforms_own_export(books: Books, tmp_path: Path) -> None:
    out = io.StringIO()
    call_command("ledger", "export", "--format", "beancount", "--owner", "platform", stdout=out)

    assert run_bean_check(tmp_path, out.getvalue()).returncode == 0
    assert "balance Income:Platform:Revenue  -25.00 ~ 0 EUR" in out.getvalue()


@pytest.mark.parametrize("owner", ["team", "Team:3", ":3", "team 3"])
def test_a_malformed_owner_is_refused(db: None, owner: str) -> None:
    with pytest.raises(CommandError, match="--owner must be kind:id"):
        call_command("ledger", "export", "--format", "csv", "--owner", owner, stdout=io.StringIO())


# --- one snapshot ------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_posting_committed_while_the_export_runs_is_not_seen_half_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given committed books, and another connection that posts (to an account the export has not seen yet)
    # right after the export has read the accounts and before it reads the legs
    card = services.account_open(
        owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="EUR", allow_negative=True
    )
    escrow = services.account_open(owner_kind="campaign", owner_id="7", purpose="campaign-escrow", currency="EUR")
    services.transaction_post(kind="pledge-capture", legs=[(card, eur(-700)), (escrow, eur(700))])
    isolation: list[str] = []

    def post_from_another_connection() -> None:
        try:
            team = services.account_open(owner_kind="team", owner_id="3", purpose="received", currency="EUR")
            services.transaction_post(kind="distribution", legs=[(escrow, eur(-300)), (team, eur(300))])
        finally:
            connection.close()

    read_legs = exports._legs

    def legs_after_a_concurrent_posting(owner: tuple[str, str] | None) -> Any:
        with connection.cursor() as cursor:
            cursor.execute("SHOW transaction_isolation")
            isolation.append(cursor.fetchone()[0])
        thread = threading.Thread(target=post_from_another_connection)
        thread.start()
        thread.join(timeout=30)
        return read_legs(owner)

    monkeypatch.setattr(exports, "_legs", legs_after_a_concurrent_posting)

    # When the ledger is exported meanwhile
    text = beancount_text()
    csv_text = io.StringIO()
    write_csv(csv_text)

    # Then the export is the ledger before the posting, whole, and bean-check accepts it
    assert isolation == ["repeatable read", "repeatable read"]
    assert Transaction.objects.filter(kind="distribution").count() == 2  # both posted, neither exported
    assert "distribution" not in text
    # (the CSV export reads once, so its snapshot begins after its hook: both postings are in it, whole)
    assert csv_text.getvalue().count(",distribution,") == 4
    result = run_bean_check(tmp_path, text)
    assert result.returncode == 0, result.stdout + result.stderr + text
    # and the next export has the postings, whole
    monkeypatch.setattr(exports, "_legs", read_legs)
    later = beancount_text()
    assert later.count('* "distribution"') == 2
    assert run_bean_check(tmp_path, later).returncode == 0
