"""Amounts of money: integer minor units plus an ISO 4217 code, and the ways to split them.

No float ever touches money here: constructing or combining Money with a float, or across currencies, is
an error. Splitting uses the largest-remainder method so that the parts always add up to the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

# ISO 4217 codes the platform handles, with their number of minor-unit digits. Extend with care: an
# exponent other than 2 changes how amounts are shown, never how they are stored.
CURRENCIES: dict[str, int] = {
    "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2,
    "CAD": 2, "AUD": 2, "NZD": 2, "INR": 2, "BRL": 2, "MXN": 2, "ZAR": 2, "JPY": 0, "KRW": 0, "KWD": 3,
}  # fmt: skip


class MoneyError(ValueError):
    """An operation on money that would lose or invent value (a float, mixed currencies, a bad code)."""


def check_currency(code: str) -> str:
    if not isinstance(code, str) or code not in CURRENCIES:
        raise MoneyError(f"Unknown or unsupported currency code: {code!r} (use an ISO 4217 code such as 'EUR').")
    return code


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units: cents for EUR
    currency: str

    def __post_init__(self) -> None:
        # bool is an int subclass; True euros are a bug, not an amount.
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise MoneyError(f"Money needs an integer number of minor units, not {type(self.amount).__name__}.")
        check_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Any) -> Money:
        if not isinstance(other, Money):
            raise MoneyError(f"Cannot combine Money with {type(other).__name__}.")
        if other.currency != self.currency:
            raise MoneyError(f"Cannot combine {self.currency} with {other.currency} without a conversion.")
        return other

    def __add__(self, other: Any) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Any) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: Any) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise MoneyError("Money can be multiplied by whole numbers only; use allocate() or a fee rate.")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Any) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Any) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Any) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Any) -> bool:
        return self.amount >= self._same(other).amount

    def __bool__(self) -> bool:
        return self.amount != 0

    def __str__(self) -> str:
        digits = CURRENCIES[self.currency]
        sign = "-" if self.amount < 0 else ""
        whole, minor = divmod(abs(self.amount), 10**digits)
        return f"{sign}{whole}.{minor:0{digits}d} {self.currency}" if digits else f"{sign}{whole} {self.currency}"


def allocate(total: Money, weights: Sequence[int]) -> list[Money]:
    """Split `total` in proportion to `weights` by the largest-remainder method.

    Each part gets the floor of its exact share; the minor units left over go one each to the parts with the
    largest remainders, ties going to the earlier part (callers pass weights in stable id order). The parts
    always sum to `total`. A negative total is split as its negation and negated back, so refunds split the
    same way as the payments they undo.
    """
    if not weights:
        raise MoneyError("Cannot allocate to no one.")
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in weights):
        raise MoneyError("Weights must be non-negative integers.")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise MoneyError("At least one weight must be positive.")
    if total.amount < 0:
        return [-part for part in allocate(-total, weights)]
    floors = [total.amount * w // weight_sum for w in weights]
    remainders = [total.amount * w % weight_sum for w in weights]
    left = total.amount - sum(floors)
    # Largest remainder first; among equals, the earlier position first (stable, deterministic).
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        floors[index] += 1
    return [Money(amount, total.currency) for amount in floors]


def fee_rate(value: str | int | Fraction) -> Fraction:
    """Parse a fee rate such as "0.10" or "10%" exactly (no float); it must lie in [0, 1]."""
    if isinstance(value, Fraction):
        rate = value
    elif isinstance(value, int) and not isinstance(value, bool):
        rate = Fraction(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            rate = Fraction(text[:-1].strip()) / 100 if text.endswith("%") else Fraction(text)
        except (ValueError, ZeroDivisionError) as exc:
            raise MoneyError(f"Not a fee rate: {value!r} (write it as '0.10' or '10%').") from exc
    else:
        raise MoneyError(f"A fee rate must be a decimal string or a fraction, not {type(value).__name__}.")
    if not 0 <= rate <= 1:
        raise MoneyError(f"A fee rate must be between 0 and 1, not {value!r}.")
    return rate


def margin(price: Money, unit_cost: Money | None) -> Money:
    """Price minus the declared unit cost, never below zero; the whole price when no cost is declared."""
    if unit_cost is None:
        return price if price.amount > 0 else Money.zero(price.currency)
    difference = price - unit_cost
    return difference if difference.amount > 0 else Money.zero(price.currency)


def platform_fee(price: Money, unit_cost: Money | None, rate: Fraction) -> Money:
    """The platform's fee: `rate` of the margin, rounded half up to the minor unit (exactly, in integers)."""
    base = margin(price, unit_cost)
    exact = base.amount * rate
    rounded = (exact.numerator * 2 + exact.denominator) // (exact.denominator * 2)
    return Money(rounded, price.currency)
