"""Interface registry: seed, services (refusals change nothing), selectors and the database's own rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from crowdmaker.core.errors import Conflict, Forbidden, Invalid, NotFound
from crowdmaker.people.models import User
from crowdmaker.protocol import selectors, services
from crowdmaker.protocol.models import InterfaceType, InterfaceVersion, VersionStatus
from crowdmaker.protocol.registry_seed import STARTER_SET, seed_registry

pytestmark = pytest.mark.django_db

WATTS = {"watts": {"unit": "W", "description": "Power."}}


@pytest.fixture
def operator(make_user: Callable[..., User]) -> User:
    return make_user("olga", is_staff=True)


def snapshot() -> list[tuple[Any, ...]]:
    types = list(InterfaceType.objects.order_by("id").values_list("id", "name", "kind", "description"))
    versions = list(
        InterfaceVersion.objects.order_by("id").values_list(
            "id", "interface_id", "version", "status", "dimensions", "changelog", "decided_at"
        )
    )
    return [*types, *versions]


def propose_sensor(user: User, name: str = "data.mqtt.sensor.co2") -> InterfaceVersion:
    return services.interface_type_propose(
        actor=user,
        name=name,
        kind="data",
        description="CO2 in ppm.",
        dimensions={"subscribers": {"unit": "subscribers", "description": "Readers."}},
    )


# --- seed --------------------------------------------------------------------------------------------------


def test_the_starter_set_is_there_after_migrations() -> None:
    usb = InterfaceVersion.objects.select_related("interface").get(interface__name="power.usb-c", version="1.0.0")
    assert usb.status == VersionStatus.ACCEPTED
    assert usb.interface.kind == "power"
    assert set(usb.dimensions) == {"watts", "ports"}
    assert usb.dimensions["watts"]["unit"] == "W"
    names = set(InterfaceType.objects.values_list("name", flat=True))
    assert set(STARTER_SET) <= names
    assert {"mechanical.din-rail-35", "data.http", "software.home-assistant", "data.wifi-ap"} <= names
    for dimensions in InterfaceVersion.objects.values_list("dimensions", flat=True):
        assert services.clean_dimensions(dimensions) == dimensions  # the seed obeys the services' own rules


def test_the_seed_is_idempotent() -> None:
    from django.apps import apps

    before = snapshot()
    seed_registry(apps)
    assert snapshot() == before


# --- interface_type_propose ----------------------------------------------------------------------------------


def test_a_maker_proposes_a_type_with_its_first_version(user: User) -> None:
    row = services.interface_type_propose(
        actor=user,
        name="power.poe",
        kind="power",
        description=" Power over Ethernet. ",
        version="1",
        dimensions={"watts": {"unit": " W ", "description": "Power."}},
        changelog="First.",
    )
    assert (row.interface.name, row.interface.kind, row.interface.description) == (
        "power.poe",
        "power",
        "Power over Ethernet.",
    )
    assert (row.version, row.status, row.changelog, row.decided_at) == ("1.0.0", "proposed", "First.", None)
    assert row.dimensions == {"watts": {"unit": "W", "description": "Power."}}
    assert row.proposed_by == user
    assert row.interface.proposed_by == user


@pytest.mark.parametrize(
    ("kwargs", "code", "field"),
    [
        ({"name": "Power.POE"}, "invalid_interface_name", "name"),
        ({"name": "power"}, "invalid_interface_name", "name"),
        ({"name": "power.-poe"}, "invalid_interface_name", "name"),
        ({"name": "power." + "x" * 100}, "invalid_interface_name", "name"),
        ({"kind": "optical"}, "invalid_kind", "kind"),
        ({"kind": "data"}, "name_kind_mismatch", "name"),
        ({"version": "1.0.0-beta"}, "invalid_version", "version"),
        ({"version": "01.0"}, "invalid_version", "version"),
        ({"dimensions": []}, "invalid_dimensions", "dimensions"),
        ({"dimensions": {"Watts": {"unit": "W", "description": ""}}}, "invalid_dimensions", "dimensions.Watts"),
        ({"dimensions": {"watts": {"unit": "W"}}}, "invalid_dimensions", "dimensions.watts"),
        ({"dimensions": {"watts": {"unit": "", "description": ""}}}, "invalid_dimensions", "dimensions.watts.unit"),
        (
            {"dimensions": {"watts": {"unit": "W", "description": 3}}},
            "invalid_dimensions",
            "dimensions.watts.description",
        ),
        (
            {"dimensions": {f"d{i}": {"unit": "u", "description": ""} for i in range(21)}},
            "invalid_dimensions",
            "dimensions",
        ),
        ({"description": "x" * 2001}, "invalid", "description"),
    ],
)
def test_invalid_proposals_are_refused_and_change_nothing(
    user: User, kwargs: dict[str, Any], code: str, field: str
) -> None:
    before = snapshot()
    arguments = {"name": "power.poe", "kind": "power", "description": "", "dimensions": WATTS, **kwargs}
    with pytest.raises(Invalid) as refused:
        services.interface_type_propose(actor=user, **arguments)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert snapshot() == before


def test_a_taken_name_is_a_conflict_and_changes_nothing(user: User) -> None:
    before = snapshot()
    with pytest.raises(Conflict) as refused:
        services.interface_type_propose(actor=user, name="power.usb-c", kind="power", description="", dimensions={})
    assert refused.value.code == "interface_exists"
    assert snapshot() == before


# --- interface_version_propose -------------------------------------------------------------------------------


def test_a_new_version_must_be_higher_than_every_version(user: User) -> None:
    row = services.interface_version_propose(
        actor=user, name="power.usb-c", version="1.1", dimensions={**WATTS}, changelog="PD 3.1 EPR."
    )
    assert (row.version, row.status, row.interface.name) == ("1.1.0", "proposed", "power.usb-c")
    before = snapshot()
    for version, code in (("1.1.0", "version_exists"), ("1.0.5", "version_not_higher"), ("1.0.0", "version_exists")):
        with pytest.raises(Conflict) as refused:
            services.interface_version_propose(actor=user, name="power.usb-c", version=version, dimensions={})
        assert (refused.value.code, refused.value.field) == (code, "version")
    assert snapshot() == before
    # a proposed (not yet accepted) version counts too: the next one goes above it
    assert (
        services.interface_version_propose(actor=user, name="power.usb-c", version="2", dimensions={}).version
        == "2.0.0"
    )


def test_a_version_of_an_unknown_type_is_not_found(user: User) -> None:
    before = snapshot()
    with pytest.raises(NotFound):
        services.interface_version_propose(actor=user, name="power.nope", version="1.0.0", dimensions={})
    assert snapshot() == before


# --- accept and deprecate -------------------------------------------------------------------------------------


def test_an_operator_accepts_then_deprecates(user: User, operator: User) -> None:
    propose_sensor(user)
    accepted = services.interface_version_accept(actor=operator, name="data.mqtt.sensor.co2", version="1.0")
    assert accepted.status == "accepted"
    assert accepted.decided_at is not None
    deprecated = services.interface_version_deprecate(actor=operator, name="data.mqtt.sensor.co2", version="1.0.0")
    assert deprecated.status == "deprecated"
    assert deprecated.decided_at == accepted.decided_at


def test_makers_may_not_decide(user: User) -> None:
    propose_sensor(user)
    before = snapshot()
    with pytest.raises(Forbidden) as refused:
        services.interface_version_accept(actor=user, name="data.mqtt.sensor.co2", version="1.0.0")
    assert refused.value.code == "operators_only"
    with pytest.raises(Forbidden):
        services.interface_version_deprecate(actor=user, name="power.usb-c", version="1.0.0")
    assert snapshot() == before


def test_decisions_follow_the_status(user: User, operator: User) -> None:
    propose_sensor(user)
    before = snapshot()
    with pytest.raises(Conflict) as refused:
        services.interface_version_accept(actor=operator, name="power.usb-c", version="1.0.0")
    assert refused.value.code == "version_not_proposed"
    with pytest.raises(Conflict) as refused:
        services.interface_version_deprecate(actor=operator, name="data.mqtt.sensor.co2", version="1.0.0")
    assert refused.value.code == "version_not_accepted"
    with pytest.raises(NotFound) as missing:
        services.interface_version_accept(actor=operator, name="power.usb-c", version="9.0.0")
    assert missing.value.code == "interface_version_not_found"
    assert snapshot() == before


# --- the database keeps history --------------------------------------------------------------------------------


def _refused_sql(sql: str, params: list[Any] | None = None) -> None:
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def test_accepted_versions_are_frozen_in_the_database(user: User, operator: User) -> None:
    usb = InterfaceVersion.objects.get(interface__name="power.usb-c", version="1.0.0")
    before = snapshot()
    _refused_sql("UPDATE protocol_interfaceversion SET dimensions = '{}' WHERE id = %s", [usb.id])
    _refused_sql("UPDATE protocol_interfaceversion SET changelog = 'rewritten' WHERE id = %s", [usb.id])
    _refused_sql("UPDATE protocol_interfaceversion SET status = 'proposed' WHERE id = %s", [usb.id])
    _refused_sql("UPDATE protocol_interfaceversion SET status = 'deprecated', changelog = 'x' WHERE id = %s", [usb.id])
    _refused_sql("DELETE FROM protocol_interfaceversion WHERE id = %s", [usb.id])
    _refused_sql("UPDATE protocol_interfacetype SET name = 'power.usb-c2' WHERE name = 'power.usb-c'")
    assert snapshot() == before
    usb.changelog = "rewritten through the ORM"
    with pytest.raises(IntegrityError), transaction.atomic():
        usb.save()
    # the one change allowed: accepted -> deprecated, nothing else touched
    with connection.cursor() as cursor:
        cursor.execute("UPDATE protocol_interfaceversion SET status = 'deprecated' WHERE id = %s", [usb.id])
    _refused_sql("UPDATE protocol_interfaceversion SET status = 'accepted' WHERE id = %s", [usb.id])


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        (
            "INSERT INTO protocol_interfacetype (name, kind, description, created_at) VALUES (%s, %s, '', now())",
            ["Power.X", "power"],
        ),
        (
            "INSERT INTO protocol_interfacetype (name, kind, description, created_at) VALUES (%s, %s, '', now())",
            ["power", "power"],
        ),
        (
            "INSERT INTO protocol_interfacetype (name, kind, description, created_at) VALUES (%s, %s, '', now())",
            ["optical.x", "optical"],
        ),
        (
            "INSERT INTO protocol_interfacetype (name, kind, description, created_at) VALUES (%s, %s, '', now())",
            ["data.x", "power"],
        ),
        (
            "INSERT INTO protocol_interfacetype (name, kind, description, created_at) VALUES (%s, %s, '', now())",
            ["power.usb-c", "power"],
        ),
    ],
)
def test_type_rules_hold_in_the_database(sql: str, params: list[Any]) -> None:
    before = snapshot()
    _refused_sql(sql, params)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("version", "status", "dimensions", "decided"),
    [
        ("1.0.0", "proposed", "{}", False),  # (type, version) taken
        ("1.0", "proposed", "{}", False),  # not normalised
        ("1.0.0-rc1", "proposed", "{}", False),
        ("2.0.0", "final", "{}", False),
        ("2.0.0", "accepted", "{}", False),  # accepted without a decision time
        ("2.0.0", "proposed", "[]", False),
    ],
)
def test_version_rules_hold_in_the_database(version: str, status: str, dimensions: str, decided: bool) -> None:
    usb = InterfaceType.objects.get(name="power.usb-c")
    before = snapshot()
    _refused_sql(
        "INSERT INTO protocol_interfaceversion (interface_id, version, status, dimensions, changelog, created_at, decided_at)"
        " VALUES (%s, %s, %s, %s::jsonb, '', now(), CASE WHEN %s THEN now() END)",
        [usb.id, version, status, dimensions, decided],
    )
    assert snapshot() == before


# --- selectors ----------------------------------------------------------------------------------------------


def test_the_listing_shows_the_latest_accepted_version_without_n_plus_one(user: User, operator: User) -> None:
    services.interface_version_propose(actor=user, name="power.usb-c", version="1.10.0", dimensions=WATTS)
    services.interface_version_accept(actor=operator, name="power.usb-c", version="1.10.0")
    services.interface_version_propose(actor=user, name="power.usb-c", version="2.0.0", dimensions=WATTS)  # proposed
    services.interface_version_propose(actor=user, name="power.dc-barrel-12v", version="1.2.0", dimensions=WATTS)
    services.interface_version_accept(actor=operator, name="power.dc-barrel-12v", version="1.2.0")
    services.interface_version_deprecate(actor=operator, name="power.dc-barrel-12v", version="1.2.0")
    propose_sensor(user)
    with CaptureQueriesContext(connection) as queries:
        latest = {t.name: getattr(selectors.latest_accepted(t), "version", None) for t in selectors.interface_list()}
    assert len(queries) == 2
    assert latest["power.usb-c"] == "1.10.0"  # semver order, not text order ("1.10" > "1.2")
    assert latest["power.dc-barrel-12v"] == "1.0.0"  # 1.2.0 is deprecated
    assert latest["data.mqtt.sensor.co2"] is None
    assert [t.name for t in selectors.interface_list(kind="mechanical")] == [
        "mechanical.din-rail-35",
        "mechanical.m3-mount",
        "mechanical.profile-2020",
    ]
    assert [t.name for t in selectors.interface_list(q="MQTT.SENSOR.T")] == ["data.mqtt.sensor.temperature"]


def test_detail_has_the_whole_history(user: User, operator: User) -> None:
    services.interface_version_propose(actor=user, name="mechanical.m3-mount", version="1.1.0", dimensions={})
    detail = selectors.interface_detail(name="mechanical.m3-mount")
    assert [(v.version, v.status) for v in selectors.history_of(detail)] == [
        ("1.0.0", "accepted"),
        ("1.1.0", "proposed"),
    ]
    with pytest.raises(NotFound):
        selectors.interface_detail(name="mechanical.m4-mount")


def test_interface_dimensions() -> None:
    assert selectors.interface_dimensions(name="mechanical.din-rail-35", version="1.0") == {
        "width_mm": STARTER_SET["mechanical.din-rail-35"][1]["width_mm"]
    }
    for name, version in (("power.usb-c", "2.0.0"), ("power.nope", "1.0.0"), ("power.usb-c", "x")):
        with pytest.raises(NotFound):
            selectors.interface_dimensions(name=name, version=version)


def test_a_nul_in_a_description_is_refused_and_changes_nothing(user: User) -> None:
    before = (InterfaceType.objects.count(), InterfaceVersion.objects.count())

    with pytest.raises(Invalid) as refused:
        services.interface_type_propose(
            actor=user, name="power.qi", kind="power", description="wireless\x00charging", dimensions={}
        )

    assert refused.value.field == "description"
    assert (InterfaceType.objects.count(), InterfaceVersion.objects.count()) == before
