"""Systems: a user's saved multisets of design versions, and the compatibility engine run over them.

Writes (`system_*` services) change only System and SystemMember rows, owner only; anyone else gets the
same 404 as for a system that does not exist. The engine (`protocol.engine`) stays pure: this module turns
manifests into engine members and never lets the engine touch the database.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, QuerySet
from django.db.models.fields.json import KeyTransform

from crowdmaker.commons.models import SYSTEM_NAME_MAX_LENGTH, Design, DesignVersion, System, SystemMember
from crowdmaker.core.errors import Conflict, Invalid, NotFound
from crowdmaker.core.text import clean_text
from crowdmaker.people.models import User
from crowdmaker.protocol import engine
from crowdmaker.protocol.manifest import PROVIDES, REQUIRES

# A system is checked on every request; these bound its size so one check stays well under a second.
MAX_QUANTITY = 50  # copies of one design version in a system
MAX_SYSTEM_UNITS = 200  # products in a system, counting quantities (the engine benchmark's size)
COMPLETE_MAX_ADDITIONS = 2  # "complete my system" suggests at most this many products
COMPLETE_TIME_BUDGET_S = 0.5  # ... and gives up after this long (the answer then says budget_exhausted)
COMPATIBLE_LIMIT = 20
COMPATIBLE_TIME_BUDGET_S = 0.5


# --- services -----------------------------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = clean_text(" ".join(name.split()), field="name", max_length=SYSTEM_NAME_MAX_LENGTH)
    if not name:
        raise Invalid("Give the system a name.", field="name")
    return name


def system_create(*, actor: User, name: str) -> System:
    return System.objects.create(owner=actor, name=_clean_name(name), share_token=secrets.token_urlsafe(32))


def _own_locked(*, actor: User, system_id: int) -> System:
    system = System.objects.select_for_update().filter(id=system_id, owner=actor).first()
    if system is None:
        raise NotFound("No such system.")
    return system


@transaction.atomic
def system_member_add(*, actor: User, system_id: int, design_version: DesignVersion, quantity: int = 1) -> SystemMember:
    """Add `quantity` copies of a design version; adding one already there raises its quantity."""
    system = _own_locked(actor=actor, system_id=system_id)  # the lock serialises additions to one system
    if not 1 <= quantity <= MAX_QUANTITY:
        raise Invalid(f"The quantity must be between 1 and {MAX_QUANTITY}.", field="quantity")
    units = sum(SystemMember.objects.filter(system=system).values_list("quantity", flat=True))
    if units + quantity > MAX_SYSTEM_UNITS:
        raise Invalid(f"A system holds at most {MAX_SYSTEM_UNITS} products.", field="quantity")
    existing = SystemMember.objects.filter(system=system, design_version=design_version).first()
    if existing is not None:
        if existing.quantity + quantity > MAX_QUANTITY:
            raise Invalid(f"The quantity must be between 1 and {MAX_QUANTITY}.", field="quantity")
        SystemMember.objects.filter(id=existing.id).update(quantity=F("quantity") + quantity)
        existing.refresh_from_db()
        return existing
    try:
        with transaction.atomic():
            return SystemMember.objects.create(system=system, design_version=design_version, quantity=quantity)
    except IntegrityError as exc:  # pragma: no cover - the row lock above makes this unreachable
        raise Conflict("This design version was just added to the system.") from exc


@transaction.atomic
def system_member_remove(*, actor: User, system_id: int, member_id: int) -> None:
    system = _own_locked(actor=actor, system_id=system_id)
    deleted, _ = SystemMember.objects.filter(id=member_id, system=system).delete()
    if not deleted:
        raise NotFound("This system has no such member.")


@transaction.atomic
def system_delete(*, actor: User, system_id: int) -> None:
    system = _own_locked(actor=actor, system_id=system_id)
    system.delete()


# --- selectors ----------------------------------------------------------------------------------------------------


def systems_of(*, owner: User) -> QuerySet[System]:
    return System.objects.filter(owner=owner).annotate(member_count=Count("members"))


def system_owned(*, actor: User, system_id: int) -> System:
    system = System.objects.filter(id=system_id, owner=actor).first()
    if system is None:
        raise NotFound("No such system.")
    return system


def system_shared(*, share_token: str) -> System:
    system = System.objects.filter(share_token=share_token).first() if share_token else None
    if system is None:
        raise NotFound("No system is shared under this link.")
    return system


def system_members(*, system: System) -> list[SystemMember]:
    """The members with their design versions and designs, in one query."""
    return list(SystemMember.objects.filter(system=system).select_related("design_version__design").order_by("id"))


def _provides(manifest: dict[str, Any]) -> list[engine.Provide]:
    entries = manifest.get(PROVIDES) or []
    return [engine.Provide(e["interface"], e["version"], e.get("capacity") or {}) for e in entries]


def _requires(manifest: dict[str, Any]) -> list[engine.Require]:
    entries = manifest.get(REQUIRES) or []
    return [engine.Require(e["interface"], e["version"], e.get("load") or {}) for e in entries]


def version_member(version: DesignVersion, *, copy: int | None = None, score: float = 0.0) -> engine.Member:
    """The engine's view of a design version: `<slug>@v<number>`, with `#<copy>` for the copies in a system."""
    design = version.design
    member_id = f"{design.slug}@v{version.number}"
    label = design.title
    if copy is not None:
        member_id, label = f"{member_id}#{copy}", f"{label} #{copy}"
    return engine.Member(
        member_id, label, _provides(version.manifest), _requires(version.manifest), score=score
    )  # the manifest was validated on publication, so the engine accepts its entries


