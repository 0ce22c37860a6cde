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
from dataclasses import dataclass
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from crowdmaker.ledger import payments, services
from crowdmaker.ledger.gateways import Authorization, GatewayUnavailable, Refund, sandbox
from crowdmaker.ledger.gateways import Payout as GatewayPayout
from crowdmaker.ledger.gateways.sandbox import SandboxGateway
from crowdmaker.ledger.models import Account, Payment, PaymentOperation, Payout, Transaction
from crowdmaker.ledger.money import Money
from crowdmaker.ledger.selectors import (
    INVARIANT_CHECKS,
    WARNING_CHECKS,
    account_balance_from_legs,
    balances_by_currency,
    ledger_invariant_problems,
    unbalanced_transactions,
)
from crowdmaker.ledger.verify import run_verify
from crowdmaker.people import services as people
from crowdmaker.people.models import Team, User


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
    assert report.count("\nOK      ") == 14
    assert "FAILED" not in report
    assert "Ledger verified: all 13 checks passed" in report
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
    assert "Ledger verified: all 13 checks passed" in completed.stdout


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
    assert "1 of 13 checks failed (cached-balance)" in completed.stderr


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
    assert "2 of 13 checks failed (balanced, conservation)" in errors


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
    assert "1 of 13 checks failed (cached-balance)" in errors


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
    assert "1 of 13 checks failed (reversals)" in errors


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


def test_a_leg_whose_transaction_does_not_exist_fails(accounts: dict[str, Account]) -> None:
    post_healthy_ledger(accounts)
    with triggers_off():
        forged = forge_transaction()
        forge_leg(forged, accounts["escrow"], 100)
        forge_leg(forged, accounts["card"], -100)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE ledger_leg SET transaction_id = %s WHERE transaction_id = %s", [forged + 1000, forged]
            )

    code, report, _ = verify()

    assert code == 1
    assert "FAILED  every leg's account and transaction exist: 2 problems [leg-references]" in report
    assert f"names transaction #{forged + 1000}, which does not exist" in report


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


# --- the payment tables against the ledger ---------------------------------------------------------------------


class DownGateway(SandboxGateway):
    """The sandbox behind a network that drops every call: steps stay pending."""

    def authorize(self, amount: Money, payment_method: str, reference: str) -> Authorization:
        raise GatewayUnavailable("down")

    def refund(self, capture_id: str, amount: Money, *, reference: str) -> Refund:
        raise GatewayUnavailable("down")

    def payout(self, destination: str, amount: Money, *, reference: str) -> GatewayPayout:
        raise GatewayUnavailable("down")


@dataclass
class Flow:
    team: Team
    refunded: Payment  # captured 100.00, fee 10.00, 25.00 refunded
    voided: Payment
    capture_declined: Payment  # the capture was declined, so it was voided
    paid: Payout
    failed: Payout
    received: Account  # the team's


def pay(payer: User, team: Team, cents: int, card: str = sandbox.CARD_OK, **kw: Any) -> Payment:
    return payments.payment_authorize(
        payer_id=str(payer.pk), payee_kind="team", payee_id=str(team.pk), amount=eur(cents), payment_method=card, **kw
    )


@pytest.fixture
def flow(user: User, other_user: User) -> Flow:
    """A worked flow through the payment services and the sandbox: captures with fees, a partial refund, a void,
    a capture the gateway declines, a declined card, a paid and a declined payout."""
    team = people.team_create(actor=user, slug="lamp-makers", name="Lamp makers")
    refunded = payments.payment_capture(payment=pay(other_user, team, 10_000))
    refunded = payments.payment_refund(payment=refunded, amount=eur(2_500))
    payments.payment_capture(payment=pay(other_user, team, 3_001))
    voided = payments.payment_void(payment=pay(other_user, team, 4_000))
    capture_declined = pay(other_user, team, 5_000, card=sandbox.CARD_CAPTURE_FAILS)
    with pytest.raises(payments.PaymentDeclined):
        payments.payment_capture(payment=capture_declined)
    with pytest.raises(payments.PaymentDeclined):
        pay(other_user, team, 6_000, card=sandbox.CARD_DECLINED)
    pay(other_user, team, 7_000)  # authorized, not captured yet
    paid = payments.payout_create(owner_kind="team", owner_id=str(team.pk), amount=eur(1_000), destination="bank-1")
    with pytest.raises(payments.PaymentDeclined):
        payments.payout_create(
            owner_kind="team", owner_id=str(team.pk), amount=eur(500), destination=sandbox.BANK_CLOSED
        )
    capture_declined.refresh_from_db()
    received = Account.objects.get(owner_kind="team", owner_id=str(team.pk), purpose="received")
    return Flow(
        team=team,
        refunded=refunded,
        voided=voided,
        capture_declined=capture_declined,
        paid=paid,
        failed=Payout.objects.get(status="failed"),
        received=received,
    )


