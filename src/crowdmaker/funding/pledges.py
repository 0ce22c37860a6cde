"""Pledges: made, changed and cancelled by backers, each paid through one ledger Payment.

A pledge is made in three steps, as `ledger.payments` requires (the gateway is never called inside a database
transaction): (1) one short transaction records the pledge, its add-ons and, for a limited tier, claims one of
the tier's free slots; (2) the payment is authorized, outside any transaction, under the reference
`pledge-<id>`; (3) a second short transaction records the outcome. A declined card frees the slot at once.
A gateway that does not answer leaves the pledge pending: the client's retry with the same Idempotency-Key
(`request_key`) resumes it with the same reference, so nobody is charged twice.

No counter is updated by every pledge (a hot row that serialises a launch surge): a limited tier owns `limit`
TierSlot rows and a pledge claims the first free one with SKIP LOCKED, so concurrent pledges take different
rows; the unique pledge of a slot makes overselling impossible in the database itself.

A reward with shipping rates ships to the country the backer names: the rate that applies (`funding.countries`) is
added to the pledge's amount and to its declared unit cost, so the platform's fee is never taken on shipping.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from crowdmaker.core import sql
from crowdmaker.core.errors import Conflict, Forbidden, Invalid, NotFound
from crowdmaker.core.services import advisory_lock_id
from crowdmaker.funding.countries import COUNTRY_NAMES, shipping_rate_for
from crowdmaker.funding.models import (
    MAX_AMOUNT,
    AddOn,
    Campaign,
    CampaignStatus,
    FundingModel,
    Pledge,
    PledgeAddOn,
    PledgeStatus,
    Tier,
    TierSlot,
)
from crowdmaker.ledger import payments
from crowdmaker.ledger.gateways import PaymentGateway
from crowdmaker.ledger.models import Payment, PaymentStatus
from crowdmaker.ledger.money import Money
from crowdmaker.people.models import Membership, Role, User

logger = logging.getLogger(__name__)
EDITOR_ROLES = (Role.OWNER, Role.MAINTAINER)  # they run a team's campaigns, so they may not back them

MAX_ADDON_QUANTITY = 100
OPEN = (PledgeStatus.PENDING, PledgeStatus.AUTHORIZED)  # a backer may still cancel or change these


class SoldOut(Conflict):
    code = "sold_out"


@dataclass(frozen=True)
class PledgeQuote:
    """What a pledge costs and what of it the platform keeps, shown before the backer commits (MONEY.md)."""

    currency: str
    reward_amount: int
    extra_amount: int
    amount: int
    unit_cost: int
    fee: int
    addons: tuple[tuple[AddOn, int], ...]
    shipping_amount: int = 0  # in `amount` and in `unit_cost` (no fee on shipping)
    shipping_country: str = ""  # where the reward ships; "" when nothing ships


def _open_for_pledges(campaign: Campaign, now: datetime) -> bool:
    """Whether the campaign takes pledges now; late pledges after a successful deadline when the maker allows."""
    if campaign.status == CampaignStatus.LIVE:
        return campaign.starts_at <= now < campaign.deadline
    return campaign.status == CampaignStatus.SUCCEEDED and campaign.late_pledges


def _shipping(tier: Tier | None, country: str) -> tuple[int, str]:
    """What shipping the reward of `tier` to `country` costs and the country as recorded: (0, "") for a tier
    without shipping rates or no reward (a country given then is ignored: there is nothing to ship)."""
    rates = list(tier.shipping_rates.all()) if tier is not None else []  # prefetched by selectors.campaign_tiers
    if not rates:
        return 0, ""
    code = country.strip().upper() if isinstance(country, str) else ""
    if not code:
        raise Invalid("This reward is shipped: choose the country to ship it to.", code="shipping_country_required",
                      field="shipping_country")  # fmt: skip
    if code not in COUNTRY_NAMES:
        raise Invalid(f"“{code}” is not a country code (ISO 3166-1 alpha-2, e.g. DE).", code="country_unknown",
                      field="shipping_country")  # fmt: skip
    rate = shipping_rate_for(rates, code)
    if rate is None:
        raise Invalid(f"This reward does not ship to {COUNTRY_NAMES[code]}.", code="not_shipped_there",
                      field="shipping_country")  # fmt: skip
    return rate.amount, code


def pledge_quote(
    *,
    campaign: Campaign,
    tier: Tier | None,
    addons: Mapping[int, int] | None = None,
    extra: int = 0,
    shipping_country: str = "",
) -> PledgeQuote:
    """The amounts of a pledge of `tier` (or no reward) with `addons` ({add-on id: quantity}) and `extra`, shipped
    to `shipping_country` when the tier ships; refuses what the campaign does not offer. Reads only."""
    if isinstance(extra, bool) or not isinstance(extra, int) or not 0 <= extra <= MAX_AMOUNT:
        raise Invalid("The extra amount is a whole number of minor units, 0 or more.", field="extra")
    now = timezone.now()
    reward = cost = 0
    if tier is not None:
        if tier.campaign_id != campaign.pk:
            raise Invalid("This tier belongs to another campaign.", code="tier_unknown", field="tier")
        if (tier.available_from and now < tier.available_from) or (
            tier.available_until and now >= tier.available_until
        ):
            raise Conflict("This tier is not available now.", code="tier_unavailable", field="tier")
        reward, cost = tier.price, tier.unit_cost
    chosen: list[tuple[AddOn, int]] = []
    wanted = dict(addons or {})
    if wanted:
        if tier is None:
            raise Invalid("Add-ons go on top of a reward tier.", code="addons_need_tier", field="addons")
        found = {addon.pk: addon for addon in AddOn.objects.filter(campaign=campaign, pk__in=list(wanted))}
        for addon_id, quantity in sorted(wanted.items()):
            if addon_id not in found:
                raise Invalid(f"This campaign has no add-on {addon_id}.", code="addon_unknown", field="addons")
            if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_ADDON_QUANTITY:
                raise Invalid(f"An add-on's quantity is from 1 to {MAX_ADDON_QUANTITY}.", field="addons")
            addon = found[addon_id]
            reward += addon.price * quantity
            cost += addon.unit_cost * quantity
            chosen.append((addon, quantity))
    shipping, country = _shipping(tier, shipping_country)
    if reward + extra <= 0:
        raise Invalid("Pledge more than nothing: choose a tier or give an amount.", code="amount_zero", field="extra")
    amount, cost = reward + extra + shipping, cost + shipping
    if amount > MAX_AMOUNT:
        raise Invalid("That is more than one pledge may be.", field="extra")
    currency = campaign.currency
    fee = payments.quote_fee(Money(amount, currency), Money(cost, currency) if tier is not None else None)
    return PledgeQuote(currency, reward, extra, amount, cost, fee.amount, tuple(chosen), shipping, country)


# Takes the first free slot no one else holds, in one statement: the subquery locks it (SKIP LOCKED), the UPDATE
# fills it.
CLAIM_FREE_SLOT = """
UPDATE funding_tierslot SET pledge_id = %s WHERE id = (
    SELECT id FROM funding_tierslot WHERE tier_id = %s AND pledge_id IS NULL
    ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED
) RETURNING id
"""
# When every free slot is locked by pledges being recorded right now, wait for one of them: it may be given up.
# PostgreSQL re-checks `pledge_id IS NULL` on the row once the lock is released (READ COMMITTED), so a slot
# taken meanwhile is skipped, never handed out twice.
WAIT_FOR_FREE_SLOT = """
SELECT id FROM funding_tierslot WHERE tier_id = %s AND pledge_id IS NULL
ORDER BY number LIMIT 1 FOR UPDATE
"""


# Waiters take turns, one per tier at a time (a lock until their transaction ends): a FOR UPDATE scan keeps the
# locks of the rows it re-checked and skipped, so two waiters scanning at once could each hold a row the other
# waits for, a deadlock (seen in the 500-pledge race). A claim by SKIP LOCKED never waits, so it is never part of
# such a cycle.
WAIT_TURN = "SELECT pg_advisory_xact_lock(%s)"


def _claim_slot(tier: Tier, pledge: Pledge) -> None:
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_FREE_SLOT, [pledge.pk, tier.pk])
        if cursor.fetchone() is not None:
            return
        cursor.execute(WAIT_TURN, [advisory_lock_id("funding.tier-slots", str(tier.pk))])
        cursor.execute(WAIT_FOR_FREE_SLOT, [tier.pk])
        row = cursor.fetchone()
    if row is None:
        raise SoldOut(f"“{tier.title}” is sold out.", field="tier")
    TierSlot.objects.filter(pk=row[0]).update(pledge=pledge)


def _release_slot(pledge: Pledge) -> None:
    TierSlot.objects.filter(pledge=pledge).update(pledge=None)


def _transition(
    pledge_id: int,
    *,
    to: str,
    only_from: tuple[str, ...],
    free_place: bool = False,
    payment: Payment | None = None,
) -> Pledge:
    """Move a pledge to status `to` if it is in one of `only_from` (under its row lock, so concurrent steps and
    re-runs move it once); `free_place` gives its tier place back. Returns the pledge as it now is."""
    with transaction.atomic():
        locked = Pledge.objects.select_for_update().get(pk=pledge_id)
        if locked.status in only_from:
            locked.status = to
            fields = ["status", "updated_at"]
            if payment is not None:
                locked.payment = payment
                fields.append("payment")
            locked.updated_at = timezone.now()
            locked.save(update_fields=fields)
            if free_place:
                _release_slot(locked)
        return locked


def _record(*, backer: User, campaign: Campaign, tier: Tier | None, quote: PledgeQuote, request_key: str,
            replaces: Pledge | None, claim_place: bool = True, referrer: User | None = None) -> Pledge:  # fmt: skip
    # A change keeps the referrer of the pledge it replaces: the share link brought the backer, not the change.
    referrer_id = replaces.referrer_id if replaces is not None else (referrer.pk if referrer is not None else None)
    with transaction.atomic(savepoint=False):  # inside pledge_create's transaction: no savepoint
        pledge = Pledge(
            campaign=campaign, backer=backer, tier=tier, reward_amount=quote.reward_amount,
            extra_amount=quote.extra_amount, amount=quote.amount, unit_cost=quote.unit_cost,
            shipping_amount=quote.shipping_amount, shipping_country=quote.shipping_country,
            request_key=request_key, replaces=replaces, late=campaign.status == CampaignStatus.SUCCEEDED,
            referrer_id=referrer_id,
        )  # fmt: skip
        sql.insert(pledge)  # Pledge.objects.create's INSERT, without the ORM's compiling (the surge's hot path)
        lines = PledgeAddOn.objects.bulk_create(
            PledgeAddOn(pledge=pledge, addon=addon, quantity=quantity, price=addon.price)
            for addon, quantity in quote.addons
        )
        if tier is not None and tier.limit and claim_place:
            _claim_slot(tier, pledge)
    _holds_lines(pledge, lines)
    return pledge


def _holds_lines(pledge: Pledge, lines: list[PledgeAddOn]) -> None:
    """Give the pledge just recorded its add-on lines as a prefetch would (so its answer does not read them back)."""
    recorded = pledge.addons.all()
    recorded._result_cache = lines
    recorded._prefetch_done = True  # type: ignore[attr-defined]
    pledge._prefetched_objects_cache = {"addons": recorded}  # type: ignore[attr-defined]


def _same_request(pledge: Pledge, tier: Tier | None, addons: Mapping[int, int] | None, extra: int,
                  shipping_country: str = "") -> bool:  # fmt: skip
    """Whether a retry asks for what the pledge recorded under its key asked for (tier, add-ons, extra, and the
    shipping country when its reward ships: a country given for a reward that does not ship was ignored)."""
    recorded = sorted(pledge.addons.values_list("addon_id", "quantity"))
    country = shipping_country.strip().upper() if pledge.shipping_country and isinstance(shipping_country, str) else ""
    return (pledge.tier_id, pledge.extra_amount, recorded, pledge.shipping_country) == (
        tier.pk if tier else None,
        extra,
        sorted((addons or {}).items()),
        country,
    )


def _authorization_start(
    pledge: Pledge, *, payment_method: str, gateway: PaymentGateway | None
) -> payments.AuthorizationStarted:
    """Step 1's payment: recorded (or, for a pledge being resumed, found) under the reference `pledge-<id>`, in the
    caller's transaction when there is one. The pledge refers to its campaign, the payee, by a foreign key."""
    currency = pledge.campaign.currency
    return payments.payment_authorize_start(
        payer_id=str(pledge.backer_id), payee_kind="campaign", payee_id=str(pledge.campaign_id),
        amount=Money(pledge.amount, currency), payment_method=payment_method, reference=f"pledge-{pledge.pk}",
        gateway=gateway, unit_cost=Money(pledge.unit_cost, currency) if pledge.tier_id else None, payee_known=True,
    )  # fmt: skip


