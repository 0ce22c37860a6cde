"""Posting through `transaction_post`, and the database refusing what breaks double entry even via raw SQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from crowdmaker.core.errors import Conflict, Invalid
from crowdmaker.ledger import services
from crowdmaker.ledger.models import Account, Leg, Transaction
from crowdmaker.ledger.money import Money


@pytest.fixture
def accounts(db: None) -> dict[str, Account]:
    return {
        "card": services.account_open(
            owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="EUR", allow_negative=True
        ),
        "escrow": services.account_open(owner_kind="campaign", owner_id="7", purpose="campaign-escrow", currency="EUR"),
        "fee": services.account_open(owner_kind="platform", purpose="platform-revenue", currency="EUR"),
        "usd": services.account_open(owner_kind="platform", purpose="platform-revenue", currency="USD"),
    }


def eur(cents: int) -> Money:
    return Money(cents, "EUR")


def ledger_state() -> tuple[int, int, list[tuple[int, int]]]:
    return (
        Transaction.objects.count(),
        Leg.objects.count(),
        list(Account.objects.order_by("pk").values_list("pk", "balance")),
    )


def test_a_balanced_posting_moves_the_balances(accounts: dict[str, Account]) -> None:
    posted = services.transaction_post(
        kind="pledge-capture",
        legs=[(accounts["card"], eur(-5000)), (accounts["escrow"], eur(4500)), (accounts["fee"], eur(500))],
        subject=("campaign", "7"),
    )

    assert posted.legs.count() == 3
    assert accounts["card"].balance == -5000
    assert accounts["escrow"].balance == 4500
    assert accounts["fee"].balance == 500
    assert sum(Account.objects.values_list("balance", flat=True)) == 0


@pytest.mark.parametrize(
    ("legs", "code"),
    [
        (lambda a: [(a["card"], eur(-100))], "invalid"),
        (lambda a: [(a["card"], eur(-100)), (a["escrow"], eur(99))], "unbalanced"),
        (lambda a: [(a["card"], eur(0)), (a["escrow"], eur(0))], "invalid"),
        (lambda a: [(a["card"], eur(-100)), (a["escrow"], Money(100, "USD"))], "invalid"),
    ],
    ids=["one-leg", "unbalanced", "zero-legs", "wrong-currency-account"],
)
def test_invalid_postings_are_refused_and_change_nothing(accounts, legs, code: str) -> None:
    before = ledger_state()

    with pytest.raises(Invalid) as refused:
        services.transaction_post(kind="test", legs=legs(accounts))

    assert refused.value.code == code
    assert ledger_state() == before


def test_an_overdraft_is_refused_by_the_database_and_changes_nothing(accounts) -> None:
    services.transaction_post(kind="test", legs=[(accounts["card"], eur(-100)), (accounts["escrow"], eur(100))])
    before = ledger_state()

    with pytest.raises(services.InsufficientFunds):
        services.transaction_post(kind="test", legs=[(accounts["escrow"], eur(-101)), (accounts["fee"], eur(101))])

    assert ledger_state() == before


def test_an_idempotency_key_posts_once(accounts) -> None:
    legs = [(accounts["card"], eur(-100)), (accounts["escrow"], eur(100))]
    first = services.transaction_post(kind="test", legs=legs, idempotency_key="capture:1")
    again = services.transaction_post(kind="test", legs=legs, idempotency_key="capture:1")

    assert again.pk == first.pk
    assert Account.objects.get(pk=accounts["escrow"].pk).balance == 100
    with pytest.raises(Conflict):
        services.transaction_post(
            kind="test",
            legs=[(accounts["card"], eur(-200)), (accounts["escrow"], eur(200))],
            idempotency_key="capture:1",
        )


def test_a_reversal_undoes_once(accounts) -> None:
    original = services.transaction_post(
        kind="test", legs=[(accounts["card"], eur(-300)), (accounts["escrow"], eur(300))]
    )

    reversal = services.transaction_reverse(original=original)

    assert reversal.reverses_id == original.pk
    assert Account.objects.get(pk=accounts["escrow"].pk).balance == 0
    with pytest.raises(Conflict):
        services.transaction_reverse(original=original)


# --- the database on its own --------------------------------------------------------------------------------


def _raw(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def test_raw_sql_cannot_update_or_delete_ledger_rows(accounts) -> None:
    posted = services.transaction_post(
        kind="test", legs=[(accounts["card"], eur(-100)), (accounts["escrow"], eur(100))]
    )

    for statement in (
        "UPDATE ledger_leg SET amount = 1 WHERE transaction_id = %s",
        "DELETE FROM ledger_leg WHERE transaction_id = %s",
        "UPDATE ledger_transaction SET kind = 'other' WHERE id = %s",
        "DELETE FROM ledger_transaction WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            _raw(statement, [posted.pk])

    assert Leg.objects.filter(transaction=posted).count() == 2


def test_raw_sql_cannot_set_a_balance(accounts) -> None:
    with pytest.raises(DatabaseError, match="only through legs"), transaction.atomic():
        _raw("UPDATE ledger_account SET balance = 1000000 WHERE id = %s", [accounts["escrow"].pk])

    assert Account.objects.get(pk=accounts["escrow"].pk).balance == 0


def test_raw_sql_unbalanced_transaction_is_refused_at_commit(accounts) -> None:
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():  # noqa: PT012
        _raw("INSERT INTO ledger_transaction (kind, memo, subject_kind, subject_id, idempotency_key, posted_at) "
             "VALUES ('forged', '', '', '', '', now())")  # fmt: skip
        _raw("INSERT INTO ledger_leg (transaction_id, account_id, amount, currency) "
             "VALUES (currval('ledger_transaction_id_seq'), %s, 500, 'EUR'), "
             "(currval('ledger_transaction_id_seq'), %s, -400, 'EUR')",
             [accounts["escrow"].pk, accounts["card"].pk])  # fmt: skip
        _raw("SET CONSTRAINTS ALL IMMEDIATE")  # what COMMIT would do

    assert Transaction.objects.filter(kind="forged").count() == 0
    assert Account.objects.get(pk=accounts["escrow"].pk).balance == 0


def test_raw_sql_zero_leg_and_wrong_currency_are_refused(accounts) -> None:
    posted = services.transaction_post(
        kind="test", legs=[(accounts["card"], eur(-100)), (accounts["escrow"], eur(100))]
    )

    with pytest.raises(IntegrityError, match="ledger_leg_nonzero"), transaction.atomic():
        _raw("INSERT INTO ledger_leg (transaction_id, account_id, amount, currency) VALUES (%s, %s, 0, 'EUR')",
             [posted.pk, accounts["escrow"].pk])  # fmt: skip
    with pytest.raises(DatabaseError, match="held in"), transaction.atomic():
        _raw("INSERT INTO ledger_leg (transaction_id, account_id, amount, currency) VALUES (%s, %s, 5, 'USD')",
             [posted.pk, accounts["escrow"].pk])  # fmt: skip

    assert Leg.objects.filter(transaction=posted).count() == 2


def test_the_order_of_legs_does_not_decide_an_overdraft(accounts) -> None:
    # Money passes through the empty escrow within one posting: out first, in second.
    posted = services.transaction_post(
        kind="test",
        legs=[
            (accounts["escrow"], eur(-100)),
            (accounts["fee"], eur(100)),
            (accounts["card"], eur(-100)),
            (accounts["escrow"], eur(100)),
        ],
    )

    assert list(posted.legs.order_by("pk").values_list("amount", flat=True)) == [-100, 100, -100, 100]
    assert Account.objects.get(pk=accounts["escrow"].pk).balance == 0


def test_raw_sql_overdraft_is_refused_at_commit(accounts) -> None:
    with pytest.raises(IntegrityError, match="would be overdrawn"), transaction.atomic():  # noqa: PT012
        _raw("INSERT INTO ledger_transaction (kind, memo, subject_kind, subject_id, idempotency_key, posted_at) "
             "VALUES ('forged', '', '', '', '', now())")  # fmt: skip
        _raw("INSERT INTO ledger_leg (transaction_id, account_id, amount, currency) "
             "VALUES (currval('ledger_transaction_id_seq'), %s, -500, 'EUR'), "
             "(currval('ledger_transaction_id_seq'), %s, 500, 'EUR')",
             [accounts["escrow"].pk, accounts["fee"].pk])  # fmt: skip
        _raw("SET CONSTRAINTS ALL IMMEDIATE")  # what COMMIT would do

    assert Account.objects.get(pk=accounts["escrow"].pk).balance == 0


def test_raw_sql_cannot_add_legs_to_a_committed_transaction(transactional_db: None) -> None:
    card = services.account_open(
        owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="EUR", allow_negative=True
    )
    escrow = services.account_open(owner_kind="campaign", owner_id="7", purpose="campaign-escrow", currency="EUR")
    posted = services.transaction_post(kind="test", legs=[(card, eur(-700)), (escrow, eur(700))])

    # A balanced pair slipped into history later would pass the balance check on its own.
    with pytest.raises(IntegrityError, match="only when it is created"), transaction.atomic():  # noqa: PT012
        _raw("INSERT INTO ledger_leg (transaction_id, account_id, amount, currency) VALUES (%s, %s, -300, 'EUR'), "
             "(%s, %s, 300, 'EUR')", [posted.pk, card.pk, posted.pk, escrow.pk])  # fmt: skip
        _raw("SET CONSTRAINTS ALL IMMEDIATE")

    assert Leg.objects.filter(transaction=posted).count() == 2
    assert Account.objects.get(pk=escrow.pk).balance == 700


def test_raw_sql_cannot_open_an_account_with_money_in_it(db: None) -> None:
    with pytest.raises(IntegrityError, match="opens with a zero balance"), transaction.atomic():
        _raw("INSERT INTO ledger_account (owner_kind, owner_id, purpose, currency, allow_negative, balance, created_at) "
             "VALUES ('team', '3', 'received', 'EUR', false, 5000, now())")  # fmt: skip

    assert Account.objects.count() == 0


def test_raw_sql_cannot_switch_an_accounts_overdraft_permission(accounts) -> None:
    with pytest.raises(IntegrityError, match="overdraft permission never change"), transaction.atomic():
        _raw("UPDATE ledger_account SET allow_negative = true WHERE id = %s", [accounts["escrow"].pk])

    assert Account.objects.get(pk=accounts["escrow"].pk).allow_negative is False


def test_two_concurrent_postings_with_one_key_post_once_and_both_get_it(transactional_db: None) -> None:
    card = services.account_open(
        owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="EUR", allow_negative=True
    )
    escrow = services.account_open(owner_kind="campaign", owner_id="7", purpose="campaign-escrow", currency="EUR")
    barrier = threading.Barrier(2)
    results: list[int] = []

    def post() -> None:
        try:
            barrier.wait()
            posted = services.transaction_post(
                kind="test", legs=[(card, eur(-250)), (escrow, eur(250))], idempotency_key="capture:race"
            )
            results.append(posted.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 2
    assert results[0] == results[1]
    assert Transaction.objects.filter(idempotency_key="capture:race").count() == 1
    assert Account.objects.get(pk=escrow.pk).balance == 250


def test_an_idempotency_key_does_not_replay_a_posting_for_another_subject(accounts) -> None:
    legs = [(accounts["card"], eur(-100)), (accounts["escrow"], eur(100))]
    services.transaction_post(kind="test", legs=legs, subject=("campaign", "7"), idempotency_key="k")
    before = ledger_state()

    with pytest.raises(Conflict):
        services.transaction_post(kind="test", legs=legs, subject=("campaign", "8"), idempotency_key="k")

    assert ledger_state() == before