def engine_members(members: list[SystemMember]) -> list[engine.Member]:
    """Quantity n becomes n engine members; a lone copy keeps its plain label (the design's title)."""
    result = []
    for member in members:
        for k in range(1, member.quantity + 1):
            one = version_member(member.design_version, copy=k)
            if member.quantity == 1:
                one = engine.Member(one.id, member.design_version.design.title, one.provides, one.requires)
            result.append(one)
    return result


@dataclass(frozen=True)
class _Catalog:
    """A built index with what an incremental refresh needs: where each design sits and its fork count."""

    key: tuple[object, ...]
    index: engine.CatalogIndex
    design_ids: list[int]  # the design of each member, by position
    positions: dict[int, int]  # design id -> position
    forks: dict[int, int]  # design id -> how often it was forked


def _catalog_rows(versions: QuerySet[DesignVersion]) -> Iterator[tuple[Any, ...]]:
    """(design id, number, slug, title, cm:provides, cm:requires) of the latest of `versions` per design: only
    what the engine needs, not whole Thing Descriptions, as plain rows in chunks."""
    latest = (
        versions.order_by("design_id", "-number")
        .distinct("design_id")
        .annotate(provides=KeyTransform(PROVIDES, "manifest"), requires=KeyTransform(REQUIRES, "manifest"))
        .values_list("design_id", "number", "design__slug", "design__title", "provides", "requires")
    )
    return latest.iterator(chunk_size=5000)


def _member(slug: str, number: int, title: str, provides: Any, requires: Any, score: float) -> engine.Member:
    return engine.Member(
        f"{slug}@v{number}", title, _provides({PROVIDES: provides}), _requires({REQUIRES: requires}), score=score
    )


def _build_catalog(key: tuple[object, ...]) -> _Catalog:
    """The latest version of every design, scored by how often the design was forked."""
    forks = dict(
        Design.objects.filter(forked_from__isnull=False)
        .values_list("forked_from__design_id")
        .annotate(n=Count("id"))
        .values_list("forked_from__design_id", "n")
    )
    members, design_ids = [], []
    for design_id, number, slug, title, provides, requires in _catalog_rows(DesignVersion.objects.all()):
        members.append(_member(slug, number, title, provides, requires, float(forks.get(design_id, 0))))
        design_ids.append(design_id)
    positions = {design_id: position for position, design_id in enumerate(design_ids)}
    return _Catalog(key, engine.CatalogIndex(members), design_ids, positions, forks)


