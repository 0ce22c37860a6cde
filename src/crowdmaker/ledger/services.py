"""Every write of the ledger. `transaction_post` (and `transactions_post_many`, the same for a batch) is the only
code that creates transactions and legs.

A posting is validated in Python first (clear errors, nothing written), then written with the database's
invariants checked before the service returns, so a refusal surfaces here and not at some later commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from crowdmaker.core.errors import Conflict, Invalid
from crowdmaker.ledger.columns import columns_execute
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
        if account.id is None:
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


# --- many at once ---------------------------------------------------------------------------------------------
#
# The batch forms of account_open and transaction_post, for jobs that post thousands of payments at a time
# (settlement): the same rules and the same rows, in a few statements whatever the number. The database's checks
# are the same ones (sql/0006 checks per statement and per database transaction, not per leg).


@dataclass(frozen=True, slots=True, order=True)
class AccountKey:
    """What names an account (account_open's arguments)."""

    owner_kind: str
    owner_id: str
    purpose: str
    currency: str
    allow_negative: bool = False


# What a posting needs of an account (the cached balance and the creation time are loaded if asked for).
_ACCOUNT_FIELDS = ("id", "owner_kind", "owner_id", "purpose", "currency", "allow_negative")


def _accounts_found(keys: Sequence[AccountKey]) -> dict[tuple[str, str, str, str], Account]:
    # One index look-up per key (LATERAL ... LIMIT 1), never a scan of all accounts, whatever the statistics say.
    rows = columns_execute(
        f"""
        SELECT {", ".join(f"a.{name}" for name in _ACCOUNT_FIELDS)}
        FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS k(owner_kind, owner_id, purpose, currency)
        CROSS JOIN LATERAL (
            SELECT * FROM ledger_account a
            WHERE a.owner_kind = k.owner_kind AND a.owner_id = k.owner_id AND a.purpose = k.purpose
                AND a.currency = k.currency
            LIMIT 1
        ) a
        """,  # noqa: S608 - constant SQL
        [[k.owner_kind for k in keys], [k.owner_id for k in keys], [k.purpose for k in keys],
         [k.currency for k in keys]],
    )  # fmt: skip
    return _accounts_by_key(rows)


def _accounts_by_key(rows: list[tuple[Any, ...]]) -> dict[tuple[str, str, str, str], Account]:
    accounts = (Account.from_db(connection.alias, _ACCOUNT_FIELDS, row) for row in rows)
    return {(a.owner_kind, a.owner_id, a.purpose, a.currency): a for a in accounts}


@transaction.atomic
def accounts_open_many(*, keys: Iterable[AccountKey]) -> dict[AccountKey, Account]:
    """The account for each key, created on first use: account_open for many accounts in three queries at most.

    Refused as account_open refuses: an unknown owner kind or currency (Invalid), an account that exists with
    another overdraft permission (Conflict); nothing is created then.
    """
    wanted = list(dict.fromkeys(keys))
    owner_kinds = set(OwnerKind.values)
    for kind in {key.owner_kind for key in wanted}:
        if kind not in owner_kinds:
            raise Invalid(f"Unknown owner kind {kind!r}.", field="owner_kind")
    for currency in {key.currency for key in wanted}:
        try:
            check_currency(currency)
        except MoneyError as exc:
            raise Invalid(str(exc), field="currency") from exc
    found = _accounts_found(wanted)
    # In one order for every caller, so that concurrent calls opening the same accounts queue up, never deadlock.
    missing = sorted(k for k in wanted if (k.owner_kind, k.owner_id, k.purpose, k.currency) not in found)
    if missing:
        # The new accounts come back from the INSERT; one a concurrent call opened first is looked up after it.
        found.update(_accounts_by_key(columns_execute(
            f"""
            INSERT INTO ledger_account (owner_kind, owner_id, purpose, currency, allow_negative, balance, created_at)
            SELECT owner_kind, owner_id, purpose, currency, allow_negative, 0, %s
            FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::boolean[])
                WITH ORDINALITY AS k(owner_kind, owner_id, purpose, currency, allow_negative, position)
            ORDER BY position
            ON CONFLICT (owner_kind, owner_id, purpose, currency) DO NOTHING
            RETURNING {", ".join(_ACCOUNT_FIELDS)}
            """,  # noqa: S608 - constant SQL
            [timezone.now(), [k.owner_kind for k in missing], [k.owner_id for k in missing],
             [k.purpose for k in missing], [k.currency for k in missing], [k.allow_negative for k in missing]],
        )))  # fmt: skip
        late = [k for k in missing if (k.owner_kind, k.owner_id, k.purpose, k.currency) not in found]
        if late:
            found.update(_accounts_found(late))
    opened = {}
    for key in wanted:
        account = found[(key.owner_kind, key.owner_id, key.purpose, key.currency)]
        if account.allow_negative != key.allow_negative:
            raise Conflict(
                f"Account {account} exists with allow_negative={account.allow_negative}.", code="account_mismatch"
            )
        opened[key] = account
    return opened


@dataclass(frozen=True, slots=True)
class Posting:
    """One transaction to post (transaction_post's arguments); in a batch, each has its own idempotency key."""

    kind: str
    legs: Sequence[tuple[Account, Money]]
    idempotency_key: str
    memo: str = ""
    subject: tuple[str, str] | None = None


def _check_posting(posting: Posting) -> None:
    _check_legs(posting.legs)
    if not 0 < len(posting.idempotency_key) <= 255:
        raise Invalid("An idempotency key has 1 to 255 characters.", field="idempotency_key")


def _replayed(postings: Sequence[Posting]) -> dict[str, int]:
    """The postings made earlier under these keys (a different posting under one of them is a conflict)."""
    by_key = {p.idempotency_key: p for p in postings}
    earlier: dict[str, int] = dict(
        columns_execute(
            "SELECT k.key, t.id FROM unnest(%s::text[]) AS k(key) CROSS JOIN LATERAL ("
            "    SELECT id FROM ledger_transaction WHERE idempotency_key = k.key AND NOT idempotency_key = '' LIMIT 1"
            ") t",
            [list(by_key)],
        )
    )
    for key in earlier:
        posting = by_key[key]
        _replay(key, posting.kind, posting.legs, posting.subject, None)
    return earlier


@transaction.atomic
def transactions_post_many(*, postings: Sequence[Posting]) -> dict[str, int]:
    """Post many balanced transactions, each under its own idempotency key, in a few statements whatever their
    number: transaction_post for a batch. Returns the id of each key's transaction; a key posted before returns
    its first posting (Conflict, idempotency_key_reused, if that was a different posting).

    All or nothing: a refusal (Invalid, InsufficientFunds, Conflict) posts none of them. The accounts whose balances
    move are locked in id order first, as transaction_post locks its accounts (one whose legs net to zero in the
    batch is not: its balance does not change). The Account objects' cached balances are not refreshed.
    """
    keys = [posting.idempotency_key for posting in postings]
    if len(set(keys)) != len(keys):
        raise Invalid("Each posting of a batch has an idempotency key of its own.", field="idempotency_key")
    for posting in postings:
        _check_posting(posting)
    posted = _replayed(postings)
    new = [posting for posting in postings if posting.idempotency_key not in posted]
    if not new:
        return posted
    # The accounts whose balances move, locked in id order as the legs' trigger then updates them; an account whose
    # legs net to zero in the batch (a payer's pass-through account) keeps its balance and is not locked (sql/0009).
    moves: dict[int, int] = defaultdict(int)
    for posting in new:
        for account, money in posting.legs:
            moves[account.id] += money.amount
    account_ids = sorted(pk for pk, total in moves.items() if total)
    now = timezone.now()
    try:
        # The transactions and their legs in one savepoint: the database seals legs to the (sub)transaction that
        # created their ledger transaction.
        with transaction.atomic():
            if account_ids:
                columns_execute(
                    "SELECT a.id FROM unnest(%s::bigint[]) AS x(id) CROSS JOIN LATERAL ("
                    "    SELECT id FROM ledger_account WHERE id = x.id LIMIT 1 FOR NO KEY UPDATE"
                    ") a",
                    [account_ids],
                )
            created: dict[str, int] = dict(
                columns_execute(
                    """
                    INSERT INTO ledger_transaction (kind, memo, subject_kind, subject_id, idempotency_key, posted_at)
                    SELECT kind, memo, subject_kind, subject_id, idempotency_key, %s
                    FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
                        WITH ORDINALITY AS p(kind, memo, subject_kind, subject_id, idempotency_key, position)
                    ORDER BY position
                    ON CONFLICT (idempotency_key) WHERE NOT idempotency_key = '' DO NOTHING
                    RETURNING idempotency_key, id
                    """,
                    [now, [p.kind for p in new], [p.memo for p in new], [(p.subject or ("", ""))[0] for p in new],
                     [(p.subject or ("", ""))[1] for p in new], [p.idempotency_key for p in new]],
                )
            )  # fmt: skip
            legs = [
                (created[p.idempotency_key], account.id, money.amount, money.currency)
                for p in new
                if p.idempotency_key in created
                for account, money in p.legs
            ]
            columns_execute(
                """
                INSERT INTO ledger_leg (transaction_id, account_id, amount, currency)
                SELECT transaction_id, account_id, amount, currency
                FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[])
                    WITH ORDINALITY AS l(transaction_id, account_id, amount, currency, position)
                ORDER BY position
                """,
                [[leg[0] for leg in legs], [leg[1] for leg in legs], [leg[2] for leg in legs],
                 [leg[3] for leg in legs]],
            )  # fmt: skip
            # Run the deferred checks now: a refusal belongs to this call, not to a later commit.
            columns_execute(f"SET CONSTRAINTS {DEFERRED_CHECKS} IMMEDIATE", [])
            columns_execute(f"SET CONSTRAINTS {DEFERRED_CHECKS} DEFERRED", [])
    except IntegrityError as exc:  # the SQL triggers raise integrity errors too
        message = str(exc)
        if "would be overdrawn" in message:
            raise InsufficientFunds("An account would go below zero.", field="legs") from exc
        raise Invalid(f"The ledger refused the postings: {message.splitlines()[0]}", code="ledger_refused") from exc
    # Keys a concurrent call posted between the look-up and the insert: their postings are the answer.
    late = [p for p in new if p.idempotency_key not in created]
    return {**posted, **created, **(_replayed(late) if late else {})}
