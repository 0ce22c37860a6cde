"""Who owns ledger accounts, as far as the ledger needs to know: a registry filled by the apps above it.

The ledger depends on no other domain, so it names owners by (kind, id). Apps that own accounts (people for
persons and teams; later funding, valuenet) register a resolver for their kinds in `AppConfig.ready()`, telling
the ledger an owner's public label, whether its ledger is public, and who may see full detail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OwnerInfo:
    kind: str
    id: str
    label: str  # what the public sees: a team's name, or a person's pseudonym unless they chose to be shown
    public: bool  # whether anyone may read this owner's ledger
    url: str = ""


@dataclass(frozen=True)
class OwnerKindResolver:
    kind: str
    describe: Callable[[str], OwnerInfo | None]  # None: no such owner
    can_see_detail: Callable[[str, Any], bool]  # (owner id, user) -> may this user see full detail?
    # Optional: describe many owners of this kind in one query (ids missing from the answer do not exist).
    describe_many: Callable[[Sequence[str]], dict[str, OwnerInfo]] | None = None
    # Whether a declined capture of a payment to this kind keeps its authorization for a later attempt (the
    # owner's workflow retries, as campaign settlement does) instead of voiding it; resumed captures follow it.
    retries_declined_captures: bool = False
    # Optional: called with a refund's reference and the decline's reason inside the transaction in which the
    # ledger's stale-step job records that the gateway declined a refund of a payment to this kind, so that what the
    # owner wrote with the refund (a campaign's clawback from its makers) is undone with it, never apart from it.
    refund_declined: Callable[[str, str], None] | None = None


_resolvers: dict[str, OwnerKindResolver] = {}


def register_owner_kind(
    *,
    kind: str,
    describe: Callable[[str], OwnerInfo | None],
    can_see_detail: Callable[[str, Any], bool],
    describe_many: Callable[[Sequence[str]], dict[str, OwnerInfo]] | None = None,
    retries_declined_captures: bool = False,
    refund_declined: Callable[[str, str], None] | None = None,
) -> None:
    _resolvers[kind] = OwnerKindResolver(
        kind=kind, describe=describe, can_see_detail=can_see_detail, describe_many=describe_many,
        retries_declined_captures=retries_declined_captures, refund_declined=refund_declined,
    )  # fmt: skip


def retries_declined_captures(kind: str) -> bool:
    resolver = _resolvers.get(kind)
    return resolver is not None and resolver.retries_declined_captures


def refund_declined_hook(kind: str) -> Callable[[str, str], None] | None:
    resolver = _resolvers.get(kind)
    return resolver.refund_declined if resolver is not None else None


def _platform(owner_id: str) -> OwnerInfo | None:
    return OwnerInfo(kind="platform", id="", label="Crowdmaker platform", public=True) if owner_id == "" else None


def _gateway(owner_id: str) -> OwnerInfo | None:
    return OwnerInfo(kind="gateway", id=owner_id, label=f"Payment gateway ({owner_id})", public=False)


def _operators_only(owner_id: str, user: Any) -> bool:
    return bool(getattr(user, "is_staff", False))


register_owner_kind(kind="platform", describe=_platform, can_see_detail=_operators_only)
register_owner_kind(kind="gateway", describe=_gateway, can_see_detail=_operators_only)


def owner_describe(kind: str, owner_id: str) -> OwnerInfo | None:
    resolver = _resolvers.get(kind)
    return resolver.describe(owner_id) if resolver else None


def owners_describe(owners: Iterable[tuple[str, str]]) -> dict[tuple[str, str], OwnerInfo]:
    """Describe many (kind, id) owners at once: one query per kind whose resolver can batch, so a page of
    ledger entries names its counterparts without a query per row. Unknown owners are left out."""
    by_kind: dict[str, set[str]] = {}
    for kind, owner_id in owners:
        by_kind.setdefault(kind, set()).add(owner_id)
    found: dict[tuple[str, str], OwnerInfo] = {}
    for kind, ids in by_kind.items():
        resolver = _resolvers.get(kind)
        if resolver is None:
            continue
        if resolver.describe_many is not None:
            described = resolver.describe_many(sorted(ids))
        else:
            described = {owner_id: info for owner_id in ids if (info := resolver.describe(owner_id)) is not None}
        found.update({(kind, owner_id): info for owner_id, info in described.items()})
    return found


def owner_can_see_detail(kind: str, owner_id: str, user: Any) -> bool:
    """Operators see everything; otherwise the owner kind decides (a team's members, the person themself)."""
    if getattr(user, "is_staff", False):
        return True
    resolver = _resolvers.get(kind)
    return bool(resolver and resolver.can_see_detail(owner_id, user))
