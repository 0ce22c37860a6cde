"""Money, allocation and the platform fee: properties checked by Hypothesis, plus the refusals spelled out.

No database: these are pure functions of integers, so every property is checked on hundreds of examples.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from crowdmaker.ledger.money import CURRENCIES, Money, MoneyError, allocate, fee_rate, margin, platform_fee

currencies = st.sampled_from(sorted(CURRENCIES))
amounts = st.integers(min_value=-(10**15), max_value=10**15)
non_negative_amounts = st.integers(min_value=0, max_value=10**15)
weight_lists = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30).filter(any)
# Rates as the settings hold them: decimal strings with up to four places, between 0 and 1.
rate_texts = st.integers(min_value=0, max_value=10_000).map(lambda n: str(Decimal(n) / 10_000))


def exact_share(total: int, weight: int, weights: list[int]) -> Fraction:
    return Fraction(total * weight, sum(weights))


# --- allocate -----------------------------------------------------------------------------------------------


@given(total=amounts, currency=currencies, weights=weight_lists)
def test_parts_always_sum_to_the_whole(total: int, currency: str, weights: list[int]) -> None:
    parts = allocate(Money(total, currency), weights)

    assert len(parts) == len(weights)
    assert sum(part.amount for part in parts) == total
    assert all(part.currency == currency for part in parts)


@given(total=non_negative_amounts, weights=weight_lists)
def test_no_part_is_negative(total: int, weights: list[int]) -> None:
    assert all(part.amount >= 0 for part in allocate(Money(total, "EUR"), weights))


@given(total=amounts, weights=weight_lists)
def test_each_part_is_within_one_minor_unit_of_its_exact_share(total: int, weights: list[int]) -> None:
    parts = allocate(Money(total, "EUR"), weights)

    for part, weight in zip(parts, weights, strict=True):
        assert abs(part.amount - exact_share(total, weight, weights)) < 1


@given(total=amounts, weights=weight_lists)
def test_a_zero_weight_gets_nothing(total: int, weights: list[int]) -> None:
    parts = allocate(Money(total, "EUR"), weights)

    assert all(part.amount == 0 for part, weight in zip(parts, weights, strict=True) if weight == 0)


@given(total=non_negative_amounts, weights=weight_lists)
def test_a_negative_total_splits_as_the_negation_of_the_positive_one(total: int, weights: list[int]) -> None:
    # Refunds split exactly as the payments they undo.
    assert allocate(Money(-total, "EUR"), weights) == [-part for part in allocate(Money(total, "EUR"), weights)]


@given(total=amounts, weights=weight_lists)
def test_allocation_is_deterministic(total: int, weights: list[int]) -> None:
    assert allocate(Money(total, "EUR"), weights) == allocate(Money(total, "EUR"), list(weights))


@given(total=non_negative_amounts, weights=weight_lists)
def test_a_larger_weight_never_gets_less_and_ties_favour_the_earlier_part(total: int, weights: list[int]) -> None:
    parts = allocate(Money(total, "EUR"), weights)

    for i in range(len(weights)):
        for j in range(i + 1, len(weights)):
            if weights[i] >= weights[j]:  # equal weights: the earlier one is never behind
                assert parts[i].amount >= parts[j].amount
            else:
                assert parts[i].amount <= parts[j].amount


@given(
    total=non_negative_amounts,
    weights=weight_lists,
    position=st.integers(min_value=0, max_value=1000),
    increase=st.integers(min_value=1, max_value=10**6),
)
@example(total=10, weights=[1, 1, 1], position=2, increase=1)
def test_increasing_a_weight_never_decreases_its_part(
    total: int, weights: list[int], position: int, increase: int
) -> None:
    position %= len(weights)  # any part, without filtering examples out
    larger = list(weights)
    larger[position] += increase

    before = allocate(Money(total, "EUR"), weights)[position]
    after = allocate(Money(total, "EUR"), larger)[position]

    assert after.amount >= before.amount


def test_ties_go_to_the_earlier_part() -> None:
    assert [p.amount for p in allocate(Money(10, "EUR"), [1, 1, 1])] == [4, 3, 3]
    assert [p.amount for p in allocate(Money(-10, "EUR"), [1, 1, 1])] == [-4, -3, -3]
    assert [p.amount for p in allocate(Money(5, "EUR"), [0, 2, 2, 0])] == [0, 3, 2, 0]
    assert [p.amount for p in allocate(Money(100, "EUR"), [1, 2, 3])] == [17, 33, 50]


@pytest.mark.parametrize(
    "weights",
    [[], [0, 0], [1, -1], [1.5, 1], [True, 1], ["1", 2]],
    ids=["no-one", "all-zero", "negative", "float", "bool", "text"],
)
def test_allocate_refuses_bad_weights(weights: list[Any]) -> None:
    with pytest.raises(MoneyError):
        allocate(Money(100, "EUR"), weights)


# --- Money --------------------------------------------------------------------------------------------------


@given(a=amounts, b=amounts, currency=currencies)
def test_arithmetic_in_one_currency_is_exact(a: int, b: int, currency: str) -> None:
    assert Money(a, currency) + Money(b, currency) == Money(a + b, currency)
    assert Money(a, currency) - Money(b, currency) == Money(a - b, currency)
    assert -Money(a, currency) == Money(-a, currency)
    assert Money(a, currency) * 3 == 3 * Money(a, currency) == Money(3 * a, currency)
    assert (Money(a, currency) < Money(b, currency)) == (a < b)


@given(amount=st.floats(allow_nan=True, allow_infinity=True))
def test_money_refuses_floats(amount: float) -> None:
    with pytest.raises(MoneyError):
        Money(amount, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [True, False, Decimal("1.00"), Fraction(1, 2), "100", None])
def test_money_refuses_other_non_integers(amount: Any) -> None:
    with pytest.raises(MoneyError):
        Money(amount, "EUR")


@given(a=currencies, b=currencies, x=amounts, y=amounts)
def test_money_refuses_mixed_currencies(a: str, b: str, x: int, y: int) -> None:
    assume(a != b)
    for combine in (
        lambda: Money(x, a) + Money(y, b),
        lambda: Money(x, a) - Money(y, b),
        lambda: Money(x, a) < Money(y, b),
        lambda: Money(x, a) >= Money(y, b),
    ):
        with pytest.raises(MoneyError):
            combine()


@pytest.mark.parametrize("code", ["eur", "EURO", "XXX", "", "BTC", None, 978])
def test_money_refuses_unknown_currency_codes(code: Any) -> None:
    with pytest.raises(MoneyError):
        Money(100, code)


@pytest.mark.parametrize("other", [1, 1.0, Decimal(1), "1"])
def test_money_does_not_combine_with_bare_numbers(other: Any) -> None:
    with pytest.raises(MoneyError):
        Money(100, "EUR") + other


@pytest.mark.parametrize("factor", [1.5, True, Decimal(2), Fraction(1, 2)])
def test_money_multiplies_by_whole_numbers_only(factor: Any) -> None:
    with pytest.raises(MoneyError):
        Money(100, "EUR") * factor


def test_money_prints_in_major_units() -> None:
    assert str(Money(1999, "EUR")) == "19.99 EUR"
    assert str(Money(-5, "EUR")) == "-0.05 EUR"
    assert str(Money(1500, "JPY")) == "1500 JPY"
    assert str(Money(1234, "KWD")) == "1.234 KWD"


# --- the platform fee ---------------------------------------------------------------------------------------


@given(price=non_negative_amounts, cost=st.none() | non_negative_amounts, rate=rate_texts)
def test_the_fee_never_exceeds_the_margin_nor_goes_negative(price: int, cost: int | None, rate: str) -> None:
    unit_cost = None if cost is None else Money(cost, "EUR")

    fee = platform_fee(Money(price, "EUR"), unit_cost, fee_rate(rate))

    assert 0 <= fee.amount <= margin(Money(price, "EUR"), unit_cost).amount
    assert fee.currency == "EUR"


@given(price=non_negative_amounts, extra=st.integers(min_value=0, max_value=10**9), rate=rate_texts)
def test_no_fee_when_the_price_does_not_exceed_the_unit_cost(price: int, extra: int, rate: str) -> None:
    fee = platform_fee(Money(price, "EUR"), Money(price + extra, "EUR"), fee_rate(rate))

    assert fee == Money(0, "EUR")


@given(price=non_negative_amounts, cost=st.none() | non_negative_amounts, rate=rate_texts)
@example(price=105, cost=None, rate="0.1")  # 10.5 cents: half rounds up to 11
@example(price=1004, cost=999, rate="0.1")  # 0.5 of a cent on a 5-cent margin: 1
def test_the_fee_is_the_rate_of_the_margin_rounded_half_up(price: int, cost: int | None, rate: str) -> None:
    expected_margin = price if cost is None else max(price - cost, 0)
    expected = (Decimal(expected_margin) * Decimal(rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP)

    fee = platform_fee(Money(price, "EUR"), None if cost is None else Money(cost, "EUR"), fee_rate(rate))

    assert fee.amount == int(expected)


def test_the_fee_worked_examples() -> None:
    ten_percent = fee_rate("0.10")
    assert platform_fee(Money(5000, "EUR"), Money(3000, "EUR"), ten_percent) == Money(200, "EUR")
    assert platform_fee(Money(5000, "EUR"), None, ten_percent) == Money(500, "EUR")
    assert platform_fee(Money(2000, "EUR"), Money(2500, "EUR"), ten_percent) == Money(0, "EUR")
    assert platform_fee(Money(1005, "EUR"), Money(1000, "EUR"), ten_percent) == Money(1, "EUR")  # 0.5 up
    assert platform_fee(Money(1004, "EUR"), Money(1000, "EUR"), ten_percent) == Money(0, "EUR")  # 0.4 down


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("0.10", Fraction(1, 10)),
        ("10%", Fraction(1, 10)),
        (" 12.5 % ", Fraction(1, 8)),
        ("0", Fraction(0)),
        ("1", Fraction(1)),
        ("100%", Fraction(1)),
        ("0.075", Fraction(3, 40)),
    ],
)
def test_fee_rate_parses_decimal_strings_and_percentages_exactly(text: str, rate: Fraction) -> None:
    assert fee_rate(text) == rate


@given(percent=st.integers(min_value=0, max_value=100))
def test_fee_rate_percent_and_fraction_agree(percent: int) -> None:
    assert fee_rate(f"{percent}%") == fee_rate(str(Decimal(percent) / 100)) == Fraction(percent, 100)


@pytest.mark.parametrize("value", ["1.5", "-0.1", "150%", "-1%", 2, -1])
def test_fee_rate_refuses_rates_outside_zero_to_one(value: Any) -> None:
    with pytest.raises(MoneyError):
        fee_rate(value)


@pytest.mark.parametrize("value", [0.1, 1.0, True, None, Decimal("0.1")])
def test_fee_rate_refuses_floats_and_other_types(value: Any) -> None:
    with pytest.raises(MoneyError):
        fee_rate(value)


@pytest.mark.parametrize("value", ["ten percent", "", "%", "0.1.0"])
def test_fee_rate_refuses_text_that_is_no_number(value: str) -> None:
    with pytest.raises(ValueError, match=r"(?i)invalid|fee rate"):
        fee_rate(value)
