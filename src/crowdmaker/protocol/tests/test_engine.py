"""The compatibility engine: exact assignment where greedy fails, explanations by name, versions, own
requirements, several capacity dimensions, "complete my system" and "compatible with". Pure tests, no database;
the Hypothesis tests compare the engine with a brute-force enumeration of every assignment."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdmaker.protocol.engine import (
    CAPACITY_EXHAUSTED,
    CAPACITY_TOO_SMALL,
    NO_PROVIDER,
    OWN_PROVIDER_ONLY,
    UNDECIDED,
    VERSION_MISMATCH,
    CatalogIndex,
    CheckResult,
    Member,
    Provide,
    ProviderRef,
    Require,
    RequirementRef,
    compatible_with,
    system_check,
    system_complete,
)

USB = "power.usb-c"


def hub(member_id: str, watts: float, *, ports: int | None = None, version: str = "1.2", label: str = "") -> Member:
    capacity: dict[str, float] = {"watts": watts}
    if ports is not None:
        capacity["ports"] = ports
    return Member(member_id, label or f"Hub {member_id}", provides=[Provide(USB, version, capacity)])


def lamp(member_id: str, watts: float, *, ports: int = 0, version_range: str = "^1.0", label: str = "") -> Member:
    load: dict[str, float] = {"watts": watts}
    if ports:
        load["ports"] = ports
    return Member(member_id, label or f"Lamp {member_id}", requires=[Require(USB, version_range, load)])


def first_fit_decreasing(members: Sequence[Member]) -> bool:
    """The greedy assignment the engine must not be: largest load first, into the first provider with room."""
    providers: list[tuple[str, dict[str, float]]] = [(m.id, dict(p.capacity)) for m in members for p in m.provides]
    needs = sorted(((m.id, r) for m in members for r in m.requires), key=lambda item: -sum(item[1].load.values()))
    for owner, need in needs:
        for provider_id, left in providers:
            if provider_id != owner and all(left.get(d, 0) >= a for d, a in need.load.items() if a > 0):
                for d, a in need.load.items():
                    left[d] = left.get(d, 0) - a
                break
        else:
            return False
    return True


def assert_within_capacity(members: Sequence[Member], result: CheckResult) -> None:
    by_id = {m.id: m for m in members}
    used: dict[ProviderRef, dict[str, float]] = {}
    for req_ref, prov_ref in result.assignment.items():
        require = by_id[req_ref.member_id].requires[req_ref.position]
        provide = by_id[prov_ref.member_id].provides[prov_ref.position]
        assert req_ref.member_id != prov_ref.member_id
        assert require.interface == provide.interface
        assert require.range.contains(provide.semver)
        for d, amount in require.load.items():
            used.setdefault(prov_ref, {}).setdefault(d, 0.0)
            used[prov_ref][d] += amount
    for prov_ref, sums in used.items():
        capacity = by_id[prov_ref.member_id].provides[prov_ref.position].capacity
        for d, total in sums.items():
            assert total <= capacity.get(d, 0.0) + 1e-9, (prov_ref, d, total)


# --- exact where greedy fails ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hubs", "loads"),
    [
        ([60, 40], [35, 25, 40]),  # FFD puts 40 on the 60 W hub, then 25 has nowhere to go
        ([10, 10, 10], [5, 5, 4, 4, 3, 3, 3, 3]),  # a perfect packing {5,5} {4,3,3} {4,3,3}
        ([12, 12], [5, 5, 4, 4, 3, 3]),  # FFD: {5,5} {4,4,3} and one 3 left over; exact: {5,4,3} {5,4,3}
        ([100, 50, 50], [50, 50, 34, 33, 33]),  # FFD: {50,50} {34} {33}, a 33 left; exact: {34,33,33} {50} {50}
    ],
)
def test_exact_assignment_succeeds_where_first_fit_decreasing_fails(hubs: list[int], loads: list[int]) -> None:
    members = [hub(f"H{i}", w) for i, w in enumerate(hubs)] + [lamp(f"L{i}", w) for i, w in enumerate(loads)]
    assert not first_fit_decreasing(members)

    result = system_check(members)

    assert result.status == "complete"
    assert result.complete
    assert result.unmet == ()
    assert len(result.assignment) == len(loads)
    assert_within_capacity(members, result)


def test_versions_make_greedy_fail_and_exact_succeed() -> None:
    # The old hub (1.0) only suits Lamp A (^1.0); the new hub (2.1) suits both ranges; greedy in list order
    # gives Lamp A the new hub and leaves Lamp B with nothing.
    members = [
        hub("new", 10, version="2.1", label="New hub"),
        hub("old", 10, version="1.0", label="Old hub"),
        lamp("a", 10, version_range=">=1.0,<3", label="Lamp A"),
        lamp("b", 10, version_range="^2", label="Lamp B"),
    ]
    result = system_check(members)
    assert result.complete
    assert result.assignment == {
        RequirementRef("a", 0): ProviderRef("old", 0),
        RequirementRef("b", 0): ProviderRef("new", 0),
    }


def test_capacity_exhaustion_is_explained_by_name() -> None:
    members = [
        hub("A", 60, label="Hub A"),
        lamp("B", 30, label="Lamp B"),
        lamp("C", 25, label="Lamp C"),
        lamp("D", 40, label="Lamp D"),
    ]
    result = system_check(members)

    assert result.status == "incomplete"
    assert [u.requirement for u in result.unmet] == [RequirementRef("D", 0)]
    unmet = result.unmet[0]
    assert unmet.reason == CAPACITY_EXHAUSTED
    assert unmet.message == (
        "Lamp D needs power.usb-c ^1.0 with 40 W; Hub A's 60 W are taken by Lamp B (30 W) and Lamp C (25 W), 5 W left"
    )
    assert [u.label for u in unmet.taken_by[ProviderRef("A", 0)]] == ["Lamp B", "Lamp C"]
    assert result.assignment == {
        RequirementRef("B", 0): ProviderRef("A", 0),
        RequirementRef("C", 0): ProviderRef("A", 0),
    }


def test_ports_exhausted_while_watts_remain() -> None:
    members = [
        hub("A", 60, ports=2, label="Hub A"),
        lamp("B", 5, ports=1),
        lamp("C", 5, ports=1),
        lamp("D", 5, ports=1),
    ]
    result = system_check(members)
    assert result.status == "incomplete"
    assert len(result.assignment) == 2
    (unmet,) = result.unmet
    assert unmet.reason == CAPACITY_EXHAUSTED
    assert "Hub A's 2 ports are taken by" in unmet.message
    assert "watts" not in unmet.message
    assert " W " not in unmet.message.split(";")[1]


def test_two_dimensions_must_both_fit() -> None:
    # Hub P has the watts but one port; hub Q has the ports but few watts. The 30 W lamp must go to P, so the
    # two 1-port 5 W lamps must go to Q.
    members = [
        hub("P", 60, ports=1, label="Hub P"),
        hub("Q", 10, ports=2, label="Hub Q"),
        lamp("big", 30, ports=1),
        lamp("s1", 5, ports=1),
        lamp("s2", 5, ports=1),
    ]
    result = system_check(members)
    assert result.complete
    assert result.assignment[RequirementRef("big", 0)] == ProviderRef("P", 0)
    assert_within_capacity(members, result)


def test_a_capacity_dimension_not_offered_cannot_carry_a_load_but_a_zero_load_is_fine() -> None:
    no_ports = hub("A", 60, label="Hub A")
    result = system_check([no_ports, lamp("B", 5, ports=1, label="Lamp B")])
    (unmet,) = result.unmet
    assert unmet.reason == CAPACITY_TOO_SMALL
    assert unmet.message == "Lamp B needs power.usb-c ^1.0 with 1 ports and 5 W: no provider is big enough (Hub A offers no ports)"  # fmt: skip

    zero = Member("Z", "Zero", requires=[Require(USB, "^1", {"watts": 0, "ports": 0})])
    assert system_check([no_ports, zero]).complete


def test_a_load_larger_than_any_provider_is_too_small_not_exhausted() -> None:
    result = system_check([hub("A", 60, label="Hub A"), lamp("B", 100, label="Lamp B")])
    (unmet,) = result.unmet
    assert unmet.reason == CAPACITY_TOO_SMALL
    assert "Hub A offers only 60 W" in unmet.message


def test_a_member_cannot_satisfy_its_own_requirement() -> None:
    loop = Member("self", "Loop", provides=[Provide(USB, "1.2", {"watts": 60})], requires=[Require(USB, "^1", {"watts": 5})])  # fmt: skip
    result = system_check([loop])
    (unmet,) = result.unmet
    assert unmet.reason == OWN_PROVIDER_ONLY
    assert "only Loop itself provides power.usb-c" in unmet.message
    # Two of them power each other.
    twin = Member("twin", "Twin", provides=loop.provides, requires=loop.requires)
    result = system_check([loop, twin])
    assert result.complete
    assert result.assignment == {
        RequirementRef("self", 0): ProviderRef("twin", 0),
        RequirementRef("twin", 0): ProviderRef("self", 0),
    }


def test_no_provider_and_version_mismatch_reasons() -> None:
    members = [
        hub("A", 60, version="2.0", label="Hub A"),
        hub("B", 60, version="0.9", label="Hub B"),
        lamp("L", 5, version_range="^1.2", label="Lamp L"),
        Member("S", "Sensor S", requires=[Require("data.mqtt.sensor.temperature", "^1")]),
    ]
    result = system_check(members)
    reasons = {u.requirement.member_id: u for u in result.unmet}
    assert reasons["L"].reason == VERSION_MISMATCH
    assert reasons["L"].versions_seen == ("0.9.0", "2.0.0")
    assert reasons["L"].message == "Lamp L needs power.usb-c ^1.2: no provider has a matching version (versions offered: 0.9.0, 2.0.0)"  # fmt: skip
    assert reasons["S"].reason == NO_PROVIDER
    assert reasons["S"].message == "Sensor S needs data.mqtt.sensor.temperature ^1: no member provides data.mqtt.sensor.temperature"  # fmt: skip


@pytest.mark.parametrize(
    ("provided", "wanted", "ok"),
    [("1.9.9", "^1.2", True), ("2.0.0", "^1.2", False), ("0.3.0", "^0.2", False), ("0.2.5", "^0.2", True),
     ("1.2.9", "~1.2", True), ("1.3", "~1.2", False), ("2", ">=1.0,<2", False), ("1.2.3", "1.2.3", True),
     ("1.2.4", "=1.2.3", False), ("7.0", "*", True)],
)  # fmt: skip
def test_version_range_edges_in_a_system(provided: str, wanted: str, ok: bool) -> None:
    result = system_check([hub("A", 60, version=provided), lamp("B", 5, version_range=wanted)])
    assert result.complete is ok


def test_float_loads_sum_within_tolerance() -> None:
    members = [hub("A", 0.3), lamp("B", 0.1), lamp("C", 0.2)]
    assert system_check(members).complete


def test_duplicate_member_ids_and_bad_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="appears twice"):
        system_check([hub("A", 1), hub("A", 2)])
    with pytest.raises(ValueError, match="must be a finite number >= 0"):
        Provide(USB, "1", {"watts": -1})
    with pytest.raises(ValueError, match="pre-release"):
        Provide(USB, "1.0.0-beta")


def test_a_search_that_runs_out_of_budget_says_undecided() -> None:
    # 12 hubs of 100 W take two lamps of 34-35 W each, never three: 30 lamps fit the total watts but not the hubs;
    # proving it takes more than 50 nodes.
    members = [hub(f"H{i}", 100) for i in range(12)] + [lamp(f"L{i}", 34 + i % 2) for i in range(30)]
    result = system_check(members, node_budget=50)
    assert result.status == "undecided"
    assert result.undecided_interfaces == (USB,)
    assert all(u.reason == UNDECIDED for u in result.unmet)
    assert_within_capacity(members, result)  # the fallback assignment is still a valid one
    # With the default budget the verdict is proven (24 are met; that no 25 can be is not proven in budget).
    proven = system_check(members)
    assert (proven.status, len(proven.assignment)) == ("incomplete", 24)


def test_an_incomplete_verdict_stands_when_the_budget_runs_out_while_maximising() -> None:
    # The total load exceeds the total capacity, so "incomplete" is proven at once; how many can be met is not.
    members = [hub(f"H{i}", 100) for i in range(12)] + [lamp(f"L{i}", 47 + i % 3) for i in range(26)]
    result = system_check(members, node_budget=50)
    assert result.status == "incomplete"
    assert not result.maximal
    assert len(result.assignment) >= 22  # the greedy placement, at least
    assert {u.reason for u in result.unmet} == {CAPACITY_EXHAUSTED}
    assert_within_capacity(members, result)


def test_two_hundred_members_mostly_uniform_loads_check_fast() -> None:
    members = [hub(f"H{i}", 60, ports=4) for i in range(40)] + [lamp(f"L{i}", 15, ports=1) for i in range(160)]
    result = system_check(members)
    assert result.complete
    assert_within_capacity(members, result)


# --- brute force comparison -----------------------------------------------------------------------------------


def brute_force_best(members: Sequence[Member]) -> int:
    """The largest number of requirements any assignment meets, by trying them all."""
    needs = [(m.id, r) for m in members for r in m.requires]
    provides = [(m.id, i, p) for m in members for i, p in enumerate(m.provides)]
    best = 0
    choices = [[None, *range(len(provides))] for _ in needs]
    for combo in itertools.product(*choices):
        used: dict[int, dict[str, float]] = {}
        ok = True
        for (owner, need), choice in zip(needs, combo, strict=True):
            if choice is None:
                continue
            provider_id, _, provide = provides[choice]
            if provider_id == owner or provide.interface != need.interface or not need.range.contains(provide.semver):
                ok = False
                break
            sums = used.setdefault(choice, {})
            for d, amount in need.load.items():
                if amount > 0:
                    sums[d] = sums.get(d, 0.0) + amount
                    if d not in provide.capacity or sums[d] > provide.capacity[d] + 1e-9:
                        ok = False
            if not ok:
                break
        if ok:
            best = max(best, sum(c is not None for c in combo))
    return best


interfaces = st.sampled_from(["power.usb-c", "power.dc-12v"])
small_versions = st.sampled_from(["1.0", "1.4", "2.0"])
small_ranges = st.sampled_from(["^1.0", "^1.4", ">=1.0,<3", "^2", "*"])
capacities = st.fixed_dictionaries({"watts": st.integers(0, 12)}, optional={"ports": st.integers(0, 3)})
loads = st.fixed_dictionaries({"watts": st.integers(0, 8)}, optional={"ports": st.integers(0, 2)})


@st.composite
def small_systems(draw: st.DrawFn) -> list[Member]:
    provider_count = draw(st.integers(1, 3))
    member_count = draw(st.integers(2, 5))
    members: list[list[object]] = [[[], []] for _ in range(member_count)]
    for _ in range(provider_count):
        slot = draw(st.integers(0, member_count - 1))
        members[slot][0].append(Provide(draw(interfaces), draw(small_versions), draw(capacities)))  # type: ignore[attr-defined]
    for _ in range(draw(st.integers(1, 5))):
        slot = draw(st.integers(0, member_count - 1))
        members[slot][1].append(Require(draw(interfaces), draw(small_ranges), draw(loads)))  # type: ignore[attr-defined]
    return [Member(f"m{i}", f"Member {i}", provides=p, requires=r) for i, (p, r) in enumerate(members)]  # type: ignore[arg-type]


@settings(max_examples=int(os.environ.get("ENGINE_EXAMPLES", "300")), deadline=None)
@given(small_systems())
def test_engine_matches_brute_force_and_never_exceeds_a_capacity(members: list[Member]) -> None:
    result = system_check(members)
    best = brute_force_best(members)
    total = sum(len(m.requires) for m in members)
    assert result.status in ("complete", "incomplete")
    assert result.maximal
    assert result.complete is (best == total)
    assert len(result.assignment) == best
    assert len(result.unmet) == total - best
    assert_within_capacity(members, result)


# --- complete my system ---------------------------------------------------------------------------------------


def product(member_id: str, *, provides: Sequence[Provide] = (), requires: Sequence[Require] = (), score: float = 0.0) -> Member:  # fmt: skip
    return Member(member_id, member_id, provides=provides, requires=requires, score=score)


def test_complete_suggests_the_best_single_product() -> None:
    system = [hub("A", 20, label="Hub A"), lamp("B", 15), lamp("C", 15)]
    catalog = [
        product("small-hub", provides=[Provide(USB, "1.0", {"watts": 10})], score=9),  # too small for 15 W
        product("hub-old", provides=[Provide(USB, "0.9", {"watts": 60})], score=8),  # version ^1.0 refuses it
        product("hub-good", provides=[Provide(USB, "1.3", {"watts": 30})], score=5),
        product("hub-better", provides=[Provide(USB, "1.1", {"watts": 20})], score=7),
        product(
            "hub-needy",
            provides=[Provide(USB, "1.3", {"watts": 99})],
            requires=[Require("power.mains", "^1")],
            score=10,
        ),
        product("sensor", requires=[Require(USB, "^1", {"watts": 1})], score=100),
    ]
    result = system_complete(system, CatalogIndex(catalog))
    assert result.status == "found"
    assert result.additions == 1
    assert [[m.id for m in s.products] for s in result.suggestions] == [["hub-better"], ["hub-good"]]


def test_complete_adds_what_an_added_product_needs_itself() -> None:
    system = [lamp("B", 15)]
    catalog = [
        product(
            "hub-mains", provides=[Provide(USB, "1.3", {"watts": 60})], requires=[Require("power.mains", "^1")], score=3
        ),
        product("socket", provides=[Provide("power.mains", "1.0", {"watts": 3000})], score=1),
        product("useless", provides=[Provide("data.http", "1.0")], score=50),
    ]
    result = system_complete(system, catalog)
    assert result.status == "found"
    assert result.additions == 2
    assert [sorted(m.id for m in s.products) for s in result.suggestions] == [["hub-mains", "socket"]]
    assert system_check([*system, *(Member(f"x{i}", m.label, m.provides, m.requires) for i, m in enumerate(result.suggestions[0].products))]).complete  # fmt: skip


def test_complete_may_add_the_same_product_twice() -> None:
    system = [lamp("B", 15), lamp("C", 15)]
    catalog = [product("hub", provides=[Provide(USB, "1.3", {"watts": 20})])]
    result = system_complete(system, catalog)
    assert result.additions == 2
    assert [m.id for m in result.suggestions[0].products] == ["hub", "hub"]


def test_complete_says_none_when_nothing_within_the_limit_helps_and_complete_when_complete() -> None:
    assert system_complete([lamp("B", 15)], [product("socket", provides=[Provide("power.mains", "1.0")])]).status == "none"  # fmt: skip
    assert system_complete([hub("A", 20), lamp("B", 15)], []).status == "complete"


def test_complete_reports_an_exhausted_time_budget_and_proves_none_beyond_max_additions() -> None:
    system = [lamp(f"L{i}", 15) for i in range(4)]
    catalog = [product(f"hub{i}", provides=[Provide(USB, "1.0", {"watts": 15 + i % 5})]) for i in range(50)]
    exhausted = system_complete(system, catalog, max_additions=4, time_budget_s=0.0)
    assert exhausted.status == "budget_exhausted"
    assert exhausted.suggestions == ()
    # Every hub carries one lamp: four are needed, three are allowed (proven without trying: 3 x 19 W < 60 W).
    assert system_complete(system, catalog, max_additions=3).status == "none"
    four = system_complete(system, catalog, max_additions=4)
    assert (four.status, four.additions) == ("found", 4)


# --- compatible with ------------------------------------------------------------------------------------------


def test_compatible_with_a_system_lists_what_can_join_without_breaking_it() -> None:
    system = [hub("A", 60, label="Hub A"), lamp("B", 30, label="Lamp B")]
    catalog = [
        product("lamp-20", requires=[Require(USB, "^1", {"watts": 20})], score=5),
        product("lamp-40", requires=[Require(USB, "^1", {"watts": 40})], score=9),  # would leave Lamp B or itself dark
        product("lamp-v2", requires=[Require(USB, "^2", {"watts": 1})], score=8),  # no matching version
        product("charger", provides=[Provide(USB, "1.0", {"watts": 45})], score=3),  # provides what Lamp B needs
        product("thermo", requires=[Require("data.mqtt.sensor.temperature", "^1")], score=7),  # no link at all
        product("lamp-mqtt", requires=[Require(USB, "^1", {"watts": 10}), Require("data.mqtt", "^1")], score=1),
    ]
    result = compatible_with(system, CatalogIndex(catalog))
    assert [c.product.id for c in result.products] == ["lamp-20", "charger", "lamp-mqtt"]
    assert result.products[0].links == ("requires power.usb-c from Hub A",)
    assert result.products[1].links == ("provides power.usb-c to Lamp B",)
    assert result.products[2].still_needs == ("data.mqtt",)
    assert not result.budget_exhausted


def test_compatible_with_needs_the_exact_solver_when_the_slack_is_split() -> None:
    # 10 W are left on each hub; a 15 W lamp fits only after Lamp L moves from one hub to the other.
    system = [hub("A", 30, label="Hub A"), hub("B", 10, label="Hub B"), lamp("L", 10, label="Lamp L"), lamp("M", 10, label="Lamp M")]  # fmt: skip
    catalog = [product("lamp-15", requires=[Require(USB, "^1", {"watts": 15})])]
    # Base: A holds L (or M) and B the other, or A both; a 15 W lamp fits when A holds only one 10 W lamp.
    result = compatible_with(system, catalog)
    assert [c.product.id for c in result.products] == ["lamp-15"]


def test_compatible_with_one_design_and_limit() -> None:
    design = hub("A", 60, label="Hub A")
    catalog = [product(f"lamp-{i}", requires=[Require(USB, "^1", {"watts": 10})], score=i) for i in range(10)]
    result = compatible_with(design, catalog, limit=3)
    assert [c.product.id for c in result.products] == ["lamp-9", "lamp-8", "lamp-7"]
