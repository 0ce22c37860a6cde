"""A worked example, to the minor unit: two backers pay a team (one card flaky), a third card fails at capture,
the platform takes its fee, one backer gets part of their money back, the team distributes the rest to its two
makers, and the makers are paid out. The ledger verifies green at the end.

    Every payment and refund passes through its payer's own `payments` account (netting to zero), so the
    team's public ledger names its backers: pseudonymously, or by name once they opt in.

    Bruno pays 120.00, captured: fee 12.00 (quoted at authorization), team 108.00
    Carol pays  45.55 on the flaky card (retried), captured: fee 4.56 (4.555 rounded half up), team 40.99
    Dan   pays  30.00 on the card that fails at capture: voided, nothing posted
    Bruno is refunded 25.01: from the team 22.51, from the fee 2.50 (largest remainder: 22.509 / 2.501)
    The team distributes 126.48 to Ada and Emil by weights 3:2: 75.89 and 50.59 (75.888 gets the spare cent)
    Ada is paid out 75.89, Emil 50.00
"""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from crowdmaker.ledger import payments
from crowdmaker.ledger.gateways import sandbox
from crowdmaker.ledger.models import Account, Leg, Payment, SandboxCharge
from crowdmaker.ledger.money import Money, allocate
from crowdmaker.ledger.services import account_open, transaction_post
from crowdmaker.people import services as people
from crowdmaker.people.ledger_owners import person_pseudonym
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db


def eur(cents: int) -> Money:
    return Money(cents, "EUR")


def balance(owner_kind: str, owner_id: str, purpose: str) -> int:
    return Account.objects.get(owner_kind=owner_kind, owner_id=owner_id, purpose=purpose, currency="EUR").balance


def test_payments_fee_refund_distribution_and_payouts_add_up_to_the_cent(make_user: Callable[..., User]) -> None:
    ada, emil, bruno, carol, dan = (make_user(handle) for handle in ("ada", "emil", "bruno", "carol", "dan"))
    team = people.team_create(actor=ada, slug="lamp-makers", name="Lamp makers")
    team_id = str(team.pk)

    def pay(payer: User, cents: int, card: str) -> Payment:
        return payments.payment_authorize(
            payer_id=str(payer.pk), payee_kind="team", payee_id=team_id, amount=eur(cents), payment_method=card
        )

    # Authorization, then capture with the platform's fee.
    from_bruno = payments.payment_capture(payment=pay(bruno, 12_000, sandbox.CARD_OK))
    from_carol = payments.payment_capture(payment=pay(carol, 4_555, sandbox.CARD_NETWORK_ERROR_ONCE))
    from_dan = pay(dan, 3_000, sandbox.CARD_CAPTURE_FAILS)
    with pytest.raises(payments.PaymentDeclined):
        payments.payment_capture(payment=from_dan)

    assert (from_bruno.fee_quoted, from_carol.fee_quoted, from_dan.fee_quoted) == (1_200, 456, 300)
    assert (from_bruno.fee_amount, from_carol.fee_amount) == (1_200, 456)
    assert SandboxCharge.objects.get(reference=from_carol.reference).attempts == 2
    from_dan.refresh_from_db()
    assert (from_dan.status, from_dan.captured_amount) == ("voided", 0)
    assert not Leg.objects.filter(transaction__subject_id=str(from_dan.pk)).exists()
    assert balance("team", team_id, "received") == 10_800 + 4_099

    # A partial refund, split over the team's part and the fee.
    from_bruno = payments.payment_refund(payment=from_bruno, amount=eur(2_501))
    assert (from_bruno.status, from_bruno.refunded_amount) == ("partially_refunded", 2_501)
    assert balance("team", team_id, "received") == 14_899 - 2_251
    assert balance("platform", "", "platform-revenue") == 1_656 - 250

    # The team distributes everything it holds to its two makers, 3:2.
    team_account = Account.objects.get(owner_kind="team", owner_id=team_id, purpose="received")
    makers = [
        account_open(owner_kind="person", owner_id=str(maker.pk), purpose="received", currency="EUR")
        for maker in (ada, emil)
    ]
    income = eur(team_account.balance)
    shares = allocate(income, [3, 2])
    assert shares == [eur(7_589), eur(5_059)]
    transaction_post(
        kind="distribution",
        legs=[(team_account, -income), *zip(makers, shares, strict=True)],
        subject=("team", team_id),
        idempotency_key=f"distribution:team:{team_id}:1",
    )

    # Payouts to the makers' bank accounts.
    payments.payout_create(owner_kind="person", owner_id=str(ada.pk), amount=eur(7_589), destination="sandbox-bank-ada")
    payments.payout_create(owner_kind="person", owner_id=str(emil.pk), amount=eur(5_000), destination="sandbox-bank-e")

    assert {str(account): account.balance for account in Account.objects.order_by("pk")} == {
        "gateway:sandbox/gateway-clearing (EUR)": -12_000 - 4_555 + 2_501,
        f"person:{bruno.pk}/payments (EUR)": 0,  # the payers' pass-through accounts
        f"team:{team_id}/received (EUR)": 0,
        "platform/platform-revenue (EUR)": 1_200 + 456 - 250,
        f"person:{carol.pk}/payments (EUR)": 0,
        f"person:{ada.pk}/received (EUR)": 0,
        f"person:{emil.pk}/received (EUR)": 59,
        "gateway:sandbox/payouts (EUR)": 7_589 + 5_000,
    }
    assert sum(Account.objects.values_list("balance", flat=True)) == 0
    # What the team received reconciles with its payments: captured minus refunded, minus the fees kept.
    captured = sum(Payment.objects.values_list("captured_amount", flat=True))
    refunded = sum(Payment.objects.values_list("refunded_amount", flat=True))
    assert (
        captured - refunded
        == 14_054
        == balance("platform", "", "platform-revenue") + sum(share.amount for share in shares)
    )

    report = StringIO()
    call_command("ledger", "verify", stdout=report, stderr=report)  # raises CommandError when a check fails


