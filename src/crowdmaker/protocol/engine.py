"""The compatibility engine (PROTOCOL.md): is a system complete, why not, what would complete it, what can join.

Pure Python over plain data classes; no Django, no database (callers build `Member`s from design versions).
Assignments are exact: capacities are multi-dimensional and loads unsplittable, so it searches (with pruning
and a node budget) instead of assigning greedily, and when a budget runs out it says "undecided", never a
wrong answer.

Rules, decided here and relied on by the tests:
- A requirement is met by a `Provide` of ANOTHER member (never its own) with the same interface name, a
  version inside the requirement's range (semver.py), and room: for every dimension, the loads assigned to one
  provide sum to at most its capacity (tolerance `CAPACITY_TOLERANCE` for float sums such as 0.1 + 0.2).
- A dimension missing from a capacity is not offered: a positive load in that dimension cannot go there;
  a load of 0 (or a dimension missing from the load) asks nothing. A provide with no capacity at all takes
  any number of requirements that carry no positive load.
- Requirements of different interfaces never compete, so every interface is solved on its own, and inside an
  interface every connected group of requirements and provides on its own.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from crowdmaker.protocol.semver import Version, VersionRange, parse_range, parse_version

# Relative tolerance on capacity sums: loads are decimals written as floats (7.5 W), and 0.1 + 0.2 must fit 0.3.
CAPACITY_TOLERANCE = 1e-9
# Search nodes one check may visit before it answers "undecided" (a node is one tentative placement, with its
# forward check). A node costs from a few microseconds (small groups) to about 100 µs (170 requirements on 24
# providers), so this bounds a check to about a second in the worst case; systems placed by the first greedy
# pass or by matching need no search node at all.
DEFAULT_NODE_BUDGET = 10_000
# Search nodes spent at most on maximising the number of met requirements once a system is proven incomplete
# (the verdict and the reasons are known by then; only "could one more be met?" is left).
MAXIMISE_NODES = 2_000
# Search nodes per interface when "complete my system" checks one candidate set: candidates are many, and one
# left undecided only makes the answer "budget_exhausted", never wrong.
CANDIDATE_NODE_BUDGET = 1_000
# At most this many provider sets are checked with the Hall-type bound at every search node (one per distinct set
# of acceptable providers); beyond it only the bound over all providers is, to keep a node cheap.
HALL_SETS = 64
# Unit symbols used in explanations; other dimensions are written with their own name ("2 ports").
UNIT_SYMBOLS = {"watts": "W", "amps": "A", "volts": "V", "milliamps": "mA", "kilograms": "kg"}

NO_PROVIDER = "no_provider"
OWN_PROVIDER_ONLY = "own_provider_only"
VERSION_MISMATCH = "version_mismatch"
CAPACITY_TOO_SMALL = "capacity_too_small"
CAPACITY_EXHAUSTED = "capacity_exhausted"
UNDECIDED = "undecided"


def _amounts(values: Mapping[str, float], *, what: str) -> dict[str, float]:
    result: dict[str, float] = {}
    for dimension, value in values.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{what} {dimension!r} must be a finite number >= 0, not {value!r}")
        result[str(dimension)] = float(value)
    return result


@dataclass(frozen=True, eq=False)
class Provide:
    interface: str
    version: str
    capacity: Mapping[str, float] = field(default_factory=dict)
    semver: Version = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "semver", parse_version(self.version))
        object.__setattr__(self, "capacity", _amounts(self.capacity, what="capacity"))


@dataclass(frozen=True, eq=False)
class Require:
    interface: str
    version_range: str
    load: Mapping[str, float] = field(default_factory=dict)
    range: VersionRange = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "range", parse_range(self.version_range))
        object.__setattr__(self, "load", _amounts(self.load, what="load"))


@dataclass(frozen=True, eq=False)
class Member:
    """One product in a system (or in the catalog). `score` ranks catalog suggestions: higher is better
    (popularity; pass a negated price to prefer cheap products)."""

    id: str
    label: str
    provides: Sequence[Provide] = ()
    requires: Sequence[Require] = ()
    score: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "provides", tuple(self.provides))
        object.__setattr__(self, "requires", tuple(self.requires))


class RequirementRef(NamedTuple):
    member_id: str
    position: int  # in Member.requires


class ProviderRef(NamedTuple):
    member_id: str
    position: int  # in Member.provides


@dataclass(frozen=True)
class Use:
    """A requirement that takes part of a provide's capacity (named in capacity explanations)."""

    requirement: RequirementRef
    label: str
    load: Mapping[str, float]