def payment_checks() -> dict[str, int]:
    checks = {check.name: check for check in (*INVARIANT_CHECKS, *WARNING_CHECKS)}
    names = ("payment-captures", "payment-fees", "payment-refunds", "captured-and-voided", "payouts", "stale-pending")
    return {name: checks[name].find().total for name in names}


def forge_posting(kind: str, subject: tuple[str, str], *legs: tuple[Account, int]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_transaction (kind, memo, subject_kind, subject_id, idempotency_key, posted_at) "
            "VALUES (%s, 'forged', %s, %s, '', now()) RETURNING id",
            [kind, *subject],
        )
        txn = int(cursor.fetchone()[0])
    for account, amount in legs:
        forge_leg(txn, account, amount)
    return txn


def clearing() -> Account:
    return Account.objects.get(owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="EUR")


def revenue() -> Account:
    return Account.objects.get(owner_kind="platform", purpose="platform-revenue", currency="EUR")


def test_a_sound_payment_flow_passes_every_payment_check(flow: Flow) -> None:
    assert (flow.refunded.status, flow.refunded.fee_amount, flow.refunded.refunded_amount) == (
        "partially_refunded",
        1_000,
        2_500,
    )
    assert (flow.voided.status, flow.capture_declined.status) == ("voided", "voided")
    assert (flow.paid.status, flow.failed.status) == ("paid", "failed")

    code, report, errors = verify()

    assert code == 0, report + errors
    assert payment_checks() == dict.fromkeys(payment_checks(), 0)
    for title in (
        "every captured payment is posted to its payee once, and no other",
        "every payment's posted platform fee equals its fee",
        "every payment's posted refunds equal what it refunded",
        "no payment is both captured and voided",
        "every payout is posted, and reversed if and only if it failed",
        "no payment step or payout pending for more than 10 minutes",
    ):
        assert f"OK      {title}" in report
    assert "Ledger verified: all 13 checks passed in" in report


def test_a_refund_or_payout_still_pending_is_consistent_and_only_a_warning_once_stale(
    flow: Flow, other_user: User
) -> None:
    # Given a refund and a payout posted before a gateway that does not answer, and an authorization it never got
    with pytest.raises(payments.GatewayDown):
        payments.payment_refund(payment=flow.refunded, amount=eur(1_000), reference="r-down", gateway=DownGateway())
    with pytest.raises(payments.GatewayDown):
        payments.payout_create(owner_kind="team", owner_id=str(flow.team.pk), amount=eur(700),
                               destination="bank-1", reference="po-down", gateway=DownGateway())  # fmt: skip
    with pytest.raises(payments.GatewayDown):
        pay(other_user, flow.team, 800, reference="pay-down", gateway=DownGateway())
    assert payment_checks() == dict.fromkeys(payment_checks(), 0)

    # When they stay pending for more than 10 minutes
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ledger_paymentoperation SET created_at = %s WHERE status = 'pending'",
            [now - timedelta(minutes=11, seconds=5)],
        )
        cursor.execute(
            "UPDATE ledger_payout SET created_at = %s WHERE status = 'pending'",
            [now - timedelta(minutes=12, seconds=5)],
        )
    code, report, errors = verify()

    # Then verify lists them as a warning and still passes: nothing is inconsistent
    refund = PaymentOperation.objects.get(reference="r-down")
    authorization = PaymentOperation.objects.get(kind="authorize", status="pending")
    payout = Payout.objects.get(reference="po-down")
    assert code == 0, report + errors
    assert "WARNING no payment step or payout pending for more than 10 minutes: 3 problems [stale-pending]" in report
    assert f"- payout #{payout.pk} has been pending since" in report
    assert f"- the refund of payment #{refund.payment_id} has been pending since" in report
    assert f"- the authorization of payment #{authorization.payment_id} has been pending since" in report
    assert report.count("(11 min)") == 2
    assert report.count("(12 min)") == 1
    assert "Ledger verified: all 13 checks passed, with warnings (stale-pending) in" in report
    assert ledger_invariant_problems() == []


