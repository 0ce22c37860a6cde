"""System checks of `ledger`: settings that money depends on are refused at startup, not at the first payment.

Checks only read settings; they never touch the database or the payment gateway.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error

from crowdmaker.ledger.money import MoneyError, fee_rate


def platform_fee_rate_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """CROWDMAKER_PLATFORM_FEE_RATE (env PLATFORM_FEE_RATE) must be a rate between 0 and 1, e.g. 0.10 or 10%."""
    value = getattr(settings, "CROWDMAKER_PLATFORM_FEE_RATE", None)
    try:
        fee_rate(value)  # type: ignore[arg-type]
    except MoneyError as exc:
        return [
            Error(
                f"CROWDMAKER_PLATFORM_FEE_RATE is not a usable platform fee rate: {exc}",
                hint="Set PLATFORM_FEE_RATE to a decimal between 0 and 1 such as 0.10, or a percentage such as 10%.",
                id="ledger.E001",
            )
        ]
    return []
