"""`crowdmaker ledger verify`: green on a sound ledger, red with a readable report for each broken invariant.

The database refuses every one of these corruptions, so the tests forge them with the triggers switched off
(`session_replication_role = replica`, inside the test's own transaction): this file and that setting are the
only places where the ledger is written around `transaction_post`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from crowdmaker.ledger import services
from crowdmaker.ledger.models import Account, Transaction
from crowdmaker.ledger.money import Money
from crowdmaker.ledger.selectors import (
    account_balance_from_legs,
    balances_by_currency,
    ledger_invariant_problems,
    unbalanced_transactions,
)
from crowdmaker.ledger.verify import run_verify


def eur(cents: int) -> Money:
    return Money(cents, "EUR")


@pytest.fixture
def accounts(db: None) -> dict[str, Account]:
    return {
        "card": services.account_open(
            owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="EUR", allow_negative=True
        ),
        "escrow": services.account_open(owner_kind="campaign", owner_id="7", purpose="campaign-escrow", currency="EUR"),
        "fee": services.account_open(owner_kind="platform", purpose="platform-revenue", currency="EUR"),
        "usd-card": services.account_open(
            owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="USD", allow_negative=True
        ),
        "usd": services.account_open(owner_kind="platform", purpose="platform-revenue", currency="USD"),
    }


def post_healthy_ledger(accounts: dict[str, Account]) -> Transaction:
    capture = services.transaction_post(
        kind="pledge-capture",
        legs=[(accounts["card"], eur(-5000)), (accounts["escrow"], eur(4500)), (accounts["fee"], eur(500))],
    )
    services.transaction_post(
        kind="sale", legs=[(accounts["usd-card"], Money(-1200, "USD")), (accounts["usd"], Money(1200, "USD"))]
    )
    refund = services.transaction_post(
        kind="refund", legs=[(accounts["escrow"], eur(-1000)), (accounts["card"], eur(1000))]
    )
    services.transaction_reverse(original=refund)
    return capture


def verify() -> tuple[int, str, str]:
    """Run `crowdmaker ledger verify` in this process: (exit code, report, errors)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("ledger", "verify", stdout=out, stderr=err)
    except CommandError as failure:
        return failure.returncode, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@contextmanager
def triggers_off() -> Iterator[None]:
    """Switch this session's triggers off, as a replica would: the only way to forge a broken ledger."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = origin")


def forge_transaction(kind: str = "forged", reverses: int | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_transaction (kind, memo, subject_kind, subject_id, idempotency_key, reverses_id, "
            "posted_at) VALUES (%s, '', '', '', '', %s, now()) RETURNING id",
            [kind, reverses],
        )
        return int(cursor.fetchone()[0])


def forge_leg(transaction_id: int, account: Account, amount: int, currency: str | None = None, *, cache: bool = True):
    """A leg written past the triggers; with `cache`, its account's cached balance moves as the trigger would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_leg (transaction_id, account_id, amount, currency) VALUES (%s, %s, %s, %s)",
            [transaction_id, account.pk, amount, currency or account.currency],
        )
        if cache:
            cursor.execute("UPDATE ledger_account SET balance = balance + %s WHERE id = %s", [amount, account.pk])


# --- a sound ledger -------------------------------------------------------------------------------------------


def test_verify_is_green_on_a_sound_ledger(accounts: dict[str, Account]) -> None:
    post_healthy_ledger(accounts)

    code, report, errors = verify()

    assert code == 0
    assert errors == ""
    assert "Ledger: 5 accounts, 4 transactions, 9 legs" in report
    assert report.count("\nOK      ") == 7
    assert "FAILED" not in report
    assert "Ledger verified: all 7 checks passed" in report
    assert ledger_invariant_problems() == []


def test_verify_is_green_on_an_empty_ledger(db: None) -> None:
    code, report, _ = verify()

    assert code == 0
    assert "Ledger: 0 accounts, 0 transactions, 0 legs" in report