def test_a_second_capture_posting_and_a_capture_of_a_voided_payment_fail(flow: Flow) -> None:
    with triggers_off():
        forge_posting("payment-capture", ("payment", str(flow.refunded.pk)), (clearing(), -100), (flow.received, 100))
        forge_posting("payment-capture", ("payment", str(flow.voided.pk)), (clearing(), -4_000), (flow.received, 4_000))

    code, report, errors = verify()

    assert code == 1
    assert (
        "FAILED  every captured payment is posted to its payee once, and no other: 2 problems [payment-captures]"
        in report
    )
    assert (
        f"- payment #{flow.refunded.pk} (partially_refunded): its capture is posted 2 time(s) and its payee got "
        "91.00 EUR, not 90.00 EUR (100.00 EUR captured minus a 10.00 EUR fee)"
    ) in report
    assert (
        f"- payment #{flow.voided.pk} is voided, but its capture is posted 1 time(s) and its payee got +40.00 EUR"
    ) in report
    assert "1 of 13 checks failed (payment-captures)" in errors


def test_a_fee_posted_that_differs_from_the_payments_fee_fails(flow: Flow) -> None:
    with triggers_off():
        forge_posting("platform-fee", ("payment", str(flow.refunded.pk)), (clearing(), -1), (revenue(), 1))

    code, report, errors = verify()

    assert code == 1
    assert "FAILED  every payment's posted platform fee equals its fee: 1 problem [payment-fees]" in report
    assert f"- payment #{flow.refunded.pk} (partially_refunded): the platform got 10.01 EUR in fees" in report
    assert "not 10.00 EUR" in report
    assert "1 of 13 checks failed (payment-fees)" in errors


def test_a_refunded_amount_the_ledger_does_not_show_fails(flow: Flow) -> None:
    with triggers_off(), connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_payment SET refunded_amount = 3000 WHERE id = %s", [flow.refunded.pk])

    code, report, errors = verify()

    assert code == 1
    assert "FAILED  every payment's posted refunds equal what it refunded: 1 problem [payment-refunds]" in report
    assert (
        f"- payment #{flow.refunded.pk} (partially_refunded): refunds of 25.00 EUR are posted, not 30.00 EUR refunded"
    ) in report
    assert "1 of 13 checks failed (payment-refunds)" in errors


def test_a_payment_both_captured_and_voided_fails(flow: Flow) -> None:
    with triggers_off(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_paymentoperation (payment_id, kind, amount, reference, status, gateway_id, "
            "failure_code, created_at, finished_at) VALUES (%s, 'void', 0, 'forged-void', 'succeeded', '', '', "
            "now(), now())",
            [flow.refunded.pk],
        )

    code, report, errors = verify()

    assert code == 1
    assert "FAILED  no payment is both captured and voided: 1 problem [captured-and-voided]" in report
    assert f"- payment #{flow.refunded.pk} (partially_refunded) was both captured and voided" in report
    assert "1 of 13 checks failed (captured-and-voided)" in errors


def test_a_paid_payout_marked_failed_without_its_reversal_fails(flow: Flow) -> None:
    with triggers_off(), connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_payout SET status = 'failed' WHERE id = %s", [flow.paid.pk])
        cursor.execute("UPDATE ledger_payout SET status = 'paid', gateway_id = 'x' WHERE id = %s", [flow.failed.pk])

    code, report, errors = verify()

    assert code == 1
    assert "FAILED  every payout is posted, and reversed if and only if it failed: 2 problems [payouts]" in report
    team = f"team:{flow.team.pk}/received (EUR)"
    assert (
        f"- payout #{flow.paid.pk} (failed, 10.00 EUR from {team}) is posted 1 time(s), reversed 0 time(s), "
        "and 10.00 EUR is taken from the account"
    ) in report
    assert (
        f"- payout #{flow.failed.pk} (paid, 5.00 EUR from {team}) is posted 1 time(s), reversed 1 time(s), "
        "and 0.00 EUR is taken from the account"
    ) in report
    assert "1 of 13 checks failed (payouts)" in errors
