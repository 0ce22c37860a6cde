"""JSON API of refunds: a campaign's editors refund a captured pledge (all of it or some items) and retry a failed
refund, each POST with an `Idempotency-Key`; they list the campaign's refunds; a backer lists their pledge's.

A router of its own, mounted beside `funding.api`'s. Handlers parse input and call one service of
`funding.refunds` (or a selector); they never write themselves. A refund the gateway declines is answered as
created (201) with `status: failed` and its `failure`: it is recorded and retried with POST /refunds/{refund_id}/retry.
Money is integer minor units of the campaign's currency.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import StrictInt

from crowdmaker.core.api import Cursor, ErrorOut, InputSchema
from crowdmaker.core.idempotency import idempotency_reference, idempotent
from crowdmaker.funding import refunds, selectors
from crowdmaker.funding.api import ERRORS
from crowdmaker.funding.backers import editor_required
from crowdmaker.funding.models import REFUND_MESSAGE_MAX_LENGTH, REFUND_REASON_MAX_LENGTH, Campaign, Refund
from crowdmaker.people.auth import signed_in_user
from crowdmaker.people.auth import viewer as _viewer

router = Router(tags=["funding"])

REFUND_ERRORS = {**ERRORS, 503: ErrorOut}
MAX_REFUND_ITEMS = 60  # the reward, the shipping, the extra and every add-on of a pledge (at most 50)


class RefundItemIn(InputSchema):
    item: Literal["reward", "addon", "shipping", "extra"]
    addon: StrictInt | None = Field(None, ge=1, description="The add-on's id, for an add-on item.")
    quantity: StrictInt | None = Field(None, ge=1, le=100,
                                       description="Units of the add-on to refund; default: all not refunded yet.")  # fmt: skip


class RefundIn(InputSchema):
    full: bool = Field(False, description="Refund everything of the pledge not refunded yet (then no `items`).")
    items: list[RefundItemIn] = Field(default_factory=list, max_length=MAX_REFUND_ITEMS,
                                      description="What to refund, when not `full`; each item once.")  # fmt: skip
    reason: str = Field(
        ..., min_length=1, max_length=REFUND_REASON_MAX_LENGTH, description="Why (shown to the backer)."
    )
    message: str = Field("", max_length=REFUND_MESSAGE_MAX_LENGTH, description="To the backer, plain text; e-mailed.")


class RefundItemOut(Schema):
    item: str = Field(..., description="reward, addon, shipping or extra.")
    addon: int | None = None
    quantity: int | None = None
    amount: int = Field(..., description="Minor units.")


class RefundOut(Schema):
    id: int
    pledge: int
    status: str = Field(..., description="pending, succeeded or failed (retry it).")
    currency: str
    amount: int = Field(..., description="Minor units given back to the backer.")
    items: list[RefundItemOut]
    reason: str
    message: str
    attempt: int = Field(..., description="1, then one more for each retry.")
    failure: str = Field(..., description="Why the gateway declined the last attempt (empty unless failed).")
    created_at: datetime
    updated_at: datetime
    succeeded_at: datetime | None

    @staticmethod
    def resolve_pledge(refund: Refund) -> int:
        return refund.pledge_id

    @staticmethod
    def resolve_currency(refund: Refund) -> str:
        return refund.pledge.campaign.currency


def _editor_campaign(request: HttpRequest, slug: str) -> Campaign:
    campaign = selectors.campaign_visible(slug=slug, viewer=_viewer(request))
    editor_required(campaign=campaign, actor=signed_in_user(request), doing="see and make its refunds")
    return campaign


@router.post(
    "/campaigns/{slug}/pledges/{pledge_id}/refunds",
    response={201: RefundOut, **REFUND_ERRORS},
    summary="Refund a captured pledge, all of it or some items, with a reason and a message to the backer (editors)",
)
@idempotent
def refund_create(request: HttpRequest, slug: str, pledge_id: int, payload: RefundIn) -> Status:
    """The money goes back through the gateway and the ledger; when the campaign's proceeds were distributed, the
    makers give back their share of it (refused with 409 `beneficiary_paid_out` when one has paid it out). 409
    `already_refunded`: an item is refunded or being refunded. A declined refund is answered 201 with `status:
    failed`. 503: the gateway did not answer; the refund is pending and a retry with the same key finishes it."""
    campaign = _editor_campaign(request, slug)
    pledge = refunds.pledge_of_campaign(campaign=campaign, pledge_id=pledge_id)
    refund = refunds.refund_create(
        actor=signed_in_user(request), pledge=pledge, reason=payload.reason, message=payload.message,
        full=payload.full, items=[refunds.ItemChoice(i.item, i.addon, i.quantity) for i in payload.items],
        reference=idempotency_reference(request, "refund"),
    )  # fmt: skip
    return Status(201, refunds.refund_of_campaign(campaign=campaign, refund_id=refund.pk))


@router.get("/campaigns/{slug}/refunds", response={200: list[RefundOut], **ERRORS},
            summary="A campaign's refunds, newest first (editors)")  # fmt: skip
@paginate(Cursor, ordering=("-id",))
def refunds_list(request: HttpRequest, slug: str) -> object:
    return refunds.refunds_of_campaign(campaign=_editor_campaign(request, slug))


@router.post("/refunds/{refund_id}/retry", response={200: RefundOut, **REFUND_ERRORS},
             summary="Retry a failed refund as a new attempt (the campaign's editors)")  # fmt: skip
@idempotent
def refund_retry(request: HttpRequest, refund_id: int) -> Refund:
    """409 `refund_not_failed` unless it failed; 409 `already_refunded` when another refund has given back its items
    since. Answered with the refund, succeeded or failed again."""
    refund = refunds.refund_by_id(refund_id=refund_id)
    refunds.refund_retry(actor=signed_in_user(request), refund=refund)
    return refunds.refund_by_id(refund_id=refund_id)


@router.get("/pledges/{pledge_id}/refunds", response={200: list[RefundOut], **ERRORS},
            summary="What the makers refunded of my pledge, newest first")  # fmt: skip
def pledge_refunds(request: HttpRequest, pledge_id: int) -> list[Refund]:
    pledge = selectors.pledge_of(backer=signed_in_user(request), pledge_id=pledge_id)
    return list(refunds.refunds_of_pledge(pledge=pledge))