def test_balances_are_derived_from_the_legs(accounts: dict[str, Account]) -> None:
    post_healthy_ledger(accounts)

    assert account_balance_from_legs(account=accounts["escrow"]) == eur(4500)
    assert account_balance_from_legs(account=accounts["card"]) == eur(-5000)
    assert balances_by_currency() == {"EUR": eur(0), "USD": Money(0, "USD")}
    assert balances_by_currency(owner_kind="platform") == {"EUR": eur(500), "USD": Money(1200, "USD")}
    assert balances_by_currency(owner_kind="campaign", owner_id="7") == {"EUR": eur(4500)}
    assert balances_by_currency(owner_kind="campaign", owner_id="8") == {}


def test_verify_command_exits_0_as_a_separate_process(transactional_db: None) -> None:
    # Given a sound ledger, committed so that another process sees it
    accounts = {
        "card": services.account_open(
            owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="EUR", allow_negative=True
        ),
        "escrow": services.account_open(owner_kind="campaign", owner_id="7", purpose="campaign-escrow", currency="EUR"),
    }
    services.transaction_post(
        kind="pledge-capture", legs=[(accounts["card"], eur(-700)), (accounts["escrow"], eur(700))]
    )

    # When the operator runs the command
    completed = run_command_process()

    # Then it reports every check OK and exits 0
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Ledger: 2 accounts, 1 transactions, 2 legs" in completed.stdout
    assert "Ledger verified: all 7 checks passed" in completed.stdout


def test_verify_command_exits_1_as_a_separate_process(transactional_db: None) -> None:
    # Given a committed ledger whose cached balance was forged
    escrow = services.account_open(owner_kind="campaign", owner_id="7", purpose="campaign-escrow", currency="EUR")
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE ledger_account SET balance = 999 WHERE id = %s", [escrow.pk])
        cursor.execute("SET session_replication_role = origin")

    completed = run_command_process()

    assert completed.returncode == 1
    assert "FAILED  every cached balance equals the sum of its legs: 1 problem" in completed.stdout
    assert "cached balance 9.99 EUR, its legs sum to 0.00 EUR" in completed.stdout
    assert "1 of 7 checks failed (cached-balance)" in completed.stderr


