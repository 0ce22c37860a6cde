"""Payment gateways: the interface (`base`), the sandbox, and `payment_gateway()`, which loads the configured one.

The gateway is named by the setting CROWDMAKER_PAYMENT_GATEWAY (a dotted path to a PaymentGateway class).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from crowdmaker.ledger.gateways.base import (
    Authorization,
    Capture,
    CaptureRequest,
    CardInsufficientFunds,
    Declined,
    GatewayError,
    GatewayUnavailable,
    PaymentGateway,
    Payout,
    Refund,
    Void,
    VoidRequest,
    WebhookInvalid,
)

__all__ = [
    "Authorization",
    "Capture",
    "CaptureRequest",
    "CardInsufficientFunds",
    "Declined",
    "GatewayError",
    "GatewayUnavailable",
    "PaymentGateway",
    "Payout",
    "Refund",
    "Void",
    "VoidRequest",
    "WebhookInvalid",
    "payment_gateway",
]


def payment_gateway() -> PaymentGateway:
    """A gateway instance of the configured class. Gateways keep no state in the process, so a new one is cheap."""
    gateway_class = import_string(settings.CROWDMAKER_PAYMENT_GATEWAY)
    if not (isinstance(gateway_class, type) and issubclass(gateway_class, PaymentGateway)):
        raise TypeError(f"CROWDMAKER_PAYMENT_GATEWAY must name a PaymentGateway class, not {gateway_class!r}.")
    return gateway_class()