@dataclass(frozen=True)
class Unmet:
    requirement: RequirementRef
    label: str
    interface: str
    version_range: str
    reason: str  # one of NO_PROVIDER ... UNDECIDED
    message: str
    versions_seen: tuple[str, ...] = ()
    # CAPACITY_EXHAUSTED: for each provide that could take it were it empty, who uses the lacking dimensions.
    taken_by: Mapping[ProviderRef, tuple[Use, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    status: str  # "complete", "incomplete" or "undecided" (a search budget ran out; nothing below is wrong)
    assignment: Mapping[RequirementRef, ProviderRef]
    unmet: tuple[Unmet, ...]
    nodes: int
    undecided_interfaces: tuple[str, ...] = ()
    # False when, the system being proven incomplete, the budget ran out before the assignment was proven to meet
    # as many requirements as possible (it is valid, and the verdict and reasons stand; a better one may exist).
    maximal: bool = True

    @property
    def complete(self) -> bool:
        return self.status == "complete"


class _Budget(Exception):
    """The node budget ran out."""


# --- one interface ------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Req:
    ref: RequirementRef
    owner: int  # member position
    require: Require


@dataclass(eq=False)
class _Prov:
    ref: ProviderRef
    owner: int
    provide: Provide


def _fits(load: Mapping[str, float], capacity: Mapping[str, float]) -> bool:
    for dimension, amount in load.items():
        if amount > 0:
            offered = capacity.get(dimension)
            if offered is None or amount > offered + CAPACITY_TOLERANCE * max(1.0, offered):
                return False
    return True


def _accepts(req: _Req, prov: _Prov) -> bool:
    return (
        req.owner != prov.owner
        and req.require.range.contains(prov.provide.semver)
        and _fits(req.require.load, prov.provide.capacity)
    )


class _Counter:
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.nodes = 0

    def tick(self) -> None:
        self.nodes += 1
        if self.nodes > self.budget:
            raise _Budget


def _solve_component(
    reqs: list[int], options: dict[int, list[int]], loads: list[tuple[float, ...]], caps: list[tuple[float, ...]],
    counter: _Counter, *, feasibility_only: bool,
) -> tuple[dict[int, int] | None, bool]:  # fmt: skip
    """Place all of `reqs` if possible, else (unless feasibility_only, which answers None) as many as possible:
    (req -> provider, whether that many is proven to be the most).

    Raises _Budget when the counter runs out before all-or-not is decided. Once "not all" is proven, running out
    of budget while maximising returns the best placement found so far, marked as not proven maximal."""
    provs = sorted({p for r in reqs for p in options[r]})
    if len({loads[r] for r in reqs}) == 1:
        return _solve_uniform(reqs, options, loads[reqs[0]], provs, caps, feasibility_only=feasibility_only), True
    greedy = _greedy(reqs, options, loads, caps)
    if len(greedy) == len(reqs):
        return greedy, True
    search = _Search(reqs, options, loads, caps, counter)
    found = search.run(0)
    if found is not None:
        return found, True
    if feasibility_only:
        return None, True
    # At least max(1, bound) must stay unmet; fewer than len(reqs) - len(greedy), or greedy is already the best.
    # Maximising gets at most MAXIMISE_NODES of the budget: the verdict is already known.
    budget = counter.budget
    counter.budget = min(budget, counter.nodes + MAXIMISE_NODES)
    try:
        for skips in range(max(1, search.min_unmet()), len(reqs) - len(greedy)):
            found = search.run(skips)
            if found is not None:
                return found, True
    except _Budget:
        return greedy, False
    finally:
        counter.budget = budget
    return greedy, True


def _greedy(reqs: list[int], options: dict[int, list[int]], loads: list[tuple[float, ...]], caps: list[tuple[float, ...]]) -> dict[int, int]:  # fmt: skip
    """A quick lower bound, and the answer whenever it places everything: first fit decreasing (large loads
    first, best when everything fits) or, if that places fewer, smallest loads first (best for the count)."""
    largest = _first_fit(sorted(reqs, key=lambda r: (-sum(loads[r]), len(options[r]), r)), options, loads, caps)
    if len(largest) == len(reqs):
        return largest
    smallest = _first_fit(sorted(reqs, key=lambda r: (sum(loads[r]), len(options[r]), r)), options, loads, caps)
    return smallest if len(smallest) > len(largest) else largest


def _first_fit(order: list[int], options: dict[int, list[int]], loads: list[tuple[float, ...]], caps: list[tuple[float, ...]]) -> dict[int, int]:  # fmt: skip
    remaining = {p: list(caps[p]) for r in order for p in options[r]}
    placed: dict[int, int] = {}
    for r in order:
        for p in sorted(options[r], key=lambda p: -sum(remaining[p])):
            if _room(remaining[p], loads[r]):
                _take(remaining[p], loads[r])
                placed[r] = p
                break
    return placed


def _room(remaining: list[float], load: tuple[float, ...]) -> bool:
    return all(amount <= left + CAPACITY_TOLERANCE * max(1.0, abs(left)) for amount, left in zip(load, remaining, strict=True) if amount > 0)  # fmt: skip


def _take(remaining: list[float], load: tuple[float, ...], sign: float = 1.0) -> None:
    for d, amount in enumerate(load):
        remaining[d] -= sign * amount


def _solve_uniform(
    reqs: list[int], options: dict[int, list[int]], load: tuple[float, ...], provs: list[int],
    caps: list[tuple[float, ...]], *, feasibility_only: bool,
) -> dict[int, int] | None:  # fmt: skip
    """All loads equal: each provider takes a whole number of them, so this is bipartite b-matching (augmenting
    paths, exact)."""
    slots: dict[int, int] = {}
    for p in provs:
        counts = [
            math.floor(left / amount + CAPACITY_TOLERANCE)
            for amount, left in zip(load, caps[p], strict=True)
            if amount > 0
        ]
        slots[p] = min(counts) if counts else len(reqs)
    owner: dict[int, int] = {}
    held: dict[int, list[int]] = {p: [] for p in provs}
    for start in reqs:
        parent: dict[int, tuple[int, int] | None] = {start: None}
        queue = deque([start])
        seen: set[int] = set()
        found: tuple[int, int] | None = None
        while queue and found is None:
            r = queue.popleft()
            for p in options[r]:
                if p in seen:
                    continue
                seen.add(p)
                if len(held[p]) < slots[p]:
                    found = (r, p)
                    break
                for other in held[p]:
                    if other not in parent:
                        parent[other] = (r, p)
                        queue.append(other)
        if found is None:
            if feasibility_only:
                return None
            continue
        r, p = found
        while True:
            previous = owner.get(r)
            if previous is not None:
                held[previous].remove(r)
            held[p].append(r)
            owner[r] = p
            link = parent[r]
            if link is None:
                break
            r = link[0]
            assert previous is not None
            p = previous
    return owner


class _Search:
    """Depth-first search over placements, requirement by requirement (largest first), with: forward checking
    (every later requirement must still fit somewhere, up to the skips allowed), an aggregate capacity bound,
    symmetry breaking (of interchangeable providers in the same state only one is tried) and memoisation of
    failed states (remaining capacities, canonical under interchangeable providers)."""

    def __init__(self, reqs: list[int], options: dict[int, list[int]], loads: list[tuple[float, ...]],
                 caps: list[tuple[float, ...]], counter: _Counter) -> None:  # fmt: skip
        self.loads = loads
        self.options = options
        self.counter = counter
        provs = sorted({p for r in reqs for p in options[r]})
        self.remaining = {p: list(caps[p]) for p in provs}
        biggest = [max((caps[p][d] for p in provs), default=0.0) or 1.0 for d in range(len(caps[provs[0]]))]
        self.order = sorted(reqs, key=lambda r: (-max((a / b for a, b in zip(loads[r], biggest, strict=True)), default=0), len(options[r]), r))  # fmt: skip
        accepted_by: dict[int, list[int]] = defaultdict(list)
        for r in reqs:
            for p in options[r]:
                accepted_by[p].append(r)
        classes: dict[tuple[object, ...], int] = {}
        self.kind = {p: classes.setdefault((caps[p], tuple(accepted_by[p])), len(classes)) for p in provs}
        self.failed: set[tuple[object, ...]] = set()
        self.placed: dict[int, int] = {}
        self.rank = {r: i for i, r in enumerate(self.order)}
        # Hall-type bounds: for a set S of providers, the requirements that can only go into S must fit into S's
        # remaining capacity, dimension by dimension. S ranges over the distinct option sets (and all providers).
        sets = {frozenset(options[r]) for r in reqs} | {frozenset(provs)}
        if len(sets) > HALL_SETS:
            sets = {frozenset(provs)}
        self.hall = [(sorted(s), [r for r in reqs if s.issuperset(options[r])]) for s in sets]

    def min_unmet(self) -> int:
        """A lower bound on how many requirements must stay unmet: for every Hall set S and dimension, at most as
        many of the requirements that only S accepts fit as their smallest loads fill S's capacity."""
        bound = 0
        for providers, confined in self.hall:
            for d in range(len(self.loads[self.order[0]])):
                room = sum(self.remaining[p][d] for p in providers) * (1 + CAPACITY_TOLERANCE) + CAPACITY_TOLERANCE
                fitting = 0
                for amount in sorted(self.loads[r][d] for r in confined):
                    room -= amount
                    if room < 0:
                        break
                    fitting += 1
                bound = max(bound, len(confined) - fitting)
        return bound

    def run(self, skips: int) -> dict[int, int] | None:
        self.placed = {}
        return dict(self.placed) if self._place(0, skips) else None

    def _signature(self, i: int, skips: int) -> tuple[object, ...]:
        by_kind: dict[int, list[tuple[float, ...]]] = defaultdict(list)
        for p, left in self.remaining.items():
            by_kind[self.kind[p]].append(tuple(round(x, 9) for x in left))
        return (i, skips, tuple(sorted((k, tuple(sorted(v))) for k, v in by_kind.items())))

    def _place(self, i: int, skips: int) -> bool:
        self.counter.tick()
        if i == len(self.order):
            return True
        key = self._signature(i, skips)
        if key in self.failed:
            return False
        stuck = 0
        for r in self.order[i:]:
            if not any(_room(self.remaining[p], self.loads[r]) for p in self.options[r]):
                stuck += 1
                if stuck > skips:
                    self.failed.add(key)
                    return False
        if skips == 0:
            for providers, bound in self.hall:
                later = [self.loads[r] for r in bound if self.rank[r] >= i]
                for d in range(len(self.loads[self.order[i]])):
                    wanted = sum(load[d] for load in later)
                    if wanted > 0 and wanted > sum(max(self.remaining[p][d], 0.0) for p in providers) * (1 + CAPACITY_TOLERANCE) + CAPACITY_TOLERANCE:  # fmt: skip
                        self.failed.add(key)
                        return False
        r = self.order[i]
        load = self.loads[r]
        tried: set[tuple[object, ...]] = set()
        for p in sorted(self.options[r], key=lambda p: -sum(self.remaining[p])):
            left = self.remaining[p]
            if not _room(left, load):
                continue
            state = (self.kind[p], tuple(round(x, 9) for x in left))
            if state in tried:
                continue
            tried.add(state)
            _take(left, load)
            self.placed[r] = p
            if self._place(i + 1, skips):
                return True
            del self.placed[r]
            _take(left, load, -1.0)
        if skips > 0 and self._place(i + 1, skips - 1):
            return True
        self.failed.add(key)
        return False


@dataclass
class _Outcome:
    placed: dict[int, int]  # requirement position -> provide position, within the interface
    undecided: bool
    maximal: bool = True


def _solve_interface(reqs: list[_Req], provs: list[_Prov], counter: _Counter, *, feasibility_only: bool) -> _Outcome:
    dimensions = sorted({d for req in reqs for d, amount in req.require.load.items() if amount > 0})
    loads = [tuple(req.require.load.get(d, 0.0) for d in dimensions) for req in reqs]
    caps = [tuple(prov.provide.capacity.get(d, 0.0) for d in dimensions) for prov in provs]
    options = {r: [p for p, prov in enumerate(provs) if _accepts(req, prov)] for r, req in enumerate(reqs)}
    placed: dict[int, int] = {}
    undecided = False
    maximal = True
    for component in _components(options, len(reqs)):
        if feasibility_only and any(not options[r] for r in component):
            return _Outcome(placed, undecided=False)
        component = [r for r in component if options[r]]
        if not component:
            continue
        try:
            found, proven = _solve_component(component, options, loads, caps, counter, feasibility_only=feasibility_only)  # fmt: skip
        except _Budget:
            undecided = True
            if feasibility_only:
                return _Outcome(placed, undecided=True)
            found, proven = _greedy(component, options, loads, caps), False
        if found is None:  # only with feasibility_only
            return _Outcome(placed, undecided=False)
        placed.update(found)
        maximal = maximal and proven
    return _Outcome(placed, undecided, maximal)


def _components(options: dict[int, list[int]], count: int) -> Iterator[list[int]]:
    """Requirements that share no acceptable provider never compete: union-find over shared providers."""
    parent = list(range(count))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_for: dict[int, int] = {}
    for r in range(count):
        for p in options[r]:
            if p in first_for:
                parent[root(r)] = root(first_for[p])
            else:
                first_for[p] = r
    groups: dict[int, list[int]] = defaultdict(list)
    for r in range(count):
        groups[root(r)].append(r)
    yield from groups.values()


# --- systems ------------------------------------------------------------------------------------------------


class _System:
    def __init__(self, members: Sequence[Member]) -> None:
        self.members = list(members)
        ids = [m.id for m in self.members]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"member id {duplicate!r} appears twice; give every member of a system its own id")
        self.position = {m.id: i for i, m in enumerate(self.members)}
        self.reqs: dict[str, list[_Req]] = defaultdict(list)
        self.provs: dict[str, list[_Prov]] = defaultdict(list)
        for position, member in enumerate(self.members):
            self.add(position, member)

    def add(self, position: int, member: Member) -> None:
        for index, require in enumerate(member.requires):
            self.reqs[require.interface].append(_Req(RequirementRef(member.id, index), position, require))
        for index, provide in enumerate(member.provides):
            self.provs[provide.interface].append(_Prov(ProviderRef(member.id, index), position, provide))

    def extended(self, extra: Member) -> _System:
        clone = _System.__new__(_System)
        clone.members = [*self.members, extra]
        clone.position = {**self.position, extra.id: len(self.members)}
        clone.reqs = defaultdict(list, {k: list(v) for k, v in self.reqs.items()})
        clone.provs = defaultdict(list, {k: list(v) for k, v in self.provs.items()})
        clone.add(len(self.members), extra)
        return clone

    def feasible(self, interface: str, counter: _Counter) -> bool | None:
        """Can every requirement of `interface` be met? None: undecided within the budget."""
        reqs = self.reqs.get(interface, [])
        if not reqs:
            return True
        outcome = _solve_interface(reqs, self.provs.get(interface, []), counter, feasibility_only=True)
        if outcome.undecided:
            return None
        return len(outcome.placed) == len(reqs)


def system_check(members: Sequence[Member], *, node_budget: int = DEFAULT_NODE_BUDGET) -> CheckResult:
    """Is the system complete? The assignment meets as many requirements as possible (all, when complete), and
    every unmet requirement comes with its reason."""
    system = _System(members)
    counter = _Counter(node_budget)
    assignment: dict[RequirementRef, ProviderRef] = {}
    unmet: list[Unmet] = []
    undecided: list[str] = []
    maximal = True
    for interface in sorted(system.reqs):
        reqs, provs = system.reqs[interface], system.provs.get(interface, [])
        outcome = _solve_interface(reqs, provs, counter, feasibility_only=False)
        if outcome.undecided:
            undecided.append(interface)
        maximal = maximal and outcome.maximal and not outcome.undecided
        for r, p in outcome.placed.items():
            assignment[reqs[r].ref] = provs[p].ref
        for r, req in enumerate(reqs):
            if r not in outcome.placed:
                unmet.append(_explain(system, req, provs, outcome, undecided=outcome.undecided))
    status = "undecided" if undecided else ("incomplete" if unmet else "complete")
    unmet.sort(key=lambda u: system_order(system, u.requirement))
    return CheckResult(status, assignment, tuple(unmet), counter.nodes, tuple(undecided), maximal)


def system_order(system: _System, ref: RequirementRef) -> tuple[int, int]:
    return (system.position[ref.member_id], ref.position)


def _quantity(amount: float, dimension: str) -> str:
    symbol = UNIT_SYMBOLS.get(dimension)
    return f"{amount:g} {symbol}" if symbol else f"{amount:g} {dimension}"


def _load_text(load: Mapping[str, float]) -> str:
    parts = [_quantity(amount, d) for d, amount in sorted(load.items()) if amount > 0]
    return " and ".join(parts) if parts else "no load"


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _explain(system: _System, req: _Req, provs: list[_Prov], outcome: _Outcome, *, undecided: bool) -> Unmet:
    members = system.members
    require = req.require
    who = members[req.owner].label
    head = f"{who} needs {require.interface} {require.range.text}"

    def unmet(reason: str, message: str, versions_seen: tuple[str, ...] = (), taken_by: Mapping[ProviderRef, tuple[Use, ...]] | None = None) -> Unmet:  # fmt: skip
        return Unmet(
            req.ref, who, require.interface, require.range.text, reason, message, versions_seen, taken_by or {}
        )

    if undecided:
        return unmet(UNDECIDED, f"{head}: the search budget ran out before this was decided")
    if not provs:
        return unmet(NO_PROVIDER, f"{head}: no member provides {require.interface}")
    others = [p for p in provs if p.owner != req.owner]
    if not others:
        return unmet(
            OWN_PROVIDER_ONLY,
            f"{head}: only {who} itself provides {require.interface}, and a member cannot meet its own requirement",
        )  # fmt: skip
    matching = [p for p in others if require.range.contains(p.provide.semver)]
    seen = tuple(sorted({str(p.provide.semver) for p in others}, key=Version.parse))
    if not matching:
        return unmet(
            VERSION_MISMATCH, f"{head}: no provider has a matching version (versions offered: {', '.join(seen)})", seen,
        )  # fmt: skip
    roomy = [p for p in matching if _fits(require.load, p.provide.capacity)]
    if not roomy:
        reasons = []
        for prov in matching:
            label = members[prov.owner].label
            for d, amount in sorted(require.load.items()):
                offered = prov.provide.capacity.get(d)
                if amount > 0 and offered is None:
                    reasons.append(f"{label} offers no {d}")
                elif amount > 0 and offered is not None and amount > offered:
                    reasons.append(f"{label} offers only {_quantity(offered, d)}")
        return unmet(
            CAPACITY_TOO_SMALL, f"{head} with {_load_text(require.load)}: no provider is big enough ({'; '.join(reasons)})", seen,
        )  # fmt: skip
    reqs = system.reqs[require.interface]
    taken_by: dict[ProviderRef, tuple[Use, ...]] = {}
    sentences = []
    for prov in roomy:
        p = provs.index(prov)
        users = sorted((reqs[r] for r, q in outcome.placed.items() if q == p), key=lambda u: (u.owner, u.ref.position))
        used = {d: sum(u.require.load.get(d, 0.0) for u in users) for d in prov.provide.capacity}
        lacking = [
            d for d, amount in sorted(require.load.items())
            if amount > 0 and used.get(d, 0.0) + amount > prov.provide.capacity[d] * (1 + CAPACITY_TOLERANCE) + CAPACITY_TOLERANCE
        ]  # fmt: skip
        uses = tuple(
            Use(u.ref, members[u.owner].label, {d: u.require.load.get(d, 0.0) for d in lacking}) for u in users
            if any(u.require.load.get(d, 0.0) > 0 for d in lacking)
        )  # fmt: skip
        taken_by[prov.ref] = uses
        label = members[prov.owner].label
        for d in lacking:
            names = [f"{u.label} ({_quantity(u.load[d], d)})" for u in uses if u.load.get(d, 0.0) > 0]
            total = _quantity(prov.provide.capacity[d], d)
            verb = "is" if prov.provide.capacity[d] == 1 and d not in UNIT_SYMBOLS else "are"
            left = prov.provide.capacity[d] - used.get(d, 0.0)
            rest = f", {_quantity(left, d)} left" if left > CAPACITY_TOLERANCE else ""
            sentences.append(f"{label}'s {total} {verb} taken by {_names(names)}{rest}")
    return unmet(
        CAPACITY_EXHAUSTED, f"{head} with {_load_text(require.load)}; {'; '.join(sentences)}", seen, taken_by,
    )  # fmt: skip


# --- the catalog ----------------------------------------------------------------------------------------------


class CatalogIndex:
    """The catalog by interface: who provides it and who requires it, each list best score first. Build it once
    and pass it to `system_complete` and `compatible_with` (a plain list of members is indexed on every call)."""

    def __init__(self, catalog: Iterable[Member]) -> None:
        self.members = list(catalog)
        providers: dict[str, list[int]] = defaultdict(list)
        requirers: dict[str, list[int]] = defaultdict(list)
        for position, member in enumerate(self.members):
            for interface in {p.interface for p in member.provides}:
                providers[interface].append(position)
            for interface in {r.interface for r in member.requires}:
                requirers[interface].append(position)
        self.providers = {k: sorted(v, key=self.rank) for k, v in providers.items()}
        self.requirers = {k: sorted(v, key=self.rank) for k, v in requirers.items()}
        self._signatures: dict[int, tuple[object, ...]] = {}

    def rank(self, position: int) -> tuple[float, int]:
        return (-self.members[position].score, position)

    def signature(self, position: int) -> tuple[object, ...]:
        found = self._signatures.get(position)
        if found is None:
            found = self._signatures[position] = _signature(self.members[position])
        return found


def _index(catalog: CatalogIndex | Iterable[Member]) -> CatalogIndex:
    return catalog if isinstance(catalog, CatalogIndex) else CatalogIndex(catalog)


def _signature(member: Member) -> tuple[object, ...]:
    """Products with the same signature are interchangeable in a system; only the best-scored one is tried."""
    return (
        tuple(sorted((p.interface, p.semver, tuple(sorted(p.capacity.items()))) for p in member.provides)),
        tuple(sorted((r.interface, r.range.lower, r.range.upper, tuple(sorted(r.load.items()))) for r in member.requires)),
    )  # fmt: skip


@dataclass(frozen=True)
class Suggestion:
    products: tuple[Member, ...]
    score: float  # sum of the products' scores


@dataclass(frozen=True)
class CompletionResult:
    """status: "complete" (nothing to add), "found", "none" (no set of up to max_additions products completes
    the system: proven), or "budget_exhausted" (time ran out, or a candidate set was left undecided by the node
    budget: suggestions found so far, if any, are valid but
    fewer or better ones may exist)."""

    status: str
    suggestions: tuple[Suggestion, ...]
    additions: int  # products per suggestion
    checked: int  # candidate sets examined
    elapsed_s: float


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.hit = False

    def passed(self) -> bool:
        if time.monotonic() > self.end:
            self.hit = True
        return self.hit


def _deficient(system: _System, interfaces: Iterable[str], node_budget: int) -> set[str] | None:
    """Interfaces among `interfaces` whose requirements cannot all be met; None when one is undecided."""
    result = set()
    for interface in interfaces:
        verdict = system.feasible(interface, _Counter(node_budget))
        if verdict is None:
            return None
        if not verdict:
            result.add(interface)
    return result


def system_complete(
    members: Sequence[Member], catalog: CatalogIndex | Iterable[Member], *, max_additions: int = 3,
    time_budget_s: float = 1.0, limit: int = 5, node_budget: int = CANDIDATE_NODE_BUDGET,
) -> CompletionResult:  # fmt: skip
    """The fewest catalog products whose addition makes the system complete, best total score first.

    Exact in the number of products: sizes 1, 2, ... are tried in turn, and a size is given up only after
    every candidate set of that size failed. Candidates for an interface that still fails are the catalog's
    providers of it whose version some requirement of that interface accepts, one per signature. Added
    products bring their own requirements, which must be met too. A catalog product may be added more than
    once (a system is a multiset). Within one size, suggestions are collected best-scored candidates first
    and sorted by total score; for one product that is exactly the top `limit`."""
    started = time.monotonic()
    deadline = _Deadline(time_budget_s)
    index = _index(catalog)
    system = _System(members)
    missing = _deficient(system, list(system.reqs), max(node_budget, DEFAULT_NODE_BUDGET))
    if missing is None:
        return CompletionResult("budget_exhausted", (), 0, 0, time.monotonic() - started)
    if not missing:
        return CompletionResult("complete", (), 0, 0, time.monotonic() - started)
    search = _Completion(index, deadline, limit, node_budget)
    for size in range(1, max_additions + 1):
        found: dict[tuple[int, ...], Suggestion] = {}
        search.extend(system, missing, (), size, found)
        if found:
            ranked = sorted(found.values(), key=lambda s: (-s.score, [m.id for m in s.products]))
            status = "budget_exhausted" if deadline.hit or search.undecided else "found"
            return CompletionResult(status, tuple(ranked[:limit]), size, search.checked, time.monotonic() - started)
        if deadline.hit:
            break
    status = "budget_exhausted" if deadline.hit or search.undecided else "none"
    return CompletionResult(status, (), 0, search.checked, time.monotonic() - started)


class _Completion:
    def __init__(self, index: CatalogIndex, deadline: _Deadline, limit: int, node_budget: int) -> None:
        self.index = index
        self.deadline = deadline
        self.limit = limit
        self.node_budget = node_budget
        self.checked = 0
        self.undecided = False  # some candidate set could not be decided: "none" and "fewest" are not proven

    def extend(self, current: _System, failing: set[str], chosen: tuple[int, ...], left: int,
               found: dict[tuple[int, ...], Suggestion]) -> None:  # fmt: skip
        index = self.index
        # Branch on the failing interface with the fewest candidates: every completing set contains one of them.
        pools = {i: _candidates(index, current, i) for i in failing}
        if any(_beyond_reach(current, i, pools[i], index, left) for i in failing):
            return
        interface = min(failing, key=lambda i: (len(pools[i]), i))
        for position in pools[interface]:
            if len(found) >= self.limit or self.deadline.passed():
                return
            product = index.members[position]
            self.checked += 1
            added = Member(f"+{len(chosen)}:{product.id}", product.label, product.provides, product.requires, product.score)  # fmt: skip
            bigger = current.extended(added)
            touched = failing | {r.interface for r in product.requires}
            still = _deficient(bigger, touched, self.node_budget)
            if still is None:
                self.undecided = True
                continue
            key = tuple(sorted((*chosen, position)))
            if not still:
                if left == 1 and key not in found:
                    members = tuple(index.members[i] for i in key)
                    found[key] = Suggestion(members, sum(m.score for m in members))
            elif left > 1:
                self.extend(bigger, still, (*chosen, position), left - 1, found)


def _beyond_reach(system: _System, interface: str, pool: list[int], index: CatalogIndex, left: int) -> bool:
    """Whether `left` more products cannot close the gap: in some dimension the loads on `interface` exceed the
    capacities by more than `left` times the most any candidate offers there. (A valid bound: every assignment
    needs total capacity >= total load, and the candidates' own requirements only add load.)"""
    need: dict[str, float] = defaultdict(float)
    for req in system.reqs.get(interface, []):
        for d, amount in req.require.load.items():
            need[d] += amount
    for prov in system.provs.get(interface, []):
        for d in need:
            need[d] -= prov.provide.capacity.get(d, 0.0)
    for d, gap in need.items():
        if gap <= CAPACITY_TOLERANCE * max(1.0, gap):
            continue
        best = max((sum(p.capacity.get(d, 0.0) for p in index.members[i].provides if p.interface == interface) for i in pool), default=0.0)  # fmt: skip
        if gap > left * best * (1 + CAPACITY_TOLERANCE) + CAPACITY_TOLERANCE:
            return True
    return False


def _candidates(index: CatalogIndex, system: _System, interface: str) -> list[int]:
    reqs = system.reqs.get(interface, [])
    chosen: list[int] = []
    seen: set[tuple[object, ...]] = set()
    for position in index.providers.get(interface, []):
        product = index.members[position]
        if not any(
            p.interface == interface and r.require.range.contains(p.semver) and _fits(r.require.load, p.capacity)
            for p in product.provides for r in reqs
        ):  # fmt: skip
            continue
        signature = index.signature(position)
        if signature not in seen:
            seen.add(signature)
            chosen.append(position)
    return chosen


# --- what can join ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compatible:
    product: Member
    links: tuple[str, ...]  # "provides power.usb-c to Lamp B" / "requires data.mqtt from Hub A"
    still_needs: tuple[str, ...]  # interfaces the product requires that the system does not provide


@dataclass(frozen=True)
class CompatibleResult:
    products: tuple[Compatible, ...]
    examined: int
    budget_exhausted: bool
    elapsed_s: float


def compatible_with(
    target: Member | Sequence[Member], catalog: CatalogIndex | Iterable[Member], *, limit: int = 20,
    time_budget_s: float = 1.0, node_budget: int = DEFAULT_NODE_BUDGET,
) -> CompatibleResult:  # fmt: skip
    """Catalog products that can join a design (one member) or a system, best score first, at most `limit`.

    A product can join when:
    1. it links to the system: a provide of the product has the interface and a version some requirement of
       the system accepts (and room for that requirement's load alone), or a requirement of the product is
       accepted by some provide of the system in the same way; and
    2. it breaks nothing: for every interface the product requires and the system provides, the system plus
       the product meets as many of the system's requirements as before AND every requirement of the product
       on that interface (versions and capacities included).
    Requirements of the product on interfaces the system does not provide do not count against it; they are
    listed in `still_needs`. "As many as before" counts against the base check's assignment; the test for 2.
    first tries the capacity that assignment left free (nothing moves), then the exact solver, and leaves out a
    product when the solver's best assignment does not show the fit (budget ran out, or another assignment of
    the same size would be needed): it may miss a product, it does not list one that breaks the system."""
    started = time.monotonic()
    deadline = _Deadline(time_budget_s)
    index = _index(catalog)
    members = [target] if isinstance(target, Member) else list(target)
    system = _System(members)
    base = system_check(members, node_budget=node_budget)
    satisfied: dict[str, int] = defaultdict(int)
    for ref in base.assignment:
        satisfied[members[system_order(system, ref)[0]].requires[ref.position].interface] += 1
    # Remaining capacity per provide after the base assignment: a fast, sufficient test for "fits".
    remaining: dict[ProviderRef, dict[str, float]] = {}
    for provs in system.provs.values():
        for prov in provs:
            remaining[prov.ref] = dict(prov.provide.capacity)
    for ref, pref in base.assignment.items():
        load = members[system_order(system, ref)[0]].requires[ref.position].load
        for d, amount in load.items():
            if d in remaining[pref]:
                remaining[pref][d] -= amount
    streams = [index.providers.get(i, []) for i in system.reqs] + [index.requirers.get(i, []) for i in system.provs]
    chosen: list[Compatible] = []
    examined = 0
    seen: set[int] = set()
    for position in heapq.merge(*streams, key=index.rank):
        if position in seen:
            continue
        seen.add(position)
        if len(chosen) >= limit or deadline.passed():
            break
        examined += 1
        product = index.members[position]
        joined = _joins(system, product, satisfied, remaining, node_budget)
        if joined is not None:
            chosen.append(joined)
    return CompatibleResult(tuple(chosen), examined, deadline.hit, time.monotonic() - started)


def _joins(system: _System, product: Member, satisfied: Mapping[str, int],
           remaining: Mapping[ProviderRef, dict[str, float]], node_budget: int) -> Compatible | None:  # fmt: skip
    labels = [m.label for m in system.members]
    links: list[str] = []
    for provide in product.provides:
        for req in system.reqs.get(provide.interface, []):
            if req.require.range.contains(provide.semver) and _fits(req.require.load, provide.capacity):
                links.append(f"provides {provide.interface} to {labels[req.owner]}")
                break
    still_needs: list[str] = []
    touched: dict[str, list[Require]] = defaultdict(list)
    for require in product.requires:
        provs = system.provs.get(require.interface)
        if not provs:
            still_needs.append(require.interface)
            continue
        touched[require.interface].append(require)
        accepting = [p for p in provs if require.range.contains(p.provide.semver) and _fits(require.load, p.provide.capacity)]  # fmt: skip
        if accepting:
            links.append(f"requires {require.interface} from {labels[accepting[0].owner]}")
    if not links:
        return None
    for interface, requires in touched.items():
        if not _fits_in_slack(system.provs[interface], requires, remaining):
            bigger = system.extended(Member("+candidate", product.label, product.provides, product.requires))
            try:
                outcome = _solve_interface(bigger.reqs[interface], bigger.provs[interface], _Counter(node_budget), feasibility_only=False)  # fmt: skip
            except _Budget:  # pragma: no cover - _solve_interface catches it
                return None
            if outcome.undecided:
                return None
            own = [r for r, req in enumerate(bigger.reqs[interface]) if req.owner == len(system.members)]
            if any(r not in outcome.placed for r in own):
                return None
            if len(outcome.placed) - len(own) < satisfied.get(interface, 0):
                return None
    return Compatible(product, tuple(dict.fromkeys(links)), tuple(dict.fromkeys(still_needs)))


def _fits_in_slack(provs: list[_Prov], requires: list[Require], remaining: Mapping[ProviderRef, dict[str, float]]) -> bool:  # fmt: skip
    """Whether the product's requirements fit, first fit, into what the base assignment left: then nothing of
    the system has to move. (When this says no, the exact solver decides.)"""
    left = {p.ref: dict(remaining[p.ref]) for p in provs}
    for require in requires:
        for prov in provs:
            if require.range.contains(prov.provide.semver) and _fits(require.load, left[prov.ref]):
                for d, amount in require.load.items():
                    if d in left[prov.ref]:
                        left[prov.ref][d] -= amount
                break
        else:
            return False
    return True


__all__ = [
    "CAPACITY_EXHAUSTED",
    "CAPACITY_TOO_SMALL",
    "NO_PROVIDER",
    "OWN_PROVIDER_ONLY",
    "UNDECIDED",
    "VERSION_MISMATCH",
    "CatalogIndex",
    "CheckResult",
    "Compatible",
    "CompatibleResult",
    "CompletionResult",
    "Member",
    "Provide",
    "ProviderRef",
    "Require",
    "RequirementRef",
    "Suggestion",
    "Unmet",
    "Use",
    "compatible_with",
    "system_check",
    "system_complete",
]