def _hold(pledge: Pledge, payment: Payment) -> Pledge:
    """In the transaction that records the payment's authorization: the pending pledge is authorized with it, by one
    conditional UPDATE (what `_transition` does with a row lock and a save); a pledge no longer pending (cancelled
    while its authorization was in flight) is returned as it now is."""
    now = timezone.now()
    if sql.update(Pledge, pledge.pk, where={"status": PledgeStatus.PENDING}, status=PledgeStatus.AUTHORIZED,
                  payment_id=payment.pk, updated_at=now):  # fmt: skip
        pledge.status, pledge.payment, pledge.updated_at = PledgeStatus.AUTHORIZED, payment, now
        return pledge
    return Pledge.objects.get(pk=pledge.pk)


def _authorize(
    pledge: Pledge,
    *,
    payment_method: str,
    gateway: PaymentGateway | None,
    started: payments.AuthorizationStarted | None = None,
) -> Pledge:
    """Steps 2 and 3: authorize (or resume authorizing) the pledge's payment, then record what happened; the pledge
    is authorized in the same transaction as its payment. `started`: the payment recorded with the pledge in step 1;
    without it (a pledge being resumed) the payment is found, or recorded, first."""
    if started is None:
        started = _authorization_start(pledge, payment_method=payment_method, gateway=gateway)
    held: list[Pledge] = []
    try:
        payment = payments.payment_authorize_finish(
            started=started, on_authorized=lambda payment: held.append(_hold(pledge, payment))
        )
    except payments.PaymentDeclined:
        _transition(pledge.pk, to=PledgeStatus.DECLINED, only_from=(PledgeStatus.PENDING,), free_place=True,
                    payment=started.payment)  # fmt: skip
        raise
    if payment.status == PaymentStatus.AUTHORIZED:
        # Not held in this call: the payment was authorized by an earlier one (a crash before the pledge was).
        now = held[0] if held else _transition(pledge.pk, to=PledgeStatus.AUTHORIZED,
                                               only_from=(PledgeStatus.PENDING,), payment=payment)  # fmt: skip
        if now.status != PledgeStatus.AUTHORIZED:  # cancelled while its authorization was in flight
            _void_quietly(payment, gateway=gateway)
            return now
        if now.replaces_id is not None:
            _finish_change(now, gateway=gateway)
    if held and held[0].status == PledgeStatus.AUTHORIZED and held[0].replaces_id is None:
        locked = held[0]  # as this call recorded it, with its campaign
    else:
        locked = Pledge.objects.select_related("campaign").get(pk=pledge.pk)
    campaign = locked.campaign
    if locked.status == PledgeStatus.AUTHORIZED and (locked.late or campaign.funding_model == FundingModel.FLEXIBLE):
        return pledge_capture(pledge=locked, gateway=gateway)
    return locked


