"""Systems: a worked "smart home starter" through the API, the check, completion, the diagram and the share link."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crowdmaker.commons import services, systems
from crowdmaker.commons.models import Design, System, SystemMember
from crowdmaker.conftest import ApiClient
from crowdmaker.core.errors import Invalid, NotFound
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db

SVG_NS = "{http://www.w3.org/2000/svg}"


def td(title: str, *, provides: list[dict[str, Any]] = (), requires: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    document: dict[str, Any] = {
        "@context": "https://www.w3.org/2022/wot/td/v1.1",
        "title": title,
        "security": ["nosec_sc"],
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "cm:family": ["smart-home"],
    }
    if provides:
        document["cm:provides"] = list(provides)
    if requires:
        document["cm:requires"] = list(requires)
    return document


USB_POWER = {"interface": "power.usb-c", "version": "^1.0", "load": {"watts": 10, "ports": 1}}
MQTT = {"interface": "data.mqtt.broker", "version": "^1.0"}

STARTER = {
    "usb-hub": (
        "USB-C power hub",
        td(
            "USB-C power hub",
            provides=[{"interface": "power.usb-c", "version": "1.0.0", "capacity": {"watts": 60, "ports": 6}}],
        ),
    ),
    "desk-lamp": ("Desk lamp", td("Desk lamp", requires=[USB_POWER])),
    "reading-lamp": ("Reading lamp <b>&</b>", td("Reading lamp", requires=[USB_POWER])),
    "mqtt-broker": (
        "MQTT broker box",
        td(
            "MQTT broker box",
            provides=[{"interface": "data.mqtt.broker", "version": "1.0.0", "capacity": {"connections": 20}}],
            requires=[USB_POWER],
        ),
    ),
    "temp-sensor": (
        "Temperature sensor",
        td("Temperature sensor", requires=[{**MQTT, "load": {"connections": 1}}, USB_POWER]),
    ),
}


@pytest.fixture
def starter(user: User) -> dict[str, Design]:
    return {
        slug: services.design_create(actor=user, slug=slug, title=title, licence="CC-BY-4.0", manifest=manifest)
        for slug, (title, manifest) in STARTER.items()
    }


def _new_system(api: ApiClient, name: str = "My home") -> int:
    response = api.post("/api/v1/systems", {"name": name})
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def _add(api: ApiClient, system_id: int, slug: str, quantity: int = 1) -> Any:
    return api.post(f"/api/v1/systems/{system_id}/members", {"design": slug, "version": 1, "quantity": quantity})


def test_smart_home_starter(
    api: ApiClient, api_for: Callable[..., ApiClient], other_user: User, starter: dict[str, Design]
) -> None:
    system_id = _new_system(api)
    members = {slug: _add(api, system_id, slug).json()["id"] for slug in STARTER}
    assert _add(api, system_id, "desk-lamp").json()["quantity"] == 2  # adding again raises the quantity

    check = api.get(f"/api/v1/systems/{system_id}/check").json()
    assert check["status"] == "complete"
    assert check["complete"] is True
    assert check["unmet"] == []
    links = {
        (a["requirement"]["member"], a["requirement"]["interface"]): a["provider"]["member"]
        for a in check["assignment"]
    }
    assert links[("temp-sensor@v1#1", "data.mqtt.broker")] == "mqtt-broker@v1#1"
    assert links[("desk-lamp@v1#2", "power.usb-c")] == "usb-hub@v1#1"
    assert len(links) == 6  # two desk lamps, reading lamp, broker and sensor on power; sensor on the broker

    # Without the hub nothing has power: incomplete, and each reason names the interface.
    assert api.delete(f"/api/v1/systems/{system_id}/members/{members['usb-hub']}").status_code == 204
    check = api.get(f"/api/v1/systems/{system_id}/check").json()
    assert check["complete"] is False
    assert check["status"] == "incomplete"
    assert {u["member"] for u in check["unmet"]} == {
        "desk-lamp@v1#1", "desk-lamp@v1#2", "reading-lamp@v1#1", "mqtt-broker@v1#1", "temp-sensor@v1#1",
    }  # fmt: skip
    assert all(u["interface"] == "power.usb-c" and u["reason"] == "no_provider" for u in check["unmet"])
    assert all("power.usb-c" in u["message"] for u in check["unmet"])

    # "Complete my system" finds the hub in the catalog: one hub (60 W, 6 ports) powers all five.
    complete = api.get(f"/api/v1/systems/{system_id}/complete").json()
    assert complete["status"] == "found"
    assert complete["additions"] == 1
    assert complete["suggestions"] == [
        {"products": [{"design": "usb-hub", "version": 1, "title": "USB-C power hub"}], "score": 0.0}
    ]

    # The diagram is valid XML, shows the members (escaped) and the unmet requirements in red.
    response = api.get(f"/api/v1/systems/{system_id}/diagram.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    root = ET.fromstring(response.content)  # noqa: S314 - our own output, parsed to prove it is well-formed
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]
    assert "Reading lamp <b>&</b>" in texts
    assert "Temperature sensor" in texts
    red = [t for t in root.iter(f"{SVG_NS}text") if t.get("fill") == "#c62828"]
    assert len(red) == 5
    assert all("power.usb-c" in "".join(t.itertext()) for t in red)

    # Another account: every owner-only endpoint is a 404 in the one error shape, and nothing changes.
    other = api_for(other_user)
    before = list(SystemMember.objects.filter(system_id=system_id).values_list("id", "quantity"))
    for method, path, body in [
        ("GET", f"/api/v1/systems/{system_id}", None),
        ("GET", f"/api/v1/systems/{system_id}/check", None),
        ("GET", f"/api/v1/systems/{system_id}/complete", None),
        ("GET", f"/api/v1/systems/{system_id}/diagram.svg", None),
        ("POST", f"/api/v1/systems/{system_id}/members", {"design": "usb-hub", "version": 1, "quantity": 1}),
        ("DELETE", f"/api/v1/systems/{system_id}/members/{members['desk-lamp']}", None),
        ("DELETE", f"/api/v1/systems/{system_id}", None),
    ]:
        response = other.request(method, path, body)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "not_found"
    assert list(SystemMember.objects.filter(system_id=system_id).values_list("id", "quantity")) == before
    assert System.objects.filter(id=system_id).exists()
    assert other.get("/api/v1/systems").json()["results"] == []

    # The share link works for anyone, without an account; a wrong token is a 404.
    token = api.get(f"/api/v1/systems/{system_id}").json()["share_token"]
    anonymous = api_for(None)
    shared = anonymous.get(f"/api/v1/shared/systems/{token}")
    assert shared.status_code == 200
    assert shared.json()["name"] == "My home"
    assert shared.json()["check"]["complete"] is False
    assert {m["design"] for m in shared.json()["members"]} == set(STARTER) - {"usb-hub"}
    assert anonymous.get(f"/api/v1/shared/systems/{token}/diagram.svg").status_code == 200
    assert anonymous.get("/api/v1/shared/systems/not-a-token").status_code == 404
    assert anonymous.get(f"/api/v1/systems/{system_id}").status_code == 401


def test_compatible_with_a_design_and_a_system(api: ApiClient, starter: dict[str, Design]) -> None:
    response = api.get("/api/v1/designs/desk-lamp/versions/1/compatible")
    assert response.status_code == 200
    products = {p["design"]: p for p in response.json()["products"]}
    assert "usb-hub" in products
    assert "provides power.usb-c to Desk lamp" in products["usb-hub"]["links"]
    assert "temp-sensor" not in products  # it needs no power from a lamp and gives it nothing

    system_id = _new_system(api)
    _add(api, system_id, "mqtt-broker")
    products = {p["design"]: p for p in api.get(f"/api/v1/systems/{system_id}/compatible").json()["products"]}
    assert {"usb-hub", "temp-sensor"} <= set(products)
    assert products["temp-sensor"]["links"] == ["requires data.mqtt.broker from MQTT broker box"]
    assert products["temp-sensor"]["still_needs"] == ["power.usb-c"]  # nobody in the system provides power yet
    assert api.get("/api/v1/designs/desk-lamp/versions/9/compatible").status_code == 404


def test_lists_refusals_and_delete(api: ApiClient, user: User, starter: dict[str, Design]) -> None:
    first, second = _new_system(api, "Workshop"), _new_system(api, "Home")
    page = api.get("/api/v1/systems?page_size=1").json()
    assert [s["name"] for s in page["results"]] == ["Home"]
    assert page["next"]

    response = api.post("/api/v1/systems", {"name": "   "})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "name"
    assert System.objects.filter(owner=user).count() == 2
    response = _add(api, first, "no-such-design")
    assert response.status_code == 404
    response = _add(api, first, "desk-lamp", quantity=0)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "quantity"
    response = _add(api, first, "desk-lamp", quantity=systems.MAX_QUANTITY)
    assert response.status_code == 201
    response = _add(api, first, "desk-lamp")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "quantity"
    assert SystemMember.objects.get(system_id=first).quantity == systems.MAX_QUANTITY
    assert api.delete(f"/api/v1/systems/{first}/members/999999").status_code == 404

    assert api.delete(f"/api/v1/systems/{first}").status_code == 204
    assert list(System.objects.filter(owner=user).values_list("id", flat=True)) == [second]
    with pytest.raises(NotFound):
        systems.system_delete(actor=user, system_id=first)


def test_check_query_count_is_bounded(api: ApiClient, starter: dict[str, Design]) -> None:
    system_id = _new_system(api)
    _add(api, system_id, "usb-hub")
    _add(api, system_id, "desk-lamp")
    with CaptureQueriesContext(connection) as small:
        assert api.get(f"/api/v1/systems/{system_id}/check").status_code == 200
    for slug in ("reading-lamp", "mqtt-broker", "temp-sensor"):
        _add(api, system_id, slug, quantity=2)
    with CaptureQueriesContext(connection) as large:
        assert api.get(f"/api/v1/systems/{system_id}/check").status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
    assert len(small.captured_queries) <= 4, [q["sql"] for q in small.captured_queries]


def test_empty_system_diagram_and_check(api: ApiClient) -> None:
    system_id = _new_system(api, 'Attic "<script>"')
    assert api.get(f"/api/v1/systems/{system_id}/check").json()["complete"] is True
    root = ET.fromstring(api.get(f"/api/v1/systems/{system_id}/diagram.svg").content)  # noqa: S314 - our own output, parsed to prove it is well-formed
    assert root.find(f"{SVG_NS}title").text == 'Attic "<script>"'  # type: ignore[union-attr]


def test_a_system_holds_at_most_max_system_units(user: User, starter: dict[str, Design]) -> None:
    system = systems.system_create(actor=user, name="Warehouse")
    versions = [design.versions.get() for design in starter.values()]
    for version in versions[:4]:
        systems.system_member_add(actor=user, system_id=system.id, design_version=version, quantity=50)
    assert systems.MAX_SYSTEM_UNITS == 200
    with pytest.raises(Invalid) as refused:
        systems.system_member_add(actor=user, system_id=system.id, design_version=versions[4], quantity=1)
    assert refused.value.field == "quantity"
    assert sorted(SystemMember.objects.filter(system=system).values_list("quantity", flat=True)) == [50] * 4


def test_capacity_exhausted_names_who_takes_it(api: ApiClient, starter: dict[str, Design]) -> None:
    system_id = _new_system(api)
    _add(api, system_id, "usb-hub")
    _add(api, system_id, "desk-lamp", quantity=7)  # 7 ports wanted, the hub has 6

    check = api.get(f"/api/v1/systems/{system_id}/check").json()

    assert check["status"] == "incomplete"
    assert len(check["assignment"]) == 6
    [unmet] = check["unmet"]
    assert unmet["reason"] == "capacity_exhausted"
    assert unmet["interface"] == "power.usb-c"
    [taken] = unmet["taken_by"]
    assert taken["provider"] == {"member": "usb-hub@v1#1", "position": 0}
    assert len(taken["used_by"]) == 6
    assert all(label.startswith("Desk lamp #") for label in taken["used_by"])
    assert "ports" in unmet["message"]


def test_a_system_name_with_a_control_character_is_refused_and_creates_nothing(user: User) -> None:
    with pytest.raises(Invalid) as refused:
        systems.system_create(actor=user, name="my\x00home")

    assert refused.value.field == "name"
    assert System.objects.count() == 0


def _refreshed(old: Any) -> Any:
    """`old` refreshed to the catalog as it is now; it must not need a full build, and must equal one."""
    key = systems.catalog_key()
    refreshed = systems._refresh_catalog(old, key)
    assert refreshed is not None
    full = systems._build_catalog(key).index
    assert [(m.id, m.label, m.score) for m in refreshed.index.members] == [
        (m.id, m.label, m.score) for m in full.members
    ]
    assert (refreshed.index.providers, refreshed.index.requirers) == (full.providers, full.requirers)
    return refreshed


def test_the_catalog_index_is_kept_until_the_catalog_changes(user: User, starter: dict[str, Design]) -> None:
    first = systems.catalog_index()
    assert systems.catalog_index() is first  # nothing changed: the same index, not rebuilt
    with CaptureQueriesContext(connection) as queries:
        systems.catalog_index()
    assert len(queries) == 2  # the key only: versions' last id and count, designs' last title change
    lamp = starter["desk-lamp"]
    services.design_version_publish(actor=user, design=lamp, manifest=lamp.versions.get().manifest)
    changed = systems.catalog_index()
    assert changed is not first
    assert sum(member.id.startswith("desk-lamp@v2") for member in changed.members) == 1


def test_a_change_is_read_alone_and_gives_what_a_full_build_gives(
    user: User, other_user: User, starter: dict[str, Design]
) -> None:
    catalog = systems._build_catalog(systems.catalog_key())
    lamp = starter["desk-lamp"]
    services.design_version_publish(actor=user, design=lamp, manifest=lamp.versions.get().manifest)
    catalog = _refreshed(catalog)
    assert [m.id for m in catalog.index.members if m.id.startswith("desk-lamp@")] == ["desk-lamp@v2"]

    services.design_update(actor=user, design=lamp, title="Desk lamp, renamed")
    catalog = _refreshed(catalog)
    assert [m.label for m in catalog.index.members if m.id.startswith("desk-lamp@")] == ["Desk lamp, renamed"]

    services.design_fork(actor=other_user, upstream=lamp.versions.get(number=2), slug="lamp-fork", title="Fork",
                         licence="CC-BY-4.0")  # fmt: skip
    services.design_fork(actor=other_user, upstream=lamp.versions.get(number=1), slug="lamp-fork-2",
                         title="Fork 2", licence="CC-BY-4.0")  # fmt: skip
    catalog = _refreshed(catalog)
    scores = {m.id.split("@")[0]: m.score for m in catalog.index.members}
    assert (scores["desk-lamp"], scores["lamp-fork"], scores["lamp-fork-2"]) == (2.0, 0.0, 0.0)


def test_a_version_committed_late_makes_a_full_build(user: User, starter: dict[str, Design]) -> None:
    """A version with a lower id can commit after one with a higher id: the count tells, and the refresh gives
    way to a full build rather than miss it."""
    systems.catalog_index()
    lamp = starter["desk-lamp"]
    services.design_version_publish(actor=user, design=lamp, manifest=lamp.versions.get().manifest)
    key = systems.catalog_key()
    old = systems._build_catalog(key)
    last, count, edited = key
    assert isinstance(count, int)
    pretend = systems._Catalog((last, count - 2, edited), old.index, old.design_ids, old.positions, old.forks)
    assert systems._refresh_catalog(pretend, key) is None  # no new rows, yet the count grew: rebuild