def run_command_process() -> subprocess.CompletedProcess[str]:
    settings = connection.settings_dict
    host = str(settings["HOST"])
    # The embedded PostgreSQL listens on a socket folder, which a URL carries percent-encoded as its host.
    where = quote(host, safe="") if host.startswith("/") else f"{host}:{settings['PORT'] or 5432}"
    url = f"postgresql://{settings['USER']}:{settings['PASSWORD'] or ''}@{where}/{settings['NAME']}"
    env: dict[str, Any] = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "crowdmaker.config.settings.test",
    }
    return subprocess.run(  # noqa: S603 - our own console script
        [str(Path(sys.executable).parent / "crowdmaker"), "ledger", "verify"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


# --- each broken invariant ------------------------------------------------------------------------------------


def test_an_unbalanced_transaction_fails_balance_and_conservation(accounts: dict[str, Account]) -> None:
    post_healthy_ledger(accounts)
    with triggers_off():
        forged = forge_transaction()
        forge_leg(forged, accounts["escrow"], 100)
        forge_leg(forged, accounts["card"], -99)

    code, report, errors = verify()

    assert code == 1
    assert "FAILED  every transaction balances per currency: 1 problem [balanced]" in report
    assert f"- transaction #{forged}: its EUR legs sum to +0.01 EUR" in report
    assert "FAILED  all balances add up to zero per currency: 1 problem [conservation]" in report
    assert "- EUR: all balances add up to +0.01 EUR, not zero" in report
    assert "OK      every cached balance equals the sum of its legs" in report
    assert "2 of 7 checks failed (balanced, conservation)" in errors


def test_a_transaction_without_legs_fails(accounts: dict[str, Account]) -> None:
    post_healthy_ledger(accounts)
    with triggers_off():
        empty = forge_transaction(kind="hollow")
        single = forge_transaction(kind="lonely")
        forge_leg(single, accounts["escrow"], 5)

    code, report, _ = verify()

    assert code == 1
    assert "FAILED  every transaction has two legs or more: 2 problems [two-legs]" in report
    assert f"- transaction #{empty} (hollow) has 0 legs" in report
    assert f"- transaction #{single} (lonely) has 1 leg\n" in report


def test_a_stale_cached_balance_fails(accounts: dict[str, Account]) -> None:
    post_healthy_ledger(accounts)
    with triggers_off(), connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET balance = balance + 1 WHERE id = %s", [accounts["fee"].pk])

    code, report, errors = verify()

    assert code == 1
    assert "FAILED  every cached balance equals the sum of its legs: 1 problem [cached-balance]" in report
    assert (
        f"- account #{accounts['fee'].pk} platform/platform-revenue (EUR): cached balance 5.01 EUR, "
        "its legs sum to 5.00 EUR"
    ) in report
    assert "1 of 7 checks failed (cached-balance)" in errors


def test_a_reversal_that_does_not_negate_its_original_fails(accounts: dict[str, Account]) -> None:
    capture = post_healthy_ledger(accounts)
    with triggers_off():
        wrong = forge_transaction(kind="reversal", reverses=capture.pk)
        forge_leg(wrong, accounts["card"], 4000)
        forge_leg(wrong, accounts["escrow"], -4000)

    code, report, errors = verify()

    assert code == 1
    assert "FAILED  every reversal exactly negates what it reverses: 1 problem [reversals]" in report
    assert f"- transaction #{wrong} reverses #{capture.pk} but its legs are not the exact negation" in report
    assert "1 of 7 checks failed (reversals)" in errors


def test_a_reversal_with_an_extra_leg_fails(accounts: dict[str, Account]) -> None:
    original = services.transaction_post(kind="t", legs=[(accounts["card"], eur(-300)), (accounts["escrow"], eur(300))])
    with triggers_off():
        wrong = forge_transaction(kind="reversal", reverses=original.pk)
        forge_leg(wrong, accounts["card"], 300)
        forge_leg(wrong, accounts["escrow"], -300)
        forge_leg(wrong, accounts["card"], -1)
        forge_leg(wrong, accounts["escrow"], 1)

    code, report, _ = verify()

    assert code == 1
    assert f"- transaction #{wrong} reverses #{original.pk}" in report


def test_an_overdrawn_account_fails(accounts: dict[str, Account]) -> None:
    post_healthy_ledger(accounts)
    # The balance CHECK constraint still refuses a negative cache, so only the leg is forged.
    with triggers_off():
        forged = forge_transaction()
        forge_leg(forged, accounts["fee"], -800, cache=False)
        forge_leg(forged, accounts["card"], 800, cache=False)

    code, report, _ = verify()

    assert code == 1
    assert "FAILED  no account is negative unless it may be: 1 problem [no-overdraft]" in report
    assert (
        f"- account #{accounts['fee'].pk} platform/platform-revenue (EUR) may not go negative, "
        "but its legs sum to -3.00 EUR (cached 5.00 EUR)"
    ) in report
    assert "FAILED  every cached balance equals the sum of its legs: 2 problems" in report
    assert "OK      every transaction balances per currency" in report


def test_a_leg_in_a_foreign_currency_fails(accounts: dict[str, Account]) -> None:
    post_healthy_ledger(accounts)
    with triggers_off():
        forged = forge_transaction()
        forge_leg(forged, accounts["escrow"], 100, "USD")
        forge_leg(forged, accounts["usd-card"], -100)

    code, report, _ = verify()

    assert code == 1
    assert "FAILED  every leg is in its account's currency: 1 problem [leg-currency]" in report
    assert "moves +1.00 USD into campaign:7/campaign-escrow (EUR), held in EUR" in report


def test_the_report_lists_the_first_examples_and_counts_the_rest(accounts: dict[str, Account]) -> None:
    with triggers_off():
        forged = [forge_transaction(kind="hollow") for _ in range(13)]

    out, err = StringIO(), StringIO()
    assert run_verify(out=out, err=err, examples=10) is False

    report = out.getvalue()
    assert "FAILED  every transaction has two legs or more: 13 problems" in report
    assert f"- transaction #{forged[9]} (hollow) has 0 legs" in report
    assert f"#{forged[10]} (hollow)" not in report
    assert "... and 3 more" in report
    assert unbalanced_transactions().total == 0
    assert len(ledger_invariant_problems()) == 13
