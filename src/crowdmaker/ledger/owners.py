"""Who owns ledger accounts, as far as the ledger needs to know: a registry filled by the apps above it.

The ledger depends on no other domain, so it names owners by (kind, id). Apps that own accounts (people for
persons and teams; later funding, valuenet) register a resolver for their kinds in `AppConfig.ready()`, telling
the ledger an owner's public label, whether its ledger is public, and who may see full detail.
"""

from __future__ import annotations

from collections.abc import Callable
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


_resolvers: dict[str, OwnerKindResolver] = {}


def register_owner_kind(
    *, kind: str, describe: Callable[[str], OwnerInfo | None], can_see_detail: Callable[[str, Any], bool]
) -> None:
    _resolvers[kind] = OwnerKindResolver(kind=kind, describe=describe, can_see_detail=can_see_detail)


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


def owner_can_see_detail(kind: str, owner_id: str, user: Any) -> bool:
    """Operators see everything; otherwise the owner kind decides (a team's members, the person themself)."""
    if getattr(user, "is_staff", False):
        return True
    resolver = _resolvers.get(kind)
    return bool(resolver and resolver.can_see_detail(owner_id, user))
