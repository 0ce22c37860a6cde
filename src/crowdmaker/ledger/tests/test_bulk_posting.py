"""Many postings at once (`transactions_post_many`, `accounts_open_many`), and the database's set-based checks
(sql/0006): the same rows and refusals as one by one, all or nothing, and commit-time checks nobody can skip."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from crowdmaker.core.errors import Conflict, Invalid
from crowdmaker.ledger import services
from crowdmaker.ledger.models import Account, Leg, Transaction
from crowdmaker.ledger.money import Money
from crowdmaker.ledger.services import AccountKey, Posting

pytestmark = pytest.mark.django_db

CARD = AccountKey("gateway", "sandbox", "gateway-clearing", "EUR", allow_negative=True)
REVENUE = AccountKey("platform", "", "platform-revenue", "EUR")


def eur(cents: int) -> Money:
    return Money(cents, "EUR")


def team(n: int) -> AccountKey:
    return AccountKey("team", str(n), "received", "EUR")


def ledger_state() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[int, int]]]:
    return (
        list(Transaction.objects.order_by("pk").values_list("pk", "kind", "idempotency_key")),
        list(Leg.objects.order_by("pk").values_list("transaction_id", "account_id", "amount")),
        list(Account.objects.order_by("pk").values_list("pk", "balance")),
    )


def pay_teams(accounts: dict[AccountKey, Account], teams: range, cents: int = 1_000, tag: str = "") -> list[Posting]:
    return [
        Posting(kind="test", legs=[(accounts[CARD], eur(-cents)), (accounts[team(n)], eur(cents - 100)),
                                   (accounts[REVENUE], eur(100))],
                idempotency_key=f"pay:{n}{tag}", memo=f"Team {n}", subject=("team", str(n)))
        for n in teams
    ]  # fmt: skip


def test_accounts_are_opened_once_and_found_again(db: None) -> None:
    existing = services.account_open(owner_kind="team", owner_id="1", purpose="received", currency="EUR")

    opened = services.accounts_open_many(keys=[CARD, team(1), team(2), team(2), REVENUE])
    again = services.accounts_open_many(keys=[team(2), CARD])

    assert opened[team(1)].pk == existing.pk
    assert {key: account.pk for key, account in again.items()} == {team(2): opened[team(2)].pk, CARD: opened[CARD].pk}
    assert Account.objects.count() == 4
    assert (opened[CARD].allow_negative, opened[team(2)].allow_negative, opened[team(2)].balance) == (True, False, 0)
    with pytest.raises(Conflict):
        services.accounts_open_many(keys=[AccountKey("team", "1", "received", "EUR", allow_negative=True)])
    with pytest.raises(Invalid):
        services.accounts_open_many(keys=[team(3), AccountKey("team", "4", "received", "XXX")])
    assert Account.objects.count() == 4  # a refusal opens none of them


def test_a_batch_posts_the_same_rows_as_one_by_one(db: None) -> None:
    accounts = services.accounts_open_many(keys=[CARD, REVENUE, *(team(n) for n in range(6))])
    one_by_one = [
        services.transaction_post(kind=p.kind, legs=p.legs, memo=p.memo, subject=p.subject,
                                  idempotency_key=p.idempotency_key)
        for p in pay_teams(accounts, range(3))
    ]  # fmt: skip

    ids = services.transactions_post_many(postings=pay_teams(accounts, range(3, 6)))

    batch = Transaction.objects.filter(pk__in=ids.values()).order_by("pk")
    assert list(ids) == ["pay:3", "pay:4", "pay:5"]
    assert [(t.kind, t.memo, t.subject_kind, t.subject_id, t.idempotency_key) for t in batch] == [
        ("test", f"Team {n}", "team", str(n), f"pay:{n}") for n in range(3, 6)
    ]
    shapes = [[(leg.account.purpose, leg.amount) for leg in t.legs.order_by("pk")] for t in (*one_by_one, *batch)]
    assert shapes == [[("gateway-clearing", -1_000), ("received", 900), ("platform-revenue", 100)]] * 6
    balances = dict(Account.objects.values_list("pk", "balance"))
    assert (balances[accounts[CARD].pk], balances[accounts[REVENUE].pk], balances[accounts[team(4)].pk]) == (
        -6_000, 600, 900,
    )  # fmt: skip


def test_a_batch_posted_again_returns_the_first_postings_and_writes_nothing(db: None) -> None:
    accounts = services.accounts_open_many(keys=[CARD, REVENUE, *(team(n) for n in range(4))])
    first = services.transactions_post_many(postings=pay_teams(accounts, range(2)))
    before = ledger_state()

    again = services.transactions_post_many(postings=pay_teams(accounts, range(2)))
    wider = services.transactions_post_many(postings=pay_teams(accounts, range(4)))

    assert again == first
    assert {key: wider[key] for key in first} == first
    assert ledger_state()[0] == [*before[0], *[(wider[f"pay:{n}"], "test", f"pay:{n}") for n in (2, 3)]]


def test_a_key_used_for_a_different_posting_is_refused_and_nothing_is_posted(db: None) -> None:
    accounts = services.accounts_open_many(keys=[CARD, REVENUE, *(team(n) for n in range(3))])
    services.transactions_post_many(postings=pay_teams(accounts, range(1)))
    before = ledger_state()

    with pytest.raises(Conflict) as reused:
        services.transactions_post_many(postings=pay_teams(accounts, range(3), cents=2_000))
    with pytest.raises(Invalid):
        services.transactions_post_many(postings=[*pay_teams(accounts, range(1, 3)), *pay_teams(accounts, range(2, 3))])

    assert reused.value.code == "idempotency_key_reused"
    assert ledger_state() == before


def test_a_batch_is_all_or_nothing_when_one_posting_would_overdraw(db: None) -> None:
    accounts = services.accounts_open_many(keys=[CARD, REVENUE, *(team(n) for n in range(3))])
    services.transactions_post_many(postings=pay_teams(accounts, range(3)))
    before = ledger_state()
    refund = [
        Posting(kind="refund", legs=[(accounts[team(n)], eur(-cents)), (accounts[CARD], eur(cents))],
                idempotency_key=f"refund:{n}")
        for n, cents in ((0, 900), (1, 901), (2, 100))
    ]  # fmt: skip

    with pytest.raises(services.InsufficientFunds):
        services.transactions_post_many(postings=refund)

    assert ledger_state() == before


def test_a_batch_refuses_an_unbalanced_posting_before_writing(db: None) -> None:
    accounts = services.accounts_open_many(keys=[CARD, team(0)])

    with pytest.raises(Invalid) as unbalanced:
        services.transactions_post_many(
            postings=[Posting(kind="test", legs=[(accounts[CARD], eur(-5)), (accounts[team(0)], eur(4))],
                              idempotency_key="x")]
        )  # fmt: skip

    assert unbalanced.value.code == "unbalanced"
    assert Transaction.objects.count() == 0


# --- the database's set-based checks ------------------------------------------------------------------------------


def _raw(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def _forge(accounts: dict[AccountKey, Account], amounts: list[list[int]]) -> None:
    """Insert transactions and their legs by raw SQL in two statements, one transaction per list of amounts."""
    _raw("INSERT INTO ledger_transaction (kind, memo, subject_kind, subject_id, idempotency_key, posted_at) "
         "SELECT 'forged', '', '', n::text, '', now() FROM generate_series(1, %s) AS n", [len(amounts)])  # fmt: skip
    legs = [(n, (accounts[CARD] if cents < 0 else accounts[REVENUE]).pk, cents)
            for n, row in enumerate(amounts, start=1) for cents in row]  # fmt: skip
    _raw(
        "INSERT INTO ledger_leg (transaction_id, account_id, amount, currency) "
        "SELECT t.id, l.account_id, l.amount, 'EUR' FROM unnest(%s::int[], %s::bigint[], %s::bigint[]) "
        "AS l(n, account_id, amount) JOIN ledger_transaction t ON t.kind = 'forged' AND t.subject_id = l.n::text",
        [[leg[0] for leg in legs], [leg[1] for leg in legs], [leg[2] for leg in legs]],
    )


@pytest.mark.parametrize(
    ("amounts", "message"),
    [
        ([[-5, 5], [-7, 6, 1], [-3, 2], [-1, 1]], "ledger transaction .* does not balance: its EUR legs sum to -1"),
        ([[-5, 5], [], [-1, 1]], "needs at least two legs"),
    ],
)
def test_one_bad_transaction_among_many_inserted_together_is_refused_at_commit(
    db: None, amounts: list[list[int]], message: str
) -> None:
    accounts = services.accounts_open_many(keys=[CARD, REVENUE])

    with pytest.raises(IntegrityError, match=message), transaction.atomic():  # noqa: PT012
        _forge(accounts, amounts)
        _raw("SET CONSTRAINTS ALL IMMEDIATE")  # what COMMIT would do

    assert (Transaction.objects.count(), Account.objects.get(pk=accounts[REVENUE].pk).balance) == (0, 0)


def test_many_balanced_transactions_inserted_together_pass_and_move_each_balance_once(db: None) -> None:
    accounts = services.accounts_open_many(keys=[CARD, REVENUE])

    with transaction.atomic():
        _forge(accounts, [[-5, 5], [-7, 3, 4], [-1, 1]])
        _raw("SET CONSTRAINTS ALL IMMEDIATE")

    assert dict(Account.objects.values_list("purpose", "balance")) == {"gateway-clearing": -13, "platform-revenue": 13}


def test_the_queue_of_commit_time_checks_cannot_be_emptied_by_hand(db: None) -> None:
    accounts = services.accounts_open_many(keys=[CARD, REVENUE])

    for statement in ("DELETE FROM ledger_posting_check", "TRUNCATE ledger_posting_check",
                      "UPDATE ledger_posting_check SET transaction_ids = '{}'"):  # fmt: skip
        # PostgreSQL itself refuses to truncate a table with checks pending; the guard refuses the rest.
        refused = r"emptied only by the checks|pending trigger events"
        with pytest.raises(DatabaseError, match=refused), transaction.atomic():  # noqa: PT012
            _forge(accounts, [[-5, 5], [-1]])
            _raw(statement)  # to slip the one-leg transaction past the check
    with pytest.raises(DatabaseError, match="emptied only by the checks"), transaction.atomic():
        _raw("TRUNCATE ledger_posting_check")


def test_rolled_back_postings_leave_nothing_to_check(db: None) -> None:
    accounts = services.accounts_open_many(keys=[CARD, REVENUE])

    with transaction.atomic():
        try:
            with transaction.atomic():
                _forge(accounts, [[-5]])  # unbalanced, but rolled back to the savepoint with its queued check
                raise RuntimeError
        except RuntimeError:
            pass
        services.transaction_post(kind="test", legs=[(accounts[CARD], eur(-2)), (accounts[REVENUE], eur(2))])
        _raw("SET CONSTRAINTS ALL IMMEDIATE")

    assert list(Transaction.objects.values_list("kind", flat=True)) == ["test"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ledger_posting_check")
        assert cursor.fetchone() == (0,)


# --- the checks add up what the statements queued (sql/0009) ------------------------------------------------------


def _forge_one_leg_at_a_time(accounts: dict[AccountKey, Account], amounts: list[int]) -> None:
    """One transaction by raw SQL, each of its legs inserted by a statement of its own."""
    _raw("INSERT INTO ledger_transaction (kind, memo, subject_kind, subject_id, idempotency_key, posted_at) "
         "VALUES ('forged', '', '', 'one', '', now())")  # fmt: skip
    for cents in amounts:
        _raw(
            "INSERT INTO ledger_leg (transaction_id, account_id, amount, currency) "
            "SELECT id, %s, %s, 'EUR' FROM ledger_transaction WHERE kind = 'forged'",
            [(accounts[CARD] if cents < 0 else accounts[REVENUE]).pk, cents],
        )


def test_legs_inserted_by_several_statements_are_checked_together(db: None) -> None:
    accounts = services.accounts_open_many(keys=[CARD, REVENUE])

    # Given a transaction whose legs come one statement at a time, unbalanced once all are in
    with pytest.raises(IntegrityError, match="does not balance: its EUR legs sum to -1"), transaction.atomic():  # noqa: PT012
        _forge_one_leg_at_a_time(accounts, [-5, 3, 1])
        _raw("SET CONSTRAINTS ALL IMMEDIATE")
    assert (Transaction.objects.count(), Account.objects.get(pk=accounts[REVENUE].pk).balance) == (0, 0)

    # and one that balances only with its last leg
    with transaction.atomic():
        _forge_one_leg_at_a_time(accounts, [-5, 3, 2])
        _raw("SET CONSTRAINTS ALL IMMEDIATE")
    assert dict(Account.objects.values_list("purpose", "balance")) == {"gateway-clearing": -5, "platform-revenue": 5}


def test_the_queue_of_commit_time_checks_takes_no_rows_by_hand(db: None) -> None:
    accounts = services.accounts_open_many(keys=[CARD, REVENUE])

    # Given an unbalanced transaction, and a queued row forged to cancel its sum
    with pytest.raises(DatabaseError, match="filled only by the ledger's triggers"), transaction.atomic():  # noqa: PT012
        _forge(accounts, [[-5, 4]])
        _raw("INSERT INTO ledger_posting_check (transaction_ids, leg_transactions, leg_currencies, leg_counts, leg_sums)"
             " SELECT ARRAY[id], ARRAY[id], ARRAY['EUR'], ARRAY[0], ARRAY[1] FROM ledger_transaction"
             " WHERE kind = 'forged'")  # fmt: skip

    assert (Transaction.objects.count(), Account.objects.get(pk=accounts[REVENUE].pk).balance) == (0, 0)


def test_an_account_whose_legs_net_to_zero_is_neither_written_nor_locked(db: None) -> None:
    payer = AccountKey("person", "7", "payments", "EUR")
    accounts = services.accounts_open_many(keys=[CARD, REVENUE, payer])
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text, xmax::text FROM ledger_account WHERE id = %s", [accounts[payer].pk])
        before = cursor.fetchone()

    # When a posting passes money through the payer's account
    services.transactions_post_many(postings=[
        Posting(kind="test", legs=[(accounts[CARD], eur(-500)), (accounts[payer], eur(500)),
                                   (accounts[payer], eur(-500)), (accounts[REVENUE], eur(500))],
                idempotency_key="through-payer"),
    ])  # fmt: skip

    # Then its row is untouched (no new version, no lock), and the others moved
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text, xmax::text FROM ledger_account WHERE id = %s", [accounts[payer].pk])
        assert cursor.fetchone() == before
    assert dict(Account.objects.values_list("purpose", "balance")) == {
        "gateway-clearing": -500, "payments": 0, "platform-revenue": 500,
    }  # fmt: skip


@pytest.mark.parametrize(("missing", "message"), [("account", "ledger account .* which does not exist"),
                                                  ("transaction", "ledger transaction .* which does not exist")])  # fmt: skip
def test_a_leg_naming_an_account_or_transaction_that_does_not_exist_is_refused(
    db: None, missing: str, message: str
) -> None:
    # Given the legs' references are checked by the ledger's trigger (sql/0010), not by foreign keys
    accounts = services.accounts_open_many(keys=[CARD, REVENUE])
    nowhere = 10**12

    with pytest.raises(IntegrityError, match=message), transaction.atomic():  # noqa: PT012
        _raw("INSERT INTO ledger_transaction (kind, memo, subject_kind, subject_id, idempotency_key, posted_at) "
             "VALUES ('forged', '', '', 'one', '', now())")  # fmt: skip
        _raw(
            "INSERT INTO ledger_leg (transaction_id, account_id, amount, currency) "
            "SELECT CASE WHEN %s THEN %s ELSE id END, unnest(ARRAY[%s, %s]::bigint[]), unnest(ARRAY[-5, 5]), 'EUR' "
            "FROM ledger_transaction WHERE kind = 'forged'",
            [missing == "transaction", nowhere, nowhere if missing == "account" else accounts[CARD].pk,
             accounts[REVENUE].pk],
        )  # fmt: skip

    assert (Transaction.objects.count(), Leg.objects.count()) == (0, 0)