def test_the_teams_public_ledger_names_its_backers_pseudonymously_until_they_opt_in(
    make_user: Callable[..., User], client: Client
) -> None:
    ada = make_user("ada")
    bruno = make_user("bruno", display_name="Bruno Lindqvist")
    team = people.team_create(actor=ada, slug="lamp-makers", name="Lamp makers")
    payment = payments.payment_authorize(
        payer_id=str(bruno.pk), payee_kind="team", payee_id=str(team.pk), amount=eur(12_000),
        payment_method=sandbox.CARD_OK,
    )  # fmt: skip
    payment = payments.payment_refund(payment=payments.payment_capture(payment=payment), amount=eur(2_000))

    def public_entries() -> list[tuple[str, str, list[str]]]:
        answer = client.get(f"/api/v1/ledger/team/{team.pk}/transactions")  # anonymous: the public view
        assert answer.status_code == 200
        return [
            (entry["kind"], entry["amounts"][0]["amount"], sorted(c["label"] for c in entry["counterparts"]))
            for entry in answer.json()["results"]
        ]

    pseudonym = person_pseudonym(bruno.pk)
    assert pseudonym.startswith("Person ")
    assert "Bruno" not in pseudonym
    assert public_entries() == [
        ("refund", "-18.00", sorted([pseudonym, "Payment gateway (sandbox)", "Crowdmaker platform"])),
        ("platform-fee", "-12.00", ["Crowdmaker platform"]),
        ("payment-capture", "120.00", sorted([pseudonym, "Payment gateway (sandbox)"])),
    ]

    people.profile_update(user=bruno, show_on_public_ledgers=True)

    assert public_entries() == [
        ("refund", "-18.00", sorted(["Bruno Lindqvist", "Payment gateway (sandbox)", "Crowdmaker platform"])),
        ("platform-fee", "-12.00", ["Crowdmaker platform"]),
        ("payment-capture", "120.00", sorted(["Bruno Lindqvist", "Payment gateway (sandbox)"])),
    ]
    assert sum(Account.objects.values_list("balance", flat=True)) == 0
    assert Account.objects.get(owner_kind="person", owner_id=str(bruno.pk), purpose="payments").balance == 0
