"""Postings from real parallel database connections: no lost update, no overdraft, no deadlock.

Each thread has its own connection (Django opens one per thread) and closes it when done; the data is committed
(`transactional_db`), so the threads really race for the same account rows.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable

from django.db import connection

from crowdmaker.ledger import services
from crowdmaker.ledger.models import Account, Leg, Transaction
from crowdmaker.ledger.money import Money
from crowdmaker.ledger.selectors import account_balance_from_legs, ledger_invariant_problems


def eur(cents: int) -> Money:
    return Money(cents, "EUR")


def run_in_parallel(workers: int, work: Callable[[int], list[str]]) -> Counter[str]:
    """Start `workers` threads at once (behind a barrier); each returns its outcomes, which are tallied."""
    start = threading.Barrier(workers)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def thread_main(number: int) -> None:
        try:
            start.wait()
            mine = work(number)
        except Exception as error:  # an unexpected error is an outcome too, so the test names it
            mine = [f"unexpected {type(error).__name__}: {error}"]
        finally:
            connection.close()
        with lock:
            outcomes.update(mine)

    threads = [threading.Thread(target=thread_main, args=(number,)) for number in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a posting thread hung"
    return outcomes


def test_many_parallel_transfers_out_of_one_account_lose_nothing_and_never_overdraw(transactional_db: None) -> None:
    # Given an escrow holding 500, and 20 clients each moving 10 out of it 5 times (100 transfers of 10 = 1000 wanted)
    card = services.account_open(
        owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="EUR", allow_negative=True
    )
    escrow = services.account_open(owner_kind="campaign", owner_id="7", purpose="campaign-escrow", currency="EUR")
    payable = services.account_open(owner_kind="team", owner_id="3", purpose="project-payable", currency="EUR")
    services.transaction_post(kind="pledge-capture", legs=[(card, eur(-500)), (escrow, eur(500))])
    threads, transfers, amount = 20, 5, 10

    def transfer_out(_: int) -> list[str]:
        outcomes = []
        for _ in range(transfers):
            try:
                services.transaction_post(kind="distribution", legs=[(escrow, eur(-amount)), (payable, eur(amount))])
                outcomes.append("posted")
            except services.InsufficientFunds:
                outcomes.append("refused")
        return outcomes

    # When they all post at once
    outcomes = run_in_parallel(threads, transfer_out)

    # Then exactly the 50 transfers that fit went through, the other 50 were refused and posted nothing
    assert outcomes == Counter(posted=50, refused=50)
    escrow.refresh_from_db()
    payable.refresh_from_db()
    assert escrow.balance == 0
    assert payable.balance == 500
    assert account_balance_from_legs(account=escrow) == eur(0)
    assert account_balance_from_legs(account=payable) == eur(500)
    assert Transaction.objects.filter(kind="distribution").count() == 50
    assert Leg.objects.count() == 2 + 50 * 2
    assert ledger_invariant_problems() == []


def test_transfers_in_opposite_directions_between_accounts_do_not_deadlock(transactional_db: None) -> None:
    # Given three accounts with 1000 each, and clients moving money around them with legs in every order
    card = services.account_open(
        owner_kind="gateway", owner_id="sandbox", purpose="gateway-clearing", currency="EUR", allow_negative=True
    )
    accounts = [
        services.account_open(owner_kind="team", owner_id=str(n), purpose="project-payable", currency="EUR")
        for n in range(3)
    ]
    for account in accounts:
        services.transaction_post(kind="pledge-capture", legs=[(card, eur(-1000)), (account, eur(1000))])
    threads, transfers = 12, 8

    def shuffle_money(number: int) -> list[str]:
        rng = random.Random(number)  # a seeded mix of directions per thread, so a failure can be replayed
        outcomes = []
        for _ in range(transfers):
            source, target = rng.sample(accounts, 2)
            amount = rng.randint(1, 10)  # at most 96 transfers of 10 out of one account of 1000: never an overdraft
            legs = [(source, eur(-amount)), (target, eur(amount))]
            if rng.random() < 0.5:
                legs.reverse()  # the credit first: the lock order must not depend on the leg order
            services.transaction_post(kind="transfer", legs=legs)
            outcomes.append("posted")
        return outcomes

    # When they all post at once
    outcomes = run_in_parallel(threads, shuffle_money)

    # Then every transfer went through (none died in a deadlock) and not a cent was created or lost
    assert outcomes == Counter(posted=threads * transfers)
    balances = Account.objects.filter(pk__in=[a.pk for a in accounts]).values_list("balance", flat=True)
    assert sum(balances) == 3000
    assert all(balance >= 0 for balance in balances)
    assert ledger_invariant_problems() == []