# The pledge a backer's request key recorded (at most one: the key is unique per backer), in cached SQL: every
# pledge of a launch surge asks.
RECORDED_UNDER = "SELECT {columns} FROM funding_pledge p WHERE p.backer_id = %s AND p.request_key = %s"


def _recorded_under(backer: User, request_key: str) -> Pledge | None:
    if not request_key:
        return None
    with connection.cursor() as cursor:
        cursor.execute(RECORDED_UNDER.format(columns=sql.columns(Pledge, "p")), [backer.pk, request_key])
        row = cursor.fetchone()
    return sql.instance(Pledge, row) if row is not None else None


def pledge_create(
    *,
    backer: User,
    campaign: Campaign,
    payment_method: str,
    tier: Tier | None = None,
    addons: Mapping[int, int] | None = None,
    extra: int = 0,
    request_key: str = "",
    gateway: PaymentGateway | None = None,
    replaces: Pledge | None = None,
    shipping_country: str = "",
    referrer: User | None = None,
) -> Pledge:
    """Pledge to `tier` (or without a reward) with add-ons and an extra amount, paying with `payment_method`; a
    reward that ships goes to `shipping_country` (refused with `not_shipped_there` where no rate applies).
    `referrer`: the member whose share link brought the backer (never the backer: `referrer_self`); a change
    (`replaces`) keeps the replaced pledge's referrer instead.

    Raises SoldOut when a limited tier has no free slot (nothing is recorded), PaymentDeclined when the card
    says no (the pledge is kept as declined, its slot freed), GatewayDown when the gateway does not answer (the
    pledge stays pending; retry with the same `request_key`)."""
    if len(request_key) > 255:
        raise Invalid("An Idempotency-Key is at most 255 characters.", field="request_key")
    recorded = _recorded_under(backer, request_key)
    if recorded is not None:
        # A retry: the pledge was accepted when it was recorded, so it is resumed even if the tier's window or
        # the campaign closed since (its place is held); only a different request under the same key is refused.
        if recorded.campaign_id != campaign.pk or not _same_request(recorded, tier, addons, extra, shipping_country):
            raise Invalid("This Idempotency-Key was used for a different pledge.", code="idempotency_key_reused")
        if recorded.status != PledgeStatus.PENDING:
            return recorded
        return _authorize(recorded, payment_method=payment_method, gateway=gateway)
    if not _open_for_pledges(campaign, timezone.now()):
        raise Conflict("This campaign does not take pledges now.", code="campaign_closed")
    if campaign.owner_user_id == backer.pk or (
        campaign.owner_team_id is not None
        and Membership.objects.filter(team_id=campaign.owner_team_id, user=backer, role__in=EDITOR_ROLES).exists()
    ):
        raise Forbidden("You cannot back your own campaign.", code="own_campaign")
    if referrer is not None and referrer.pk == backer.pk and replaces is None:
        raise Invalid("A pledge cannot be referred by its own backer.", code="referrer_self", field="ref")
    quote = pledge_quote(campaign=campaign, tier=tier, addons=addons, extra=extra, shipping_country=shipping_country)
    # Changing to another amount in the same limited tier keeps the place the old pledge holds (it moves to the
    # new pledge once that is authorized), so a full tier does not stop a backer from changing their own pledge.
    keeps_place = replaces is not None and tier is not None and replaces.tier_id == tier.pk
    started = None
    try:
        with transaction.atomic():  # step 1: the pledge, its place and its payment, all or nothing
            pledge = _record(backer=backer, campaign=campaign, tier=tier, quote=quote, request_key=request_key,
                             replaces=replaces, claim_place=not keeps_place, referrer=referrer)  # fmt: skip
            started = _authorization_start(pledge, payment_method=payment_method, gateway=gateway)
    except IntegrityError as exc:
        # The same key in two requests at once (a double click): the other one recorded the pledge; this one
        # follows it as a retry would. (Another live replacement of `replaces` is a change already under way.)
        recorded = Pledge.objects.filter(backer=backer, request_key=request_key).first() if request_key else None
        if recorded is None:
            raise Conflict("This pledge is being changed already; wait for that change.",
                           code="change_in_progress") from exc  # fmt: skip
        if recorded.status != PledgeStatus.PENDING:
            return recorded
        pledge = recorded
    return _authorize(pledge, payment_method=payment_method, gateway=gateway, started=started)


