"""Template tag of a backer's pledge page: what the makers refunded of it, with their reason and message.

An edge like a view: it reads through `funding.refunds`, never writes.
"""

from __future__ import annotations

from typing import Any

from django import template

from crowdmaker.funding import refunds
from crowdmaker.funding.models import Pledge
from crowdmaker.ledger.money import Money

register = template.Library()


@register.inclusion_tag("funding/_pledge_refunds.html")
def pledge_refunds(pledge: Pledge) -> dict[str, Any]:
    currency = pledge.campaign.currency
    return {
        "refunds": [(refund, Money(refund.amount, currency)) for refund in refunds.refunds_of_pledge(pledge=pledge)]
    }
