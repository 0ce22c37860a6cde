"""Refunds by a campaign's editors: all of a captured pledge, or some of its items (the reward, add-ons or some of
their quantity, the shipping, the extra), with a reason and a message the backer is e-mailed, through the gateway
and the ledger (`ledger.payments.payment_refund`); a refund the gateway declines stays visible, and is retried.

Never calls the gateway inside a database transaction and never writes the ledger except through `ledger.payments`
and one keyed clawback posting per attempt. A refund's row, its payment's operation, the clawback (what the refund
takes from the campaign's received account that the account no longer holds, taken back from the makers it was
distributed to, by the campaign's shares) and the refund's posting are one transaction, inside payment_refund's
lock on the payment: all stand or none do. A decline reverses the posting and the clawback in one transaction. A
refund left pending (a crash, a gateway down) is finished by `refunds_resume_stale` under its reference: nobody is
refunded twice.
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

from django.db import transaction
from django.db.models import Q, QuerySet
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
from crowdmaker.funding.settlement import CLAWBACK, PROCEEDS
from crowdmaker.ledger import owners, payments
from crowdmaker.ledger.gateways import PaymentGateway
from crowdmaker.ledger.models import Account, Payment, PaymentOperation, PaymentStatus, Transaction
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
    cover of `net` (what the refund takes from it), from its shares' beneficiaries by weight (largest remainder).
    A beneficiary who no longer holds their part (paid out) refuses the refund: Conflict, nothing changes."""
    received = account_open(owner_kind="campaign", owner_id=str(campaign.pk), purpose=payments.RECEIVED,
                            currency=campaign.currency)  # fmt: skip
    balance = Account.objects.select_for_update().values_list("balance", flat=True).get(pk=received.pk)
    short = net.amount - balance
    if short <= 0:
        return
    shares = list(campaign.shares.order_by("pk"))
    if not shares:
        raise Conflict("The campaign has no one to take the refund back from.", code="refund_not_covered")
    legs = [(received, Money(short, campaign.currency))]
    for share, part in zip(shares, allocate(Money(short, campaign.currency), [s.weight for s in shares]), strict=True):
        if not part:
            continue
        account = account_open(owner_kind=share.beneficiary_kind, owner_id=share.beneficiary_id, purpose=PROCEEDS,
                               currency=campaign.currency)  # fmt: skip
        if account.balance < part.amount:
            raise _paid_out(share.beneficiary_kind, share.beneficiary_id, part, account.balance)
        legs.append((account, -part))
    try:
        transaction_post(kind=CLAWBACK, legs=legs, subject=("campaign", str(campaign.pk)),
                         memo=f"Refund #{refund.pk} of pledge #{refund.pledge_id}: taken back from the makers",
                         idempotency_key=_clawback_key(refund))  # fmt: skip
    except InsufficientFunds as exc:  # paid out between the look and the posting
        raise Conflict("A maker of this campaign no longer holds their part of the refund (paid out).",
                       code="beneficiary_paid_out") from exc  # fmt: skip


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
    reference = reference or f"refund-{uuid.uuid4().hex}"

    def cover(locked: Payment, net: Money) -> None:
        current = Pledge.objects.select_related("campaign", "tier").get(pk=pledge.pk)
        _refundable_pledge(current)
        if _chosen(current, items, full) != chosen:  # a refund of the same items got there first
            raise Conflict("Part of this has just been refunded; look again.", code="already_refunded")
        refund = Refund.objects.create(
            pledge=current, amount=amount.amount, items=[item.as_json() for item in chosen], reason=reason,
            message=message, reference=reference, created_by=actor,
        )  # fmt: skip
        _clawback(refund, campaign, net)

    try:
        payments.payment_refund(payment=payment, amount=amount, reference=reference, gateway=gateway, cover=cover,
                                on_decline=partial(_record_decline, reference))  # fmt: skip
    except payments.PaymentDeclined:
        return Refund.objects.get(reference=reference)
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

    def cover(locked: Payment, net: Money) -> None:
        current = Refund.objects.select_for_update().get(pk=refund.pk)
        if (current.status, current.attempt) != (RefundStatus.FAILED, attempt - 1):
            raise Conflict(f"Refund #{refund.pk} is being retried already.", code="refund_not_failed")
        _refundable_pledge(Pledge.objects.get(pk=pledge.pk))
        _check_items_free(current)
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
                                gateway=gateway, cover=cover, on_decline=partial(_record_decline, reference))  # fmt: skip
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