def _own_pledge(*, backer: User, pledge_id: int) -> Pledge:
    pledge = Pledge.objects.select_related("campaign", "tier").filter(pk=pledge_id, backer=backer).first()
    if pledge is None:
        raise NotFound("You have no such pledge.")
    return pledge


def pledge_cancel(*, backer: User, pledge_id: int, gateway: PaymentGateway | None = None) -> Pledge:
    """Cancel a pledge before the deadline: its place is freed and its authorization voided (nobody is charged).

    The pledge is marked cancelled first, under its lock, so settlement can no longer capture it; the void
    follows outside the transaction, and if the gateway does not answer, `pledges_resume_stale` voids it later."""
    pledge = _own_pledge(backer=backer, pledge_id=pledge_id)
    if pledge.status not in OPEN:
        raise Conflict(f"This pledge is {pledge.get_status_display().lower()}; it cannot be cancelled.",
                       code="pledge_not_cancellable")  # fmt: skip
    campaign = pledge.campaign
    if not (campaign.status == CampaignStatus.LIVE and timezone.now() < campaign.deadline):
        raise Conflict("Pledges can be cancelled until the deadline.", code="campaign_closed")
    if Pledge.objects.filter(replaces=pledge, status=PledgeStatus.PENDING).exists():
        raise Conflict("A change of this pledge is being authorized; try again in a moment.",
                       code="change_in_progress")  # fmt: skip
    cancelled = _transition(pledge.pk, to=PledgeStatus.CANCELLED, only_from=OPEN, free_place=True)
    payment = Payment.objects.filter(reference=f"pledge-{pledge.pk}").first()
    if payment is not None:
        _void_quietly(payment, gateway=gateway)
    return cancelled


