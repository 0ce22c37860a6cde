"""Teams and persons as owners of ledger accounts: their public labels and who may see their full ledger.

A team's ledger is public under its name. A person's ledger is never public, and on other owners' public
ledgers a person appears under a stable pseudonym unless they chose to be shown (Profile.show_on_public_ledgers);
the pseudonym is an HMAC of their id with the secret key, so it reveals nothing about who they are.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.urls import reverse

from crowdmaker.ledger.owners import OwnerInfo, register_owner_kind
from crowdmaker.people.models import Membership, Profile, Role, Team

# Hex digits of the pseudonym: 12 (48 bits) make a collision anywhere among a million people about a 0.2 %
# chance (birthday bound n^2 / 2^49); 8 digits would already give about 1 % among ten thousand.
PSEUDONYM_DIGITS = 12


def _pk(owner_id: str) -> int | None:
    return int(owner_id) if owner_id.isascii() and owner_id.isdigit() and len(owner_id) < 19 else None


def _pks(owner_ids: Sequence[str]) -> list[int]:
    return [pk for owner_id in owner_ids if (pk := _pk(owner_id)) is not None]


# --- teams ---------------------------------------------------------------------------------------------------


def _team_info(pk: int, name: str, slug: str) -> OwnerInfo:
    return OwnerInfo(kind="team", id=str(pk), label=name, public=True, url=reverse("people:team_detail", args=[slug]))


def team_describe_many(owner_ids: Sequence[str]) -> dict[str, OwnerInfo]:
    rows = Team.objects.filter(pk__in=_pks(owner_ids)).values_list("pk", "name", "slug")
    return {str(pk): _team_info(pk, name, slug) for pk, name, slug in rows}


def team_describe(owner_id: str) -> OwnerInfo | None:
    return team_describe_many([owner_id]).get(owner_id)


def team_can_see_detail(owner_id: str, user: Any) -> bool:
    """A team's owners and maintainers see its full ledger (memos, subjects, account purposes)."""
    pk = _pk(owner_id)
    if pk is None or not getattr(user, "is_authenticated", False):
        return False
    return Membership.objects.filter(team_id=pk, user_id=user.pk, role__in=[Role.OWNER, Role.MAINTAINER]).exists()


# --- persons -------------------------------------------------------------------------------------------------


def person_pseudonym(user_id: int | str) -> str:
    """A stable label for someone who did not choose to be shown: the same person, the same pseudonym."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"crowdmaker.ledger.person:{user_id}".encode(), hashlib.sha256
    ).hexdigest()
    return f"Person {digest[:PSEUDONYM_DIGITS]}"


def person_describe_many(owner_ids: Sequence[str]) -> dict[str, OwnerInfo]:
    rows = Profile.objects.filter(user_id__in=_pks(owner_ids)).values_list(
        "user_id", "display_name", "show_on_public_ledgers", "user__handle"
    )
    found = {}
    for user_id, display_name, shown, handle in rows:
        label = display_name if shown else person_pseudonym(user_id)
        url = reverse("people:profile", args=[handle]) if shown else ""
        found[str(user_id)] = OwnerInfo(kind="person", id=str(user_id), label=label, public=False, url=url)
    return found


def person_describe(owner_id: str) -> OwnerInfo | None:
    return person_describe_many([owner_id]).get(owner_id)


def person_can_see_detail(owner_id: str, user: Any) -> bool:
    """Only the person themself (and operators, whom the ledger lets through before asking) see their ledger."""
    return bool(getattr(user, "is_authenticated", False) and str(user.pk) == owner_id)


def register() -> None:
    register_owner_kind(
        kind="team", describe=team_describe, describe_many=team_describe_many, can_see_detail=team_can_see_detail
    )
    register_owner_kind(
        kind="person",
        describe=person_describe,
        describe_many=person_describe_many,
        can_see_detail=person_can_see_detail,
    )
