"""A Hypothesis state machine posts random valid and invalid transactions and checks the ledger after each step.

After every step: every invariant check of `ledger verify` finds nothing, and a model of the balances kept here
in Python equals the database. Every refused posting must leave the ledger exactly as it was. Each example runs
in a savepoint of the test's transaction, rolled back at its end, so examples do not see each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from crowdmaker.core.errors import Conflict, Invalid
from crowdmaker.ledger import services
from crowdmaker.ledger.models import Account, Leg, Transaction
from crowdmaker.ledger.money import Money
from crowdmaker.ledger.selectors import ledger_invariant_problems

# (owner kind, owner id, purpose, currency, may go negative)
ACCOUNTS = [
    ("gateway", "sandbox", "gateway-clearing", "EUR", True),
    ("campaign", "1", "campaign-escrow", "EUR", False),
    ("platform", "", "platform-revenue", "EUR", False),
    ("person", "1", "contributor-payable", "EUR", False),
    ("gateway", "sandbox", "gateway-clearing", "USD", True),
    ("team", "1", "project-payable", "USD", False),
]
CURRENCIES = ["EUR", "USD"]
KINDS = ["sale", "refund"]
KEYS = [None, "key-a", "key-b", "key-c"]
small_amounts = st.integers(min_value=1, max_value=500)


@dataclass
class Posted:
    pk: int
    kind: str
    legs: list[tuple[int, int, str]]  # (account pk, amount, currency), in leg order
    is_reversal: bool = False
    reversed: bool = False


@dataclass
class Model:
    balances: dict[int, int] = field(default_factory=dict)
    allow_negative: dict[int, bool] = field(default_factory=dict)
    posted: list[Posted] = field(default_factory=list)
    by_key: dict[str, Posted] = field(default_factory=dict)

    def refused_for_overdraft(self, legs: list[tuple[int, int, str]]) -> bool:
        """Whether the database refuses these legs: an account that may not go negative ends below zero.

        The overdraft check runs once all of a posting's legs are in, so only the net effect counts: money may
        pass through an empty account within one posting, whatever the order of its legs.
        """
        running = dict(self.balances)
        for account, amount, _ in legs:
            running[account] += amount
        return any(running[account] < 0 and not self.allow_negative[account] for account, _, _ in legs)

    def apply(self, legs: list[tuple[int, int, str]]) -> None:
        for account, amount, _ in legs:
            self.balances[account] += amount

    @property
    def leg_count(self) -> int:
        return sum(len(p.legs) for p in self.posted)


def snapshot() -> tuple[int, int, list[tuple[int, int]]]:
    return (
        Transaction.objects.count(),
        Leg.objects.count(),
        list(Account.objects.order_by("pk").values_list("pk", "balance")),
    )


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # One savepoint per example, rolled back in teardown: each example starts from an empty ledger.
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.model = Model()
        self.accounts: list[Account] = []

    @initialize()
    def open_accounts(self) -> None:
        for kind, owner, purpose, currency, allow_negative in ACCOUNTS:
            account = services.account_open(
                owner_kind=kind, owner_id=owner, purpose=purpose, currency=currency, allow_negative=allow_negative
            )
            self.accounts.append(account)
            self.model.balances[account.pk] = 0
            self.model.allow_negative[account.pk] = allow_negative

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    # --- helpers ----------------------------------------------------------------------------------------------

    def account(self, pk: int) -> Account:
        return next(a for a in self.accounts if a.pk == pk)

    def in_currency(self, currency: str) -> list[Account]:
        return [a for a in self.accounts if a.currency == currency]

    def draw_balanced_legs(self, data: Any, currency: str) -> list[tuple[int, int, str]]:
        """Two to five legs in one currency that sum to zero, none of them zero."""
        accounts = self.in_currency(currency)
        count = data.draw(st.integers(min_value=2, max_value=5), label="legs")
        chosen = [data.draw(st.sampled_from(accounts), label="account").pk for _ in range(count)]
        amounts = [data.draw(st.integers(min_value=-500, max_value=500).filter(bool)) for _ in range(count - 1)]
        last = -sum(amounts)
        if last == 0:  # keep every leg non-zero: move one unit between the first and the last leg
            amounts[0] += 1 if amounts[0] != -1 else -1
            last = -sum(amounts)
        return [(pk, amount, currency) for pk, amount in zip(chosen, [*amounts, last], strict=True)]

    def to_service(self, legs: list[tuple[int, int, str]]) -> list[tuple[Account, Money]]:
        return [(self.account(pk), Money(amount, currency)) for pk, amount, currency in legs]

    def expect_refusal(self, error: type[Exception], call: Any, code: str | None = None) -> None:
        """The call raises `error` (with `code`) and leaves the ledger exactly as it was."""
        before = snapshot()
        with pytest.raises(error) as refused:
            call()
        if code is not None:
            assert getattr(refused.value, "code", None) == code
        assert snapshot() == before

    # --- valid postings (which the database may still refuse for an overdraft) --------------------------------

    @rule(data=st.data(), kind=st.sampled_from(KINDS), key=st.sampled_from(KEYS), two_currencies=st.booleans())
    def post(self, data: Any, kind: str, key: str | None, two_currencies: bool) -> None:
        currencies = CURRENCIES if two_currencies else [data.draw(st.sampled_from(CURRENCIES), label="currency")]
        legs = [leg for currency in currencies for leg in self.draw_balanced_legs(data, currency)]
        call = lambda: services.transaction_post(kind=kind, legs=self.to_service(legs), idempotency_key=key)  # noqa: E731

        earlier = self.model.by_key.get(key) if key else None
        if earlier is not None:
            if earlier.kind == kind and sorted(earlier.legs) == sorted(legs):
                before = snapshot()
                assert call().pk == earlier.pk  # replayed, not posted again
                assert snapshot() == before
            else:
                self.expect_refusal(Conflict, call, "idempotency_key_reused")
            return
        if self.model.refused_for_overdraft(legs):
            self.expect_refusal(services.InsufficientFunds, call)
            return
        posted = call()
        self.model.apply(legs)
        record = Posted(pk=posted.pk, kind=kind, legs=legs)
        self.model.posted.append(record)
        if key:
            self.model.by_key[key] = record

    @rule(data=st.data())
    def replay_an_earlier_posting_by_key(self, data: Any) -> None:
        if not self.model.by_key:
            return
        key = data.draw(st.sampled_from(sorted(self.model.by_key)), label="key")
        earlier = self.model.by_key[key]
        before = snapshot()

        replayed = services.transaction_post(
            kind=earlier.kind, legs=self.to_service(list(reversed(earlier.legs))), idempotency_key=key
        )

        assert replayed.pk == earlier.pk
        assert snapshot() == before

    @rule(data=st.data())
    def overdraw_an_account(self, data: Any) -> None:
        limited = [a for a in self.accounts if not a.allow_negative]
        source = data.draw(st.sampled_from(limited), label="source")
        target = data.draw(st.sampled_from([a for a in self.in_currency(source.currency) if a != source]))
        amount = self.model.balances[source.pk] + data.draw(small_amounts, label="beyond")
        legs = [(source.pk, -amount, source.currency), (target.pk, amount, source.currency)]

        self.expect_refusal(
            services.InsufficientFunds, lambda: services.transaction_post(kind="sale", legs=self.to_service(legs))
        )

    # --- invalid postings: refused in Python, before anything is written --------------------------------------

    @rule(data=st.data(), currency=st.sampled_from(CURRENCIES), off_by=st.integers(-50, 50).filter(bool))
    def post_unbalanced(self, data: Any, currency: str, off_by: int) -> None:
        legs = self.draw_balanced_legs(data, currency)
        pk, amount, _ = legs[-1]
        assume_nonzero = amount + off_by or off_by  # keep the leg non-zero, so that only the balance is wrong
        legs[-1] = (pk, assume_nonzero, currency)
        self.expect_refusal(
            Invalid, lambda: services.transaction_post(kind="sale", legs=self.to_service(legs)), "unbalanced"
        )

    @rule(data=st.data(), count=st.integers(min_value=0, max_value=1))
    def post_too_few_legs(self, data: Any, count: int) -> None:
        legs = [(data.draw(st.sampled_from(self.accounts)), Money(100, "EUR"))][:count]
        legs = [(a, Money(m.amount, a.currency)) for a, m in legs]
        self.expect_refusal(Invalid, lambda: services.transaction_post(kind="sale", legs=legs))

    @rule(data=st.data(), currency=st.sampled_from(CURRENCIES))
    def post_a_zero_leg(self, data: Any, currency: str) -> None:
        legs = self.to_service(self.draw_balanced_legs(data, currency))
        zero_at = data.draw(st.integers(min_value=0, max_value=len(legs) - 1), label="zero at")
        legs.insert(zero_at, (legs[zero_at][0], Money(0, currency)))
        self.expect_refusal(Invalid, lambda: services.transaction_post(kind="sale", legs=legs))

    @rule(data=st.data(), amount=small_amounts)
    def post_in_the_wrong_currency(self, data: Any, amount: int) -> None:
        eur = data.draw(st.sampled_from(self.in_currency("EUR")), label="eur account")
        usd = data.draw(st.sampled_from(self.in_currency("USD")), label="usd account")
        # Balanced per currency, but each leg lands in an account held in the other currency.
        legs = [(eur, Money(-amount, "USD")), (usd, Money(amount, "USD"))]
        self.expect_refusal(Invalid, lambda: services.transaction_post(kind="sale", legs=legs))

    # --- reversals ----------------------------------------------------------------------------------------------

    @rule(data=st.data())
    def reverse(self, data: Any) -> None:
        if not self.model.posted:
            return
        original = data.draw(st.sampled_from(self.model.posted), label="original")
        call = lambda: services.transaction_reverse(original=Transaction.objects.get(pk=original.pk))  # noqa: E731
        if original.is_reversal:
            self.expect_refusal(Invalid, call, "reversal_of_reversal")
            return
        if original.reversed:
            self.expect_refusal(Conflict, call, "already_reversed")
            return
        legs = [(pk, -amount, currency) for pk, amount, currency in original.legs]
        if self.model.refused_for_overdraft(legs):
            self.expect_refusal(services.InsufficientFunds, call)
            return
        reversal = call()
        assert reversal.reverses_id == original.pk
        self.model.apply(legs)
        original.reversed = True
        self.model.posted.append(Posted(pk=reversal.pk, kind="reversal", legs=legs, is_reversal=True))

    # --- after every step -------------------------------------------------------------------------------------

    @invariant()
    def the_ledger_is_sound(self) -> None:
        assert ledger_invariant_problems() == []

    @invariant()
    def the_database_matches_the_model(self) -> None:
        balances = dict(Account.objects.values_list("pk", "balance"))
        assert balances == self.model.balances
        assert Transaction.objects.count() == len(self.model.posted)
        assert Leg.objects.count() == self.model.leg_count


def test_random_postings_keep_the_ledger_sound(db: None) -> None:
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