def _void_quietly(payment: Payment, *, gateway: PaymentGateway | None) -> None:
    """Void an authorization nobody may be charged for; a gateway that does not answer leaves it to
    `pledges_resume_stale` (the pledge's status already says it is not to be taken)."""
    payment.refresh_from_db()
    if payment.status != PaymentStatus.AUTHORIZED:
        return
    try:
        payments.payment_void(payment=payment, gateway=gateway)
    except (payments.GatewayDown, Conflict):
        logger.warning("could not void %s now; pledges_resume_stale will", payment)


def pledge_change(
    *,
    backer: User,
    pledge_id: int,
    payment_method: str,
    tier: Tier | None = None,
    addons: Mapping[int, int] | None = None,
    extra: int = 0,
    request_key: str = "",
    gateway: PaymentGateway | None = None,
    shipping_country: str = "",
) -> Pledge:
    """Change tier, add-ons, amount or shipping country (its shipping is priced anew): a new pledge is authorized
    first, then the old one cancelled, so a sold-out tier or a declined card leaves the backer with the pledge they
    had."""
    old = _own_pledge(backer=backer, pledge_id=pledge_id)
    retry = bool(request_key) and Pledge.objects.filter(backer=backer, request_key=request_key, replaces=old).exists()
    if not retry:  # every refusal comes before any work (an API answer of 409 must mean nothing was done)
        if old.status != PledgeStatus.AUTHORIZED:
            raise Conflict("Only an authorized pledge can be changed.", code="pledge_not_changeable")
        campaign = old.campaign
        if not (campaign.status == CampaignStatus.LIVE and timezone.now() < campaign.deadline):
            raise Conflict("Pledges can be changed until the deadline.", code="campaign_closed")
    new = pledge_create(backer=backer, campaign=old.campaign, payment_method=payment_method, tier=tier, addons=addons,
                        extra=extra, request_key=request_key, gateway=gateway, replaces=old,
                        shipping_country=shipping_country)  # fmt: skip
    _finish_change(new, gateway=gateway)
    return new


