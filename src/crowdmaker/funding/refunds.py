"""Refunds by a campaign's editors: all of a captured pledge, or some of its items (the reward, add-ons or some of
their quantity, the shipping, the extra), with a reason and a message the backer is e-mailed, through the gateway
and the ledger (`ledger.payments.payment_refund`); a refund the gateway declines stays visible, and is retried.

Never calls the gateway inside a database transaction and never writes the ledger except through `ledger.payments`
and one keyed clawback posting per attempt. A refund's row, its payment's operation, the clawback (what the refund
takes from the campaign's received account that the account no longer holds, taken back from the makers it was
distributed to, in proportion to what each still holds of it) and the refund's posting are one transaction, inside
payment_refund's lock on the payment: all stand or none do. A decline reverses the posting and the clawback in one
transaction, whoever learns of it (this module, or the ledger's stale-step job through `refund_declined`). A
refund left pending (a crash, a gateway down) is finished by `refunds_resume_stale` under its reference: nobody is
refunded twice.

The platform gives back the fee of the items refunded: a pledge's fee was taken on its margin, so it is split over
its items by their margins (`refund_fee`; the shipping bears none), and refunds of every item give back exactly it.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from crowdmaker.core.errors import Conflict, DomainError, Invalid, NotFound
from crowdmaker.funding.backers import editor_required
from crowdmaker.funding.models import (
    REFUND_MESSAGE_MAX_LENGTH,
    REFUND_REASON_MAX_LENGTH,
    Campaign,
    Pledge,
    PledgeStatus,
    Refund,
    RefundStatus,
)

# CLAWBACK: the ledger kind of the posting that moves money back from a campaign's makers into its received
# account, so that a refund after the distribution is covered; campaign_books counts it as negative distribution.
from crowdmaker.funding.settlement import CLAWBACK, DISTRIBUTION, PROCEEDS
from crowdmaker.ledger import owners, payments
from crowdmaker.ledger.gateways import PaymentGateway
from crowdmaker.ledger.models import Account, Leg, Payment, PaymentOperation, PaymentStatus, Transaction
from crowdmaker.ledger.money import Money, allocate
from crowdmaker.ledger.services import InsufficientFunds, account_open, transaction_post, transaction_reverse
from crowdmaker.people.models import User

logger = logging.getLogger(__name__)

# A refund still pending this long after its attempt started was abandoned by its caller (the request died, the
# gateway stayed down); the periodic job funding.refunds_resume_stale finishes it. Shorter than the ledger's own
# payments.STALE_AFTER, so this job, which also records the refund's outcome, normally gets there first.
REFUND_STALE_AFTER = timedelta(minutes=5)
# What a refund may give back, item by item.
REWARD, ADDON, SHIPPING, EXTRA = "reward", "addon", "shipping", "extra"
ITEM_KINDS = (REWARD, ADDON, SHIPPING, EXTRA)
# Refunds whose items are taken: a failed one gives its items back (until it is retried).
HOLDING = (RefundStatus.PENDING, RefundStatus.SUCCEEDED)


@dataclass(frozen=True)
class ItemChoice:
    """An item the editor asks to refund: `addon` (its id) and `quantity` (None: all not refunded yet) for an add-on."""

    item: str
    addon: int | None = None
    quantity: int | None = None


@dataclass(frozen=True)
class RefundItem:
    """An item of a pledge with what refunding it gives back (an add-on: `quantity` units at `unit_price`)."""

    item: str
    amount: int
    addon: int | None = None
    quantity: int | None = None
    title: str = ""

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"item": self.item, "amount": self.amount}
        if self.item == ADDON:
            data.update(addon=self.addon, quantity=self.quantity)
        return data


# --- reads ----------------------------------------------------------------------------------------------------


def _pledged_items(pledge: Pledge) -> list[RefundItem]:
    """Every item of the pledge, in full: the reward (its price: the reward amount less the add-ons), each add-on
    line, the shipping and the extra; items worth nothing left out."""
    lines = list(pledge.addons.select_related("addon").order_by("pk"))
    reward = pledge.reward_amount - sum(line.price * line.quantity for line in lines)
    items = []
    if reward > 0:
        items.append(RefundItem(REWARD, reward, title=pledge.tier.title if pledge.tier else "Reward"))
    items += [RefundItem(ADDON, line.price * line.quantity, addon=line.addon_id, quantity=line.quantity,
                         title=line.addon.title) for line in lines]  # fmt: skip
    if pledge.shipping_amount > 0:
        items.append(RefundItem(SHIPPING, pledge.shipping_amount, title="Shipping"))
    if pledge.extra_amount > 0:
        items.append(RefundItem(EXTRA, pledge.extra_amount, title="Extra"))
    return items


def _item_fees(pledge: Pledge) -> dict[tuple[str, int | None], int]:
    """The pledge's fee (its payment's fee_amount) split over its items by their margin, largest remainder in the
    items' order: the reward (its price less the tier's unit cost), each add-on line ((price - unit cost) x quantity),
    the extra (all margin); the shipping bears none, and a negative margin counts 0. The parts add up to the fee."""
    fee = pledge.payment.fee_amount if pledge.payment is not None else 0
    items = _pledged_items(pledge)
    if not items:
        return {}
    costs = dict(pledge.addons.values_list("addon_id", "addon__unit_cost"))
    weights = []
    for item in items:
        if item.item == REWARD:
            weights.append(max(0, item.amount - (pledge.tier.unit_cost if pledge.tier else 0)))
        elif item.item == ADDON:
            assert item.addon is not None
            assert item.quantity is not None
            weights.append(max(0, item.amount - costs[item.addon] * item.quantity))
        elif item.item == EXTRA:
            weights.append(item.amount)
        else:
            weights.append(0)
    if not any(weights):  # no margin left to weigh (costs declared since): by what each item cost the backer
        weights = [0 if item.item == SHIPPING else item.amount for item in items]
        if not any(weights):
            weights = [item.amount for item in items]
    parts = allocate(Money(fee, pledge.campaign.currency), weights)
    return {(item.item, item.addon): part.amount for item, part in zip(items, parts, strict=True)}


def _fee_of(pledge: Pledge, fees: dict[tuple[str, int | None], int], whole: set[str], units: Counter[int]) -> int:
    """The fee of the items `whole` and the add-on `units` taken so far: an add-on's first k of q units bear
    allocate(its fee, [k, q - k])[0], so refunds of its units one by one add up to its fee."""
    total = 0
    lines = dict(pledge.addons.values_list("addon_id", "quantity"))
    for (kind, addon), fee in fees.items():
        if kind != ADDON:
            total += fee if kind in whole else 0
            continue
        assert addon is not None
        taken, quantity = min(units[addon], lines[addon]), lines[addon]
        if taken == quantity:
            total += fee
        elif taken and fee:
            total += allocate(Money(fee, pledge.campaign.currency), [taken, quantity - taken])[0].amount
    return total


def refund_fee(*, pledge: Pledge, items: Sequence[dict[str, Any]], excluding: Refund | None = None) -> int:
    """What the platform gives back of its fee on a refund of `items` (as a Refund stores them) made after the
    pledge's other pending and succeeded refunds: the fee of the items taken with it less that of the items taken
    before (running totals: refunds of every item give back exactly the payment's fee). Reads only."""
    fees = _item_fees(pledge)
    whole, units = _taken(pledge, excluding=excluding)
    before = _fee_of(pledge, fees, whole, units)
    for item in items:
        if item["item"] == ADDON:
            units[int(item["addon"])] += int(item["quantity"])
        else:
            whole.add(item["item"])
    return _fee_of(pledge, fees, whole, units) - before


def _taken(pledge: Pledge, *, excluding: Refund | None = None) -> tuple[set[str], Counter[int]]:
    """What pending and succeeded refunds of the pledge cover: whole items by kind, and add-on units by add-on."""
    refunds = Refund.objects.filter(pledge=pledge, status__in=HOLDING)
    if excluding is not None:
        refunds = refunds.exclude(pk=excluding.pk)
    whole: set[str] = set()
    units: Counter[int] = Counter()
    for items in refunds.values_list("items", flat=True):
        for item in items:
            if item["item"] == ADDON:
                units[int(item["addon"])] += int(item["quantity"])
            else:
                whole.add(item["item"])
    return whole, units


def refundable_items(*, pledge: Pledge, excluding: Refund | None = None) -> list[RefundItem]:
    """What is left to refund of the pledge, item by item (an add-on with the units not refunded yet); reads only."""
    whole, units = _taken(pledge, excluding=excluding)
    left = []
    for item in _pledged_items(pledge):
        if item.item == ADDON:
            assert item.addon is not None
            assert item.quantity is not None
            remaining = item.quantity - units[item.addon]
            if remaining > 0:
                left.append(RefundItem(ADDON, item.amount // item.quantity * remaining, addon=item.addon,
                                       quantity=remaining, title=item.title))  # fmt: skip
        elif item.item not in whole:
            left.append(item)
    return left


def refunds_of_campaign(*, campaign: Campaign) -> QuerySet[Refund]:
    """The campaign's refunds, newest first, with their pledges and backers (for its editors)."""
    return (
        Refund.objects.filter(pledge__campaign=campaign)
        .select_related("pledge__campaign", "pledge__backer__profile", "pledge__tier")
        .order_by("-created_at", "-id")
    )


def refunds_of_pledge(*, pledge: Pledge) -> QuerySet[Refund]:
    """A pledge's refunds, newest first (its backer sees them on the pledge)."""
    return Refund.objects.filter(pledge=pledge).select_related("pledge__campaign").order_by("-created_at", "-id")


def refund_of_campaign(*, campaign: Campaign, refund_id: int) -> Refund:
    refund = refunds_of_campaign(campaign=campaign).filter(pk=refund_id).first()
    if refund is None:
        raise NotFound("This campaign has no such refund.")
    return refund


def refund_by_id(*, refund_id: int) -> Refund:
    refund = Refund.objects.select_related("pledge__campaign").filter(pk=refund_id).first()
    if refund is None:
        raise NotFound("There is no such refund.")
    return refund


def refund_made_with(*, pledge: Pledge, reference: str) -> Refund | None:
    """The pledge's refund a request made with `reference` (an Idempotency-Key, a form's token), in any attempt."""
    return Refund.objects.filter(
        Q(reference=reference) | Q(reference__startswith=f"{reference}:attempt-"), pledge=pledge
    ).first()


def pledge_of_campaign(*, campaign: Campaign, pledge_id: int) -> Pledge:
    pledge = (
        Pledge.objects.filter(campaign=campaign, pk=pledge_id).select_related("campaign", "tier", "payment").first()
    )
    if pledge is None:
        raise NotFound("This campaign has no such pledge.")
    return pledge


# --- choosing what to refund ------------------------------------------------------------------------------------


def _chosen(pledge: Pledge, choices: Sequence[ItemChoice], full: bool, *, excluding: Refund | None = None,
            ) -> list[RefundItem]:  # fmt: skip
    """The items to refund: all that is left (`full`) or those chosen, each still refundable; Invalid (naming the
    input) or Conflict (already refunded) otherwise."""
    left = refundable_items(pledge=pledge, excluding=excluding)
    if full:
        if choices:
            raise Invalid("Refund everything or choose items, not both.", code="refund_items_and_full", field="items")
        if not left:
            raise Conflict("Everything of this pledge is refunded or being refunded.", code="already_refunded")
        return left
    if not choices:
        raise Invalid("Choose what to refund, or refund everything.", code="refund_items_required", field="items")
    pledged = {(item.item, item.addon): item for item in _pledged_items(pledge)}
    remaining = {(item.item, item.addon): item for item in left}
    items, seen = [], set()
    for position, choice in enumerate(choices):
        field = f"items.{position}"
        if choice.item not in ITEM_KINDS:
            raise Invalid(f"An item is one of: {', '.join(ITEM_KINDS)}.", code="refund_item_unknown",
                          field=f"{field}.item")  # fmt: skip
        if (choice.item == ADDON) != (choice.addon is not None):
            raise Invalid("Name the add-on of an add-on item (and only of one).", code="refund_item_invalid",
                          field=f"{field}.addon")  # fmt: skip
        if choice.quantity is not None and choice.item != ADDON:
            raise Invalid("Only an add-on is refunded by quantity.", code="refund_item_invalid",
                          field=f"{field}.quantity")  # fmt: skip
        key = (choice.item, choice.addon)
        if key in seen:
            raise Invalid("Name each item once.", code="refund_item_repeated", field=field)
        seen.add(key)
        if key not in pledged:
            what = f"add-on {choice.addon}" if choice.item == ADDON else f"the {choice.item}"
            raise Invalid(f"This pledge has no {what} to refund.", code="refund_item_not_pledged",
                          field=f"{field}.addon" if choice.item == ADDON else f"{field}.item")  # fmt: skip
        if key not in remaining:
            raise Conflict(f"{pledged[key].title} is refunded (or being refunded) already.", code="already_refunded",
                           field=field)  # fmt: skip
        item = remaining[key]
        if choice.item == ADDON:
            assert item.quantity is not None
            quantity = item.quantity if choice.quantity is None else choice.quantity
            if not 1 <= quantity <= item.quantity:
                raise Invalid(f"{item.title}: refund 1 to {item.quantity} (not refunded yet).",
                              code="refund_quantity_invalid", field=f"{field}.quantity")  # fmt: skip
            item = RefundItem(ADDON, item.amount // item.quantity * quantity, addon=item.addon, quantity=quantity,
                              title=item.title)  # fmt: skip
        items.append(item)
    return items


def _refundable_pledge(pledge: Pledge) -> Payment:
    if pledge.status != PledgeStatus.CAPTURED or pledge.payment is None:
        raise Conflict(f"Pledge #{pledge.pk} is {pledge.status}: only a captured pledge is refunded.",
                       code="pledge_not_captured")  # fmt: skip
    return pledge.payment


def _text(reason: str, message: str) -> tuple[str, str]:
    reason = " ".join(reason.split())
    if not reason:
        raise Invalid("Say why the pledge is refunded.", code="reason_required", field="reason")
    if len(reason) > REFUND_REASON_MAX_LENGTH:
        raise Invalid(f"A reason has at most {REFUND_REASON_MAX_LENGTH} characters.", field="reason")
    message = message.strip()
    if len(message) > REFUND_MESSAGE_MAX_LENGTH:
        raise Invalid(f"A message has at most {REFUND_MESSAGE_MAX_LENGTH} characters.", field="message")
    return reason, message


# --- the clawback -----------------------------------------------------------------------------------------------


def _clawback_key(refund: Refund) -> str:
    return f"refund:{refund.pk}:clawback:{refund.attempt}"


def _clawback(refund: Refund, campaign: Campaign, net: Money) -> None:
    """Inside the refund's locked transaction: move into the campaign's received account what its balance does not
    cover of `net` (what the refund takes from it), from the beneficiaries of its distributions in proportion to
    what each still holds of them (largest remainder, in account order). Conflict, nothing changed: the makers
    together hold less than is missing (refund_not_covered), or one of them no longer holds their part of it in
    their account (paid out: beneficiary_paid_out)."""
    received = account_open(owner_kind="campaign", owner_id=str(campaign.pk), purpose=payments.RECEIVED,
                            currency=campaign.currency)  # fmt: skip
    # The received account's lock orders this clawback after any other of the campaign's (and its distributions):
    # what `_held` reads next includes them.
    balance = Account.objects.select_for_update().values_list("balance", flat=True).get(pk=received.pk)
    short = net.amount - balance
    if short <= 0:
        return
    held = _held(campaign)
    if short > sum(remaining for _, remaining in held):
        raise Conflict(
            f"This refund needs {Money(short, campaign.currency)} back from the campaign's makers, who hold only "
            f"{Money(sum(r for _, r in held), campaign.currency)} of what it distributed to them. Nothing was refunded.",
            code="refund_not_covered",
        )
    # Never more than anyone's remaining: with R = sum(remaining) >= short, each exact share short*r/R is at most
    # r; a part is its floor plus at most one unit, and gets the unit only when its share has a fractional part,
    # so the share is then below the integer r and its floor at most r - 1 (test_the_clawback_never_asks_...).
    parts = allocate(Money(short, campaign.currency), [remaining for _, remaining in held])
    legs = [(received, Money(short, campaign.currency))]
    for (account, _), part in zip(held, parts, strict=True):
        if not part:
            continue
        if account.balance < part.amount:
            raise _paid_out(account.owner_kind, account.owner_id, part, account.balance)
        legs.append((account, -part))
    try:
        transaction_post(kind=CLAWBACK, legs=legs, subject=("campaign", str(campaign.pk)),
                         memo=f"Refund #{refund.pk} of pledge #{refund.pledge_id}: taken back from the makers",
                         idempotency_key=_clawback_key(refund))  # fmt: skip
    except InsufficientFunds as exc:  # paid out between the look and the posting
        raise Conflict("A maker of this campaign no longer holds their part of the refund (paid out).",
                       code="beneficiary_paid_out") from exc  # fmt: skip


def _held(campaign: Campaign) -> list[tuple[Account, int]]:
    """Each beneficiary's proceeds account with what they still hold from this campaign (never below 0), in
    account order: their legs in the campaign's distributions and clawbacks, and in reversals of those."""
    makers = (DISTRIBUTION, CLAWBACK)
    totals = dict(
        Leg.objects.filter(account__purpose=PROCEEDS, account__currency=campaign.currency,
                           transaction__subject_kind="campaign", transaction__subject_id=str(campaign.pk))
        .filter(Q(transaction__kind__in=makers) | Q(transaction__reverses__kind__in=makers))
        .values("account_id").annotate(total=Sum("amount")).values_list("account_id", "total")
    )  # fmt: skip
    accounts = Account.objects.filter(pk__in=list(totals)).order_by("pk")
    return [(account, max(0, int(totals[account.pk]))) for account in accounts]


def _paid_out(kind: str, owner_id: str, part: Money, balance: int) -> Conflict:
    owner = owners.owner_describe(kind, owner_id)
    name = owner.label if owner is not None else f"{kind} {owner_id}"
    return Conflict(
        f"{name} should give back {part} of this refund but holds only {Money(balance, part.currency)} of the "
        "campaign's proceeds (paid out). Nothing was refunded.",
        code="beneficiary_paid_out",
    )


def _clawback_reverse(refund: Refund) -> None:
    """Undo the clawback of the refund's current attempt, if it made one and it is not undone yet."""
    original = Transaction.objects.filter(idempotency_key=_clawback_key(refund)).first()
    if original is None or Transaction.objects.filter(reverses=original).exists():
        return
    transaction_reverse(original=original, memo=f"Refund #{refund.pk} declined by the gateway: back to the makers",
                        idempotency_key=f"{_clawback_key(refund)}:reversal")  # fmt: skip


# --- the services -----------------------------------------------------------------------------------------------


def refund_create(
    *,
    actor: User,
    pledge: Pledge,
    reason: str,
    message: str = "",
    items: Sequence[ItemChoice] = (),
    full: bool = False,
    reference: str | None = None,
    gateway: PaymentGateway | None = None,
) -> Refund:
    """Refund `items` of a captured pledge (or, `full`, everything not refunded yet) for the campaign's editors.

    Returns the refund: succeeded, or failed when the gateway declined it (its `failure` says why; retry it with
    `refund_retry`). A `reference` (an API request's Idempotency-Key, a form's token) resumes the refund made
    under it instead of making another. Refused, with nothing changed: Forbidden (not an editor), Conflict (the
    pledge is not captured, an item is refunded already, a maker has paid out their part), Invalid (bad items,
    reason or message). GatewayDown (503): the refund stays pending and the same reference, or the periodic job,
    finishes it.
    """
    pledge = Pledge.objects.select_related("campaign", "tier", "payment").get(pk=pledge.pk)
    campaign = pledge.campaign
    editor_required(campaign=campaign, actor=actor, doing="refund its backers")
    if reference is not None and not 0 < len(reference) <= 200:
        raise Invalid("A refund's reference has 1 to 200 characters.", field="reference")
    if reference is not None:
        if Refund.objects.filter(reference=reference).exclude(pledge=pledge).exists():
            raise Invalid("This reference belongs to another refund.", code="reference_reused")
        earlier = refund_made_with(pledge=pledge, reference=reference)
        if earlier is not None:
            return refund_resume(refund=earlier, gateway=gateway)
    reason, message = _text(reason, message)
    payment = _refundable_pledge(pledge)
    chosen = _chosen(pledge, items, full)
    amount = Money(sum(item.amount for item in chosen), campaign.currency)
    fee = refund_fee(pledge=pledge, items=[item.as_json() for item in chosen])
    reference = reference or f"refund-{uuid.uuid4().hex}"

    def cover(locked: Payment, net: Money) -> None:
        current = Pledge.objects.select_related("campaign", "tier", "payment").get(pk=pledge.pk)
        _refundable_pledge(current)
        # A refund of the same items (or of other units of the same add-on, which moves this one's part of the fee)
        # got there first.
        if (_chosen(current, items, full) != chosen
                or refund_fee(pledge=current, items=[item.as_json() for item in chosen]) != fee):  # fmt: skip
            raise Conflict("Part of this has just been refunded; look again.", code="already_refunded")
        refund = Refund.objects.create(
            pledge=current, amount=amount.amount, items=[item.as_json() for item in chosen], reason=reason,
            message=message, reference=reference, created_by=actor,
        )  # fmt: skip
        _clawback(refund, campaign, net)

    try:
        payments.payment_refund(payment=payment, amount=amount, reference=reference, gateway=gateway, cover=cover,
                                on_decline=partial(_record_decline, reference),
                                fee_part=Money(fee, campaign.currency))  # fmt: skip
    except payments.PaymentDeclined:
        return Refund.objects.get(reference=reference)
    except IntegrityError as exc:  # another pledge's refund took the reference since the look above (the only
        # unique values this writes that are not new ids: its operation's and its own reference)
        raise Invalid("This reference belongs to another refund.", code="reference_reused") from exc
    return _record_success(Refund.objects.get(reference=reference))


def refund_retry(*, actor: User, refund: Refund, gateway: PaymentGateway | None = None) -> Refund:
    """Try a failed refund again, as a new attempt with a reference of its own (the items are checked again: another
    refund may have taken them meanwhile). Returns it succeeded, or failed again. Refused, with nothing changed:
    Forbidden (not an editor), Conflict (it is not failed, its items are refunded by another refund, the pledge is
    not captured any more, a maker has paid out their part)."""
    refund = Refund.objects.select_related("pledge__campaign", "pledge__tier", "pledge__payment").get(pk=refund.pk)
    pledge = refund.pledge
    campaign = pledge.campaign
    editor_required(campaign=campaign, actor=actor, doing="refund its backers")
    if refund.status != RefundStatus.FAILED:
        raise Conflict(f"Refund #{refund.pk} is {refund.status}: only a failed refund is retried.",
                       code="refund_not_failed")  # fmt: skip
    payment = _refundable_pledge(pledge)
    _check_items_free(refund)
    attempt = refund.attempt + 1
    reference = _attempt_reference(refund.reference, attempt)
    fee = refund_fee(pledge=pledge, items=refund.items, excluding=refund)

    def cover(locked: Payment, net: Money) -> None:
        current = Refund.objects.select_for_update().get(pk=refund.pk)
        if (current.status, current.attempt) != (RefundStatus.FAILED, attempt - 1):
            raise Conflict(f"Refund #{refund.pk} is being retried already.", code="refund_not_failed")
        _refundable_pledge(Pledge.objects.get(pk=pledge.pk))
        _check_items_free(current)
        if refund_fee(pledge=pledge, items=current.items, excluding=current) != fee:
            raise Conflict("Part of this pledge has just been refunded; look again.", code="already_refunded")
        current.status, current.attempt, current.reference, current.failure = (
            RefundStatus.PENDING,
            attempt,
            reference,
            "",
        )
        current.updated_at = timezone.now()
        current.save(update_fields=["status", "attempt", "reference", "failure", "updated_at"])
        _clawback(current, campaign, net)

    try:
        payments.payment_refund(payment=payment, amount=Money(refund.amount, campaign.currency), reference=reference,
                                gateway=gateway, cover=cover, on_decline=partial(_record_decline, reference),
                                fee_part=Money(fee, campaign.currency))  # fmt: skip
    except payments.PaymentDeclined:
        return Refund.objects.get(pk=refund.pk)
    return _record_success(Refund.objects.get(pk=refund.pk))


def _attempt_reference(reference: str, attempt: int) -> str:
    base = reference.split(":attempt-", 1)[0]
    return base if attempt == 1 else f"{base}:attempt-{attempt}"


def _check_items_free(refund: Refund) -> None:
    whole, units = _taken(refund.pledge, excluding=refund)
    lines = {line.addon_id: line.quantity for line in refund.pledge.addons.all()}
    for item in refund.items:
        if item["item"] == ADDON:
            taken = units[int(item["addon"])] + int(item["quantity"]) > lines.get(int(item["addon"]), 0)
        else:
            taken = item["item"] in whole
        if taken:
            raise Conflict("Another refund has given back part of this one's items since it failed.",
                           code="already_refunded")  # fmt: skip


def refund_declined(*, reference: str, reason: str) -> None:
    """The ledger's stale-step job learned that the gateway declined the refund made under `reference` (called
    inside the transaction that records it and reverses the refund's posting, `ledger_owners`): the same as when
    this module learns it, so the clawback is never left standing, nor undone, apart from the posting."""
    _record_decline(reference, reason)


def _record_decline(reference: str, reason: str) -> None:
    """Inside the transaction that records the gateway's decline (or after it, when a resumed refund finds it): the
    refund's attempt failed, its clawback goes back to the makers."""
    refund = Refund.objects.select_for_update().filter(reference=reference).first()
    if refund is None or refund.status != RefundStatus.PENDING:
        return
    _clawback_reverse(refund)
    refund.status = RefundStatus.FAILED
    refund.failure = f"The payment gateway declined the refund ({reason})."[:200]
    refund.updated_at = timezone.now()
    refund.save(update_fields=["status", "failure", "updated_at"])


def _record_success(refund: Refund) -> Refund:
    """The gateway refunded it: the refund succeeded, the pledge is refunded once its payment is wholly, and the
    backer is e-mailed (after commit). Done once: a rerun finds it succeeded."""
    from crowdmaker.funding import tasks

    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.status != RefundStatus.PENDING:
            return refund
        now = timezone.now()
        refund.status, refund.succeeded_at, refund.updated_at = RefundStatus.SUCCEEDED, now, now
        refund.save(update_fields=["status", "succeeded_at", "updated_at"])
        pledge = Pledge.objects.select_for_update().get(pk=refund.pledge_id)
        # A captured reward's place in a limited tier stays taken: it may have been made and sent already, and
        # freeing it would let a late pledge take a reward that does not exist.
        if Payment.objects.filter(pledge=pledge, status=PaymentStatus.REFUNDED).exists():
            pledge.status, pledge.updated_at = PledgeStatus.REFUNDED, now
            pledge.save(update_fields=["status", "updated_at"])
        transaction.on_commit(partial(tasks.refund_email_send.enqueue, refund_id=refund.pk))
    return refund


def refund_resume(*, refund: Refund, gateway: PaymentGateway | None = None) -> Refund:
    """A refund as it stands, finished first if it is pending (the same request sent again, the periodic job)."""
    return _run(refund, gateway) if refund.status == RefundStatus.PENDING else refund


def _run(refund: Refund, gateway: PaymentGateway | None) -> Refund:
    """Finish a pending refund under its reference: the gateway sees the same request again and does it once."""
    payment = Payment.objects.get(pledge__pk=refund.pledge_id)
    try:
        payments.payment_refund(payment=payment, amount=Money(refund.amount, payment.currency),
                                reference=refund.reference, gateway=gateway,
                                on_decline=partial(_record_decline, refund.reference))  # fmt: skip
    except payments.PaymentDeclined:
        # Declined now or before (the ledger's own job may have learned it): record it if not yet.
        operation = PaymentOperation.objects.filter(reference=refund.reference).first()
        with transaction.atomic():
            _record_decline(refund.reference, operation.failure_code if operation else "declined")
        return Refund.objects.get(pk=refund.pk)
    return _record_success(refund)


def refunds_resume_stale(*, now: datetime | None = None, gateway: PaymentGateway | None = None) -> dict[str, int]:
    """Finish every refund left pending for longer than REFUND_STALE_AFTER, oldest first: each through its payment's
    refund under its own reference, so a refund the gateway made before a crash is recorded, not made again.
    Returns how many succeeded, failed, and are still pending (gateway down, refused: logged)."""
    cutoff = (now or timezone.now()) - REFUND_STALE_AFTER
    outcomes = {"succeeded": 0, "failed": 0, "pending": 0}
    for refund in Refund.objects.filter(status=RefundStatus.PENDING, updated_at__lt=cutoff).order_by(
        "updated_at", "pk"
    ):
        try:
            refund = _run(refund, gateway)
        except payments.GatewayDown:
            logger.warning("refund %s: the gateway is still not answering; the next run tries again", refund.pk)
        except DomainError:
            logger.exception("refund %s could not be finished; it stays pending for an operator", refund.pk)
        outcomes[refund.status if refund.status != RefundStatus.PENDING else "pending"] += 1
    return outcomes
