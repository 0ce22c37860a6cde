"""Designs, versions, forks and citations: rules, refusals that change nothing, immutability, concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from crowdmaker.commons import selectors, services
from crowdmaker.commons.models import Citation, Design, DesignVersion
from crowdmaker.commons.tests.conftest import BOM, manifest
from crowdmaker.core.errors import Conflict, Forbidden, Invalid
from crowdmaker.people import services as people_services
from crowdmaker.people.models import Role, User

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int]:
    return Design.objects.count(), DesignVersion.objects.count(), Citation.objects.count()


def test_create_publishes_the_first_version(user: User, make_design: Callable[..., Design]) -> None:
    design = make_design(user, "desk-lamp", tags=["Lighting", "lighting", "home"],
                         manifest=manifest(provides=["power.usb-c"], requires=["data.mqtt.broker"]))  # fmt: skip
    assert design.owner_user == user
    assert design.owner_team is None
    assert design.tags == ["lighting", "home"]
    assert design.interfaces == ["data.mqtt.broker", "power.usb-c"]
    version = design.versions.get()
    assert version.number == 1
    assert version.bom == BOM


def test_invalid_manifest_is_refused_with_its_pointer(user: User) -> None:
    bad = manifest()
    bad["cm:provides"] = [{"interface": "Power USB", "version": "1.0"}]
    with pytest.raises(Invalid) as caught:
        services.design_create(actor=user, slug="lamp", title="Lamp", licence="MIT", manifest=bad)
    assert caught.value.code == "manifest_invalid"
    assert "/cm:provides/0/interface" in caught.value.message
    assert counts() == (0, 0, 0)


def test_manifest_with_unregistered_interfaces_is_refused(user: User, make_design: Callable[..., Design]) -> None:
    unregistered = manifest(provides=["power.warp-core"])
    with pytest.raises(Invalid) as caught:
        services.design_create(actor=user, slug="lamp", title="Lamp", licence="MIT", manifest=unregistered)
    assert caught.value.code == "manifest_invalid"
    assert caught.value.message.startswith("The manifest is not valid at /cm:provides/0/interface: power.warp-core")
    assert counts() == (0, 0, 0)
    design = make_design(user, "lamp")
    wrong_dimension = manifest()
    wrong_dimension["cm:requires"] = [{"interface": "power.usb-c", "version": "^1.0", "load": {"amps": 2}}]
    with pytest.raises(Invalid) as caught:
        services.design_version_publish(actor=user, design=design, manifest=wrong_dimension)
    assert "/cm:requires/0/load/amps" in caught.value.message
    assert design.versions.count() == 1


@pytest.mark.parametrize(
    ("bom", "field"),
    [
        ([{"item": "x", "quantity": 0, "unit_cost": 1, "currency": "EUR"}], "bom.0.quantity"),
        ([{"item": "x", "quantity": True, "unit_cost": 1, "currency": "EUR"}], "bom.0.quantity"),
        ([{"item": "x", "quantity": 1, "unit_cost": -1, "currency": "EUR"}], "bom.0.unit_cost"),
        ([{"item": "x", "quantity": 1, "unit_cost": 1.5, "currency": "EUR"}], "bom.0.unit_cost"),
        ([{"item": "x", "quantity": 1, "unit_cost": 1, "currency": "eur"}], "bom.0.currency"),
        ([{"item": " ", "quantity": 1, "unit_cost": 1, "currency": "EUR"}], "bom.0.item"),
        ([{"item": "x", "quantity": 1}], "bom.0"),
        ({"item": "x"}, "bom"),
    ],
)
def test_bad_bill_of_materials_is_refused(user: User, bom: object, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        services.design_create(actor=user, slug="lamp", title="Lamp", licence="MIT", manifest=manifest(), bom=bom)
    assert caught.value.field == field
    assert counts() == (0, 0, 0)


def test_unknown_licence_and_taken_slug(user: User, make_design: Callable[..., Design]) -> None:
    with pytest.raises(Invalid) as caught:
        make_design(user, "lamp", licence="WTFPL")
    assert caught.value.code == "licence_unknown"
    make_design(user, "lamp")
    with pytest.raises(Conflict):
        make_design(user, "lamp")


def test_one_owner_is_a_database_rule(user: User, make_design: Callable[..., Design]) -> None:
    design = make_design(user, "lamp")
    team = people_services.team_create(actor=user, slug="lab", name="Lab")
    with pytest.raises(IntegrityError), transaction.atomic():
        Design.objects.filter(pk=design.pk).update(owner_team=team)
    with pytest.raises(IntegrityError), transaction.atomic():
        Design.objects.filter(pk=design.pk).update(licence="WTFPL")


def test_team_designs_need_an_owner_or_maintainer(
    user: User, other_user: User, make_design: Callable[..., Design]
) -> None:
    team = people_services.team_create(actor=user, slug="lab", name="Lab")
    people_services.team_member_add(team=team, user=other_user, role=Role.MEMBER)
    with pytest.raises(Forbidden):
        make_design(other_user, "lamp", team=team)
    design = make_design(user, "lamp", team=team)
    assert design.owner_team == team
    assert design.owner_user is None
    with pytest.raises(Forbidden):
        services.design_version_publish(actor=other_user, design=design, manifest=manifest())
    people_services.team_member_add(team=team, user=other_user, role=Role.MAINTAINER)  # no-op: already a member
    from crowdmaker.people.models import Membership

    Membership.objects.filter(team=team, user=other_user).update(role=Role.MAINTAINER)
    assert services.design_version_publish(actor=other_user, design=design, manifest=manifest()).number == 2


def test_only_the_owner_publishes_versions(user: User, other_user: User, make_design: Callable[..., Design]) -> None:
    design = make_design(user, "lamp")
    with pytest.raises(Forbidden):
        services.design_version_publish(actor=other_user, design=design, manifest=manifest())
    version = services.design_version_publish(
        actor=user, design=design, manifest=manifest(provides=["power.dc-barrel-12v"]), release_notes="Brighter."
    )
    assert version.number == 2
    design.refresh_from_db()
    assert design.interfaces == ["power.dc-barrel-12v"]


def test_published_versions_are_immutable_even_in_raw_sql(user: User, make_design: Callable[..., Design]) -> None:
    version = make_design(user, "lamp").versions.get()
    for statement in (
        "UPDATE commons_designversion SET release_notes = 'changed' WHERE id = %s",
        "DELETE FROM commons_designversion WHERE id = %s",
    ):
        with pytest.raises(IntegrityError, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [version.pk])
    version.refresh_from_db()
    assert version.release_notes == ""


# --- forks ---------------------------------------------------------------------------------------------------


def test_fork_of_no_derivatives_design_is_refused_and_changes_nothing(
    user: User, other_user: User, make_design: Callable[..., Design]
) -> None:
    upstream = make_design(user, "lamp", licence="CC-BY-ND-4.0").versions.get()
    before = counts()
    with pytest.raises(Forbidden) as caught:
        services.design_fork(
            actor=other_user, upstream=upstream, slug="my-lamp", title="My lamp", licence="CC-BY-ND-4.0"
        )
    assert caught.value.code == "licence_no_derivatives"
    assert counts() == before


def test_fork_of_share_alike_keeps_the_licence(
    user: User, other_user: User, make_design: Callable[..., Design]
) -> None:
    upstream = make_design(user, "lamp", licence="CC-BY-SA-4.0").versions.get()
    before = counts()
    with pytest.raises(Invalid) as caught:
        services.design_fork(actor=other_user, upstream=upstream, slug="my-lamp", title="My lamp", licence="CC-BY-4.0")
    assert caught.value.code == "licence_share_alike"
    assert counts() == before
    fork = services.design_fork(
        actor=other_user, upstream=upstream, slug="my-lamp", title="My lamp", licence="CC-BY-SA-4.0"
    )
    assert fork.licence == "CC-BY-SA-4.0"
    assert fork.forked_from == upstream
    first = fork.versions.get()
    assert first.number == 1
    assert first.manifest == upstream.manifest
    assert first.bom == upstream.bom
    assert fork.tags == upstream.design.tags


def test_fork_of_non_commercial_may_not_allow_commercial_use(
    user: User, other_user: User, make_design: Callable[..., Design]
) -> None:
    upstream = make_design(user, "lamp", licence="CC-BY-NC-4.0").versions.get()
    with pytest.raises(Invalid) as caught:
        services.design_fork(actor=other_user, upstream=upstream, slug="my-lamp", title="My lamp", licence="MIT")
    assert caught.value.code == "licence_non_commercial"
    fork = services.design_fork(
        actor=other_user, upstream=upstream, slug="my-lamp", title="My lamp", licence="CC-BY-NC-SA-4.0",
        manifest=manifest(provides=["data.mqtt.actuator.light"]),
    )  # fmt: skip
    assert fork.versions.get().manifest["cm:provides"][0]["interface"] == "data.mqtt.actuator.light"


def test_fork_points_to_the_exact_version(user: User, other_user: User, make_design: Callable[..., Design]) -> None:
    design = make_design(user, "lamp")
    first = design.versions.get()
    services.design_version_publish(actor=user, design=design, manifest=manifest("v2"))
    fork = services.design_fork(
        actor=other_user, upstream=first, slug="old-lamp", title="Old lamp", licence="CC-BY-4.0"
    )
    assert fork.forked_from_id == first.pk
    assert fork.versions.get().manifest["title"] == "lamp"


def test_cite(user: User, other_user: User, make_design: Callable[..., Design]) -> None:
    a, b, c = make_design(user, "a-lamp"), make_design(other_user, "b-lamp"), make_design(other_user, "c-lamp")
    services.design_cite(actor=user, design=a, cited=b)
    services.design_cite(actor=user, design=a, cited=c, note="Borrowed the hinge.")
    assert set(a.citations.values_list("cited__slug", flat=True)) == {"b-lamp", "c-lamp"}
    with pytest.raises(Conflict):
        services.design_cite(actor=user, design=a, cited=b)
    with pytest.raises(Invalid):
        services.design_cite(actor=user, design=a, cited=a)
    with pytest.raises(Forbidden):
        services.design_cite(actor=other_user, design=a, cited=c)


# --- lineage, attribution, catalog ----------------------------------------------------------------------------


def test_three_generation_lineage_and_attribution(
    user: User, other_user: User, make_user: Callable[..., User], make_design: Callable[..., Design],
    django_assert_max_num_queries: Any,
) -> None:  # fmt: skip
    carol = make_user("carol", display_name="Carol Diaz")
    root = make_design(user, "root-lamp", title="Root lamp", licence="CC-BY-SA-4.0")
    services.design_version_publish(actor=user, design=root, manifest=manifest())
    child = services.design_fork(
        actor=other_user, upstream=root.versions.get(number=2), slug="child-lamp", title="Child lamp",
        licence="CC-BY-SA-4.0",
    )  # fmt: skip
    sibling = services.design_fork(
        actor=carol, upstream=root.versions.get(number=1), slug="sibling-lamp", title="Sibling", licence="CC-BY-SA-4.0"
    )
    grandchild = services.design_fork(
        actor=carol,
        upstream=child.versions.get(),
        slug="grandchild-lamp",
        title="Grandchild",
        licence="GPL-3.0-or-later",
    )
    grandchild = selectors.design_by_slug(slug="grandchild-lamp")
    with django_assert_max_num_queries(2):
        chain = selectors.attribution_chain(design=grandchild)
    assert [(a.slug, a.owner, a.licence, a.version) for a in chain] == [
        ("grandchild-lamp", "Carol Diaz", "GPL-3.0-or-later", None),
        ("child-lamp", "Bruno Lindqvist", "CC-BY-SA-4.0", 1),
        ("root-lamp", "Ada Okafor", "CC-BY-SA-4.0", 2),
    ]
    with django_assert_max_num_queries(4):
        tree = selectors.lineage(design=root)
    assert tree.ancestors == []
    assert [(node.design.slug, node.forked_from_version) for node in tree.descendants] == [
        ("child-lamp", 2), ("sibling-lamp", 1),
    ]  # fmt: skip
    assert [node.design.slug for node in tree.descendants[0].children] == ["grandchild-lamp"]
    assert [d.slug for d in selectors.lineage(design=grandchild).ancestors] == ["child-lamp", "root-lamp"]
    assert not tree.truncated
    assert sibling.pk


def test_catalog_search_and_filters(user: User, make_design: Callable[..., Design]) -> None:
    make_design(user, "desk-lamp", title="Dimmable desk lamp", tags=["lighting"], licence="MIT",
                manifest=manifest(provides=["mechanical.m3-mount"], requires=["power.usb-c"]))  # fmt: skip
    make_design(user, "soil-sensor", title="Soil moisture sensor", summary="Tells you when to water.",
                tags=["garden"], manifest=manifest(provides=["data.mqtt.broker"], family=["smart-home"]))  # fmt: skip

    def found(**filters: str) -> list[str]:
        return sorted(selectors.catalog(**filters).values_list("slug", flat=True))

    assert found(q="lamps") == ["desk-lamp"]  # title word, stemmed
    assert found(q="water") == ["soil-sensor"]  # summary
    assert found(q="garden") == ["soil-sensor"]  # tag
    assert found(q="usb-c") == ["desk-lamp"]  # part of an interface name
    assert found(q="power.usb-c") == ["desk-lamp"]  # a whole interface name
    assert found(q="mqtt") == ["soil-sensor"]
    assert found(q="nothing-like-this") == []
    assert found(licence="MIT") == ["desk-lamp"]
    assert found(tag="garden") == ["soil-sensor"]
    assert found(interface="power.usb-c") == ["desk-lamp"]
    assert found(family="smart-home") == ["soil-sensor"]


def test_description_is_rendered_escaped(user: User, make_design: Callable[..., Design]) -> None:
    design = make_design(user, "lamp", description="<script>alert(1)</script>\n\nSecond *para*")
    html = selectors.description_html(design)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert html.count("<p>") == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_publishing_never_duplicates_a_number(make_user: Callable[..., User]) -> None:
    owner = make_user("ada")
    design = services.design_create(actor=owner, slug="lamp", title="Lamp", licence="MIT", manifest=manifest())
    barrier = threading.Barrier(2)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def publish() -> None:
        try:
            barrier.wait(timeout=5)
            numbers.append(services.design_version_publish(actor=owner, design=design, manifest=manifest()).number)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == [2, 3]
    assert sorted(design.versions.values_list("number", flat=True)) == [1, 2, 3]


@pytest.mark.parametrize(
    ("where", "value", "pointer"),
    [
        ("properties", float("inf"), "/properties/level/maximum"),
        ("properties", 10**400, "/properties/level/maximum"),
        ("capacity", 10**400, "/cm:provides/0/capacity/watts"),
        ("capacity", 1e13, "/cm:provides/0/capacity/watts"),
        ("capacity", float("nan"), "/cm:provides/0/capacity/watts"),
    ],
)
def test_numbers_a_manifest_cannot_hold_are_refused(user: User, where: str, value: object, pointer: str) -> None:
    document = manifest()
    if where == "properties":
        document["properties"] = {"level": {"type": "number", "maximum": value, "forms": [{"href": "http://x/l"}]}}
    else:
        document["cm:provides"] = [{"interface": "power.usb-c", "version": "1.0.0", "capacity": {"watts": value}}]
    with pytest.raises(Invalid) as caught:
        services.design_create(actor=user, slug="lamp", title="Lamp", licence="MIT", manifest=document)
    assert caught.value.code == "manifest_invalid"
    assert f"at {pointer}:" in caught.value.message
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"item": "Screw", "quantity": 10**10, "unit_cost": 5, "currency": "EUR"}, "bom.0.quantity"),
        ({"item": "Screw", "quantity": 1, "unit_cost": 10**12, "currency": "EUR"}, "bom.0.unit_cost"),
        ({"item": "Screw", "quantity": 1, "unit_cost": 10**4200, "currency": "EUR"}, "bom.0.unit_cost"),
    ],
)
def test_bill_of_materials_amounts_are_bounded(user: User, line: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        services.design_create(actor=user, slug="lamp", title="Lamp", licence="MIT", manifest=manifest(), bom=[line])
    assert caught.value.field == field
    assert counts() == (0, 0, 0)


def test_only_a_new_title_stamps_the_design_as_edited(user: User, make_design: Callable[..., Design]) -> None:
    design = make_design(user, "lamp", title="Lamp")
    services.design_update(actor=user, design=design, title="Lamp", summary="New words", tags=["new"])
    design.refresh_from_db()
    assert (design.summary, design.edited_at) == ("New words", None)  # the catalog index need not be rebuilt
    services.design_update(actor=user, design=design, title="Lamp II")
    design.refresh_from_db()
    assert design.edited_at is not None