def _finish_change(new: Pledge, *, gateway: PaymentGateway | None) -> None:
    """Once a replacing pledge holds, the replaced one hands it its place (same tier) and becomes `replaced`, then
    its authorization is voided. If the replaced pledge is no longer open (settled, cancelled meanwhile), the change
    cannot happen: the replacing pledge is cancelled and voided instead, so nobody pays twice and no tier is
    oversold. Both rows are locked for the decision; idempotent (a retry or the periodic job finishes it)."""
    if new.replaces_id is None:
        return
    with transaction.atomic():
        old, replacing = (Pledge.objects.select_for_update().get(pk=pk) for pk in (new.replaces_id, new.pk))
        if replacing.status not in (PledgeStatus.AUTHORIZED, PledgeStatus.CAPTURED):
            return
        stands = old.status in (*OPEN, PledgeStatus.REPLACED)
        if old.status in OPEN:
            if replacing.tier_id == old.tier_id and not TierSlot.objects.filter(pledge=replacing).exists():
                TierSlot.objects.filter(pledge=old).update(pledge=replacing)
            _transition(old.pk, to=PledgeStatus.REPLACED, only_from=OPEN, free_place=True)
        elif not stands and replacing.status == PledgeStatus.AUTHORIZED:
            _transition(replacing.pk, to=PledgeStatus.CANCELLED, only_from=(PledgeStatus.AUTHORIZED,),
                        free_place=True)  # fmt: skip
    gone = old if stands else replacing
    payment = Payment.objects.filter(reference=f"pledge-{gone.pk}").first()
    if payment is not None:
        _void_quietly(payment, gateway=gateway)