def _refresh_catalog(old: _Catalog, key: tuple[object, ...]) -> _Catalog | None:
    """`old` brought up to `key` by reading only what changed since, or None when only a full build is safe.

    Versions are only ever added, each with a higher id than the versions of its design before it, so the new
    rows (id above the old highest) are the new latest versions; a design's first version that is a fork
    raises its upstream's score. If fewer rows are new than the count grew by, a version with a lower id
    committed late, and the whole catalog is read again. Designs whose title changed get their new label.
    """
    old_last, old_count, old_edited = old.key
    last, count, edited = key
    if old_last is None or last is None or not isinstance(count, int) or not isinstance(old_count, int):
        return None
    new_versions = DesignVersion.objects.filter(id__gt=old_last)
    if new_versions.count() != count - old_count:
        return None
    members = list(old.index.members)
    design_ids, positions, forks = list(old.design_ids), dict(old.positions), dict(old.forks)
    for upstream in new_versions.filter(number=1, design__forked_from__isnull=False).values_list(
        "design__forked_from__design_id", flat=True
    ):
        forks[upstream] = forks.get(upstream, 0) + 1
    for design_id, number, slug, title, provides, requires in _catalog_rows(new_versions):
        member = _member(slug, number, title, provides, requires, float(forks.get(design_id, 0)))
        if design_id in positions:
            members[positions[design_id]] = member
        else:
            positions[design_id] = len(members)
            members.append(member)
            design_ids.append(design_id)
    renamed = Design.objects.none()
    if edited != old_edited:
        renamed = Design.objects.filter(edited_at__isnull=False)
        renamed = renamed if old_edited is None else renamed.filter(edited_at__gt=old_edited)
    changed_titles = dict(renamed.values_list("id", "title"))
    for design_id in set(changed_titles) | {d for d in forks if forks[d] != old.forks.get(d, 0)}:
        position = positions.get(design_id)
        if position is None:
            continue
        was = members[position]
        members[position] = engine.Member(was.id, changed_titles.get(design_id, was.label), was.provides,
                                          was.requires, score=float(forks.get(design_id, 0)))  # fmt: skip
    return _Catalog(key, engine.CatalogIndex(members), design_ids, positions, forks)


def catalog_key() -> tuple[object, ...]:
    """What the index depends on. Versions are never changed or deleted, so their count and highest id grow with
    every publication and fork (the count catches a version with a lower id committing after a higher one);
    design_update stamps `edited_at`, which renames a product in the index. (Two edits committing in the reverse
    order of their stamps can leave the earlier title in the index until the next change: a label, not a
    compatibility answer.)"""
    versions = DesignVersion.objects.aggregate(last=Max("id"), count=Count("id"))
    return versions["last"], versions["count"], Design.objects.aggregate(m=Max("edited_at"))["m"]


_catalog_lock = threading.Lock()
_catalog_cache: dict[str, _Catalog] = {}


def catalog_index() -> engine.CatalogIndex:
    """The engine's index of the catalog, kept in this process (one per database) and brought up to date when a
    version is published, a design forked or renamed, by reading only what changed (`_refresh_catalog`); the
    first request of a process builds it whole (benchmarks/catalog.py measures both on 100,000 designs)."""
    key = catalog_key()
    alias = str(connection.settings_dict["NAME"])
    with _catalog_lock:
        cached = _catalog_cache.get(alias)
        if cached is not None and cached.key == key:
            return cached.index
        fresh = (_refresh_catalog(cached, key) if cached is not None else None) or _build_catalog(key)
        _catalog_cache[alias] = fresh
        return fresh.index


@dataclass(frozen=True)
class SystemCheck:
    members: list[SystemMember]
    engine_members: list[engine.Member]
    result: engine.CheckResult


def system_check_result(*, system: System) -> SystemCheck:
    members = system_members(system=system)
    products = engine_members(members)
    return SystemCheck(members, products, engine.system_check(products))


def system_complete_suggestions(
    *, system: System, max_additions: int = COMPLETE_MAX_ADDITIONS, time_budget_s: float = COMPLETE_TIME_BUDGET_S
) -> engine.CompletionResult:
    products = engine_members(system_members(system=system))
    return engine.system_complete(products, catalog_index(), max_additions=max_additions, time_budget_s=time_budget_s)


def system_compatible(*, system: System) -> engine.CompatibleResult:
    products = engine_members(system_members(system=system))
    return engine.compatible_with(
        products, catalog_index(), limit=COMPATIBLE_LIMIT, time_budget_s=COMPATIBLE_TIME_BUDGET_S
    )


def version_compatible(*, version: DesignVersion) -> engine.CompatibleResult:
    return engine.compatible_with(
        version_member(version), catalog_index(), limit=COMPATIBLE_LIMIT, time_budget_s=COMPATIBLE_TIME_BUDGET_S
    )
