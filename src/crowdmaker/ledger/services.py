"""Every write of the ledger. `transaction_post` is the only code that creates transactions and legs.

A posting is validated in Python first (clear errors, nothing written), then written with the database's
invariants checked before the service returns, so a refusal surfaces here and not at some later commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db import IntegrityError, connection, transaction

from crowdmaker.core.errors import Conflict, Invalid
from crowdmaker.ledger.models import Account, Leg, OwnerKind, Transaction
from crowdmaker.ledger.money import Money, MoneyError, check_currency

MAX_LEGS = 1000
# The deferred constraint trigger (sql/0006: balanced, two legs or more, no overdraft) that the services run before
# they return.
DEFERRED_CHECKS = "ledger_postings_checked"


class InsufficientFunds(Conflict):
    code = "insufficient_funds"


@transaction.atomic
def account_open(
    *, owner_kind: str, owner_id: str = "", purpose: str, currency: str, allow_negative: bool = False
) -> Account:
    """The account for this owner, purpose and currency, created on first use."""
    if owner_kind not in OwnerKind.values:
        raise Invalid(f"Unknown owner kind {owner_kind!r}.", field="owner_kind")
    try:
        check_currency(currency)
    except MoneyError as exc:
        raise Invalid(str(exc), field="currency") from exc
    account, _ = Account.objects.get_or_create(
        owner_kind=owner_kind,
        owner_id=owner_id,
        purpose=purpose,
        currency=currency,
        defaults={"allow_negative": allow_negative},
    )
    if account.allow_negative != allow_negative:
        raise Conflict(
            f"Account {account} exists with allow_negative={account.allow_negative}.", code="account_mismatch"
        )
    return account


def _check_legs(legs: Sequence[tuple[Account, Money]]) -> None:
    if len(legs) < 2:
        raise Invalid("A transaction needs at least two legs.", field="legs")
    if len(legs) > MAX_LEGS:
        raise Invalid(f"A transaction may have at most {MAX_LEGS} legs.", field="legs")
    sums: dict[str, int] = defaultdict(int)
    for position, (account, money) in enumerate(legs):
        if not isinstance(money, Money):
            raise Invalid("Each leg's amount must be Money.", field=f"legs.{position}")
        if money.amount == 0:
            raise Invalid("A leg must move a non-zero amount.", field=f"legs.{position}")
        if account.pk is None:
            raise Invalid("Each leg needs a saved account.", field=f"legs.{position}")
        if money.currency != account.currency:
            raise Invalid(
                f"Leg in {money.currency} posted to an account held in {account.currency}.", field=f"legs.{position}"
            )
        sums[money.currency] += money.amount
    unbalanced = {currency: total for currency, total in sums.items() if total != 0}
    if unbalanced:
        detail = ", ".join(f"{currency} {total:+d}" for currency, total in sorted(unbalanced.items()))
        raise Invalid(f"The legs must sum to zero per currency; they sum to {detail}.", code="unbalanced", field="legs")


def _same_posting(
    existing: Transaction,
    kind: str,
    legs: Sequence[tuple[Account, Money]],
    subject: tuple[str, str] | None,
    reverses: Transaction | None,
) -> bool:
    stored = sorted(existing.legs.values_list("account_id", "amount", "currency"))
    wanted = sorted((account.pk, money.amount, money.currency) for account, money in legs)
    return (
        existing.kind == kind
        and stored == wanted
        and (existing.subject_kind, existing.subject_id) == (subject or ("", ""))
        and existing.reverses_id == (reverses.pk if reverses else None)
    )


def _replay(
    idempotency_key: str,
    kind: str,
    legs: Sequence[tuple[Account, Money]],
    subject: tuple[str, str] | None,
    reverses: Transaction | None,
) -> Transaction | None:
    """The posting made earlier under this key, if any; a different posting under it is a conflict."""
    existing = Transaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None and not _same_posting(existing, kind, legs, subject, reverses):
        raise Conflict("This idempotency key was used for a different posting.", code="idempotency_key_reused")
    return existing


@transaction.atomic
def transaction_post(
    *,
    kind: str,
    legs: Sequence[tuple[Account, Money]],
    memo: str = "",
    subject: tuple[str, str] | None = None,
    idempotency_key: str | None = None,
    reverses: Transaction | None = None,
) -> Transaction:
    """Post one balanced transaction. With an idempotency key, posting it again returns the first posting.

    Refusals (Invalid, InsufficientFunds, Conflict) leave the ledger unchanged.
    """
    _check_legs(legs)
    if idempotency_key is not None:
        if not 0 < len(idempotency_key) <= 255:
            raise Invalid("An idempotency key has 1 to 255 characters.", field="idempotency_key")
        existing = _replay(idempotency_key, kind, legs, subject, reverses)
        if existing is not None:
            return existing
    subject_kind, subject_id = subject or ("", "")
    try:
        with transaction.atomic():
            posted = Transaction.objects.create(
                kind=kind,
                memo=memo,
                subject_kind=subject_kind,
                subject_id=subject_id,
                idempotency_key=idempotency_key or "",
                reverses=reverses,
            )
            # Lock the accounts in id order before their balances move, so concurrent postings that touch
            # the same accounts queue up instead of deadlocking.
            account_ids = sorted({account.pk for account, _ in legs})
            list(Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk").values_list("pk"))
            Leg.objects.bulk_create(
                [
                    Leg(transaction=posted, account=account, amount=money.amount, currency=money.currency)
                    for account, money in legs
                ]
            )
            # Run the deferred checks now: a refusal belongs to this call, not to a later commit.
            with connection.cursor() as cursor:
                cursor.execute(f"SET CONSTRAINTS {DEFERRED_CHECKS} IMMEDIATE")
                cursor.execute(f"SET CONSTRAINTS {DEFERRED_CHECKS} DEFERRED")
    except IntegrityError as exc:  # the SQL triggers raise integrity errors too
        message = str(exc)
        if "would be overdrawn" in message:
            raise InsufficientFunds("An account would go below zero.", field="legs") from exc
        if "ledger_transaction_idempotency_key_unique" in message and idempotency_key:
            # A concurrent call with the same key committed first (the unique index waited for it): its
            # posting is the answer, as if this call had come second.
            existing = _replay(idempotency_key, kind, legs, subject, reverses)
            if existing is not None:
                return existing
            raise Conflict("This idempotency key is being posted right now.", code="idempotency_key_in_use") from exc
        if "reverses_id" in message:
            raise Conflict("This transaction has been reversed already.", code="already_reversed") from exc
        # Python's checks above refuse what the triggers would; reaching here means the database saw more.
        raise Invalid(f"The ledger refused the posting: {message.splitlines()[0]}", code="ledger_refused") from exc
    # Deadlocks and serialisation failures are not the caller's fault: they propagate as errors to retry.
    balances = dict(Account.objects.filter(pk__in=account_ids).values_list("pk", "balance"))
    for account, _ in legs:
        account.balance = balances[account.pk]
    return posted


@transaction.atomic
def transaction_reverse(*, original: Transaction, memo: str = "", idempotency_key: str | None = None) -> Transaction:
    """Post the exact opposite of `original`, pointing back to it. A transaction is reversed at most once."""
    if original.reverses_id is not None:
        raise Invalid(
            "A reversal cannot itself be reversed; post a new transaction instead.", code="reversal_of_reversal"
        )
    if Transaction.objects.filter(reverses=original).exists():
        raise Conflict("This transaction has been reversed already.", code="already_reversed")
    legs = [
        (leg.account, Money(-leg.amount, leg.currency))
        for leg in original.legs.select_related("account").order_by("pk")
    ]
    return transaction_post(
        kind="reversal",
        legs=legs,
        memo=memo or f"Reverses #{original.pk}",
        subject=(original.subject_kind, original.subject_id) if original.subject_kind else None,
        idempotency_key=idempotency_key,
        reverses=original,
    )