def pledge_capture(*, pledge: Pledge, gateway: PaymentGateway | None = None) -> Pledge:
    """Take an authorized pledge's money at pledge time (flexible campaigns, late pledges).

    A capture declined here drops the pledge at once: the backer is there to be told (402) and may pledge again
    with another card. Settlement at the deadline (`funding.settlement`) captures through the ledger itself and
    retries a declined capture on a schedule instead."""
    if pledge.payment_id is None:
        raise Conflict("This pledge has no authorized payment.", code="pledge_not_authorized")
    try:
        payments.payment_capture(payment=pledge.payment, gateway=gateway)  # type: ignore[arg-type]
    except payments.PaymentDeclined:
        # The ledger has voided the authorization (its default on a declined capture): nothing is held any more.
        _transition(pledge.pk, to=PledgeStatus.DROPPED, only_from=(PledgeStatus.AUTHORIZED,), free_place=True)
        raise
    return _transition(pledge.pk, to=PledgeStatus.CAPTURED, only_from=(PledgeStatus.AUTHORIZED,))


PLEDGE_STALE_AFTER = payments.STALE_AFTER


def pledges_resume_stale(*, gateway: PaymentGateway | None = None, now: datetime | None = None) -> dict[str, int]:
    """Finish pledges left pending (the gateway did not answer and the client never retried, or the process died
    between the steps), so that none holds a tier's place for ever. A pledge whose payment was recorded is
    resumed with the same reference (authorized at most once, or recorded as declined); one without a payment
    (the process died before the gateway was asked) is declined and its place freed. Idempotent."""
    cutoff = (now or timezone.now()) - PLEDGE_STALE_AFTER
    outcomes = {"authorized": 0, "declined": 0, "unavailable": 0}
    stale = Pledge.objects.filter(status=PledgeStatus.PENDING, created_at__lt=cutoff).order_by("created_at", "pk")
    for pledge in stale.select_related("campaign"):
        payment = Payment.objects.filter(reference=f"pledge-{pledge.pk}").first()
        if payment is None:
            _transition(pledge.pk, to=PledgeStatus.DECLINED, only_from=(PledgeStatus.PENDING,), free_place=True)
            outcomes["declined"] += 1
            continue
        try:
            resumed = _authorize(pledge, payment_method=payment.payment_method, gateway=gateway)
        except payments.PaymentDeclined:
            outcomes["declined"] += 1
        except payments.GatewayDown:
            outcomes["unavailable"] += 1
        else:
            if resumed.status != PledgeStatus.PENDING:
                _finish_change(resumed, gateway=gateway)
            outcomes["authorized" if resumed.status != PledgeStatus.PENDING else "unavailable"] += 1
    for half_done in Pledge.objects.filter(
        replaces__status=PledgeStatus.AUTHORIZED, status__in=(PledgeStatus.AUTHORIZED, PledgeStatus.CAPTURED)
    ):
        _finish_change(half_done, gateway=gateway)  # the replaced pledge was not cancelled (a crash, a failed void)
    given_up = Pledge.objects.filter(
        status__in=(PledgeStatus.CANCELLED, PledgeStatus.DECLINED), payment__isnull=True, created_at__lt=cutoff
    ).values_list("pk", flat=True)
    for payment in Payment.objects.filter(
        status__in=(PaymentStatus.PENDING, PaymentStatus.AUTHORIZED), reference__in=[f"pledge-{pk}" for pk in given_up]
    ):  # cancelled while its authorization was in flight: finish asking, then release what was held
        try:
            payment = payments.payment_authorize(
                payer_id=payment.payer_id, payee_kind=payment.payee_kind, payee_id=payment.payee_id,
                amount=Money(payment.amount, payment.currency), payment_method=payment.payment_method,
                reference=payment.reference, gateway=gateway,
            )  # fmt: skip
        except (payments.PaymentDeclined, payments.GatewayDown):
            continue  # declined: nothing is held; down: the next run tries again
        _void_quietly(payment, gateway=gateway)
    for orphan in Payment.objects.filter(
        status=PaymentStatus.AUTHORIZED,
        pledge__status__in=(PledgeStatus.CANCELLED, PledgeStatus.DECLINED, PledgeStatus.DROPPED, PledgeStatus.REPLACED),
    ):
        _void_quietly(orphan, gateway=gateway)  # an authorization no pledge stands behind any more
    return outcomes
