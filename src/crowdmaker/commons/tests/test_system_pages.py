"""The systems pages: my systems, one system with its check, diagram, "complete my system" and "compatible with",
the read-only share link, adding a design version from its page, and what can join a version.

Manifests use only registered interfaces (power.usb-c with watts/ports, data.mqtt.broker with connections), the
way a published design must. Every refusal test asserts the message shown and that nothing changed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html import escape
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from crowdmaker.commons import services, systems
from crowdmaker.commons.models import Design, System, SystemMember
from crowdmaker.people.models import User
from crowdmaker.people.tests.test_pages import assert_error_next_to, html_of

pytestmark = pytest.mark.django_db

SVG_NS = "{http://www.w3.org/2000/svg}"
RED = "#c62828"


def td(title: str, *, provides: list[dict[str, Any]] | None = None, requires: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    document: dict[str, Any] = {
        "@context": "https://www.w3.org/2022/wot/td/v1.1",
        "title": title,
        "security": ["nosec_sc"],
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "cm:family": ["smart-home"],
    }
    if provides:
        document["cm:provides"] = provides
    if requires:
        document["cm:requires"] = requires
    return document


def usb_c_power(watts: float, ports: int = 1) -> dict[str, Any]:
    return {"interface": "power.usb-c", "version": "^1.0", "load": {"watts": watts, "ports": ports}}


def usb_c_supply(watts: float, ports: int) -> dict[str, Any]:
    return {"interface": "power.usb-c", "version": "1.0.0", "capacity": {"watts": watts, "ports": ports}}


CATALOG = {
    "usb-c-lamp": ("USB-C lamp", td("USB-C lamp", requires=[usb_c_power(5)])),
    "usb-c-charger": ("USB-C charger", td("USB-C charger", provides=[usb_c_supply(60, 4)])),
    "mqtt-hub": (
        "MQTT hub <b>&</b>",
        td(
            "MQTT hub",
            provides=[{"interface": "data.mqtt.broker", "version": "1.0.0", "capacity": {"connections": 10}}],
            requires=[usb_c_power(3)],
        ),
    ),
    "temp-sensor": (
        "Temperature sensor",
        td(
            "Temperature sensor",
            requires=[
                {"interface": "data.mqtt.broker", "version": "^1.0", "load": {"connections": 1}},
                usb_c_power(1),
            ],
        ),
    ),
}


@pytest.fixture
def catalog(user: User) -> dict[str, Design]:
    return {
        slug: services.design_create(actor=user, slug=slug, title=title, licence="CC-BY-4.0", manifest=manifest)
        for slug, (title, manifest) in CATALOG.items()
    }


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def state() -> list[tuple[Any, ...]]:
    """Every system and member row: a refused action must leave this exactly as it was."""
    rows = list(System.objects.order_by("id").values_list("id", "owner_id", "name", "share_token"))
    members = list(SystemMember.objects.order_by("id").values_list("id", "system_id", "design_version_id", "quantity"))
    return [*rows, *members]


def new_system(client: Client, name: str = "My home") -> int:
    response = client.post("/systems/", {"name": name})
    assert response.status_code == 302, html_of(response)
    match = re.fullmatch(r"/systems/(\d+)/", response["Location"])
    assert match
    return int(match.group(1))


def add(client: Client, system_id: int, design: str, quantity: int = 1, version: str = "") -> Any:
    return client.post(
        f"/systems/{system_id}/members/", {"design": design, "version": version, "quantity": str(quantity)}
    )


def diagram_of(html: str) -> ET.Element:
    match = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert match, "no inline SVG diagram"
    return ET.fromstring(match.group(0))  # noqa: S314 - our own output, parsed to prove it is well-formed


def red_texts(svg: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in svg.iter(f"{SVG_NS}text") if t.get("fill") == RED]


def members_of(system_id: int) -> dict[str, int]:
    return dict(
        SystemMember.objects.filter(system_id=system_id).values_list("design_version__design__slug", "quantity")
    )


# --- a system from nothing to complete ---------------------------------------------------------------------------


def test_two_lamps_and_a_charger_are_complete_and_without_the_charger_the_lamps_are_explained_in_red(
    user: User, catalog: dict[str, Design]
) -> None:
    client = signed_in(user)
    listing = html_of(client.get("/systems/"))
    assert '<a href="/systems/" aria-current="page">My systems</a>' in listing
    assert "You have no systems yet." in listing

    system_id = new_system(client)
    assert "“My home” is saved." in html_of(client.get(f"/systems/{system_id}/"))
    assert add(client, system_id, "usb-c-lamp", 2).status_code == 302
    response = add(client, system_id, "usb-c-charger")  # no version: the latest
    assert response.status_code == 302
    assert members_of(system_id) == {"usb-c-lamp": 2, "usb-c-charger": 1}

    page = html_of(client.get(f"/systems/{system_id}/"))
    assert "Added 1 \N{MULTIPLICATION SIGN} USB-C charger (version 1)." in page
    assert "<strong>Complete:</strong> every product gets everything it requires." in page
    assert "USB-C lamp #1 gets <code>power.usb-c</code> from USB-C charger" in page
    assert "USB-C lamp #2 gets <code>power.usb-c</code> from USB-C charger" in page
    assert red_texts(diagram_of(page)) == []
    assert 'id="complete-heading"' not in page  # nothing to complete
    system = System.objects.get(id=system_id)
    assert f'value="http://testserver/systems/shared/{system.share_token}/"' in page

    charger = SystemMember.objects.get(system_id=system_id, design_version__design__slug="usb-c-charger")
    response = client.post(f"/systems/{system_id}/members/{charger.id}/remove/")
    assert response.status_code == 302
    assert members_of(system_id) == {"usb-c-lamp": 2}

    page = html_of(client.get(f"/systems/{system_id}/"))
    assert "Removed USB-C charger from “My home”." in page
    assert "<strong>Incomplete:</strong> 2 requirements are not met." in page
    for copy in (1, 2):
        assert f"USB-C lamp #{copy} needs power.usb-c ^1.0: no member provides power.usb-c." in page
    red = red_texts(diagram_of(page))
    assert len(red) == 2
    assert all("power.usb-c" in text for text in red)


def test_complete_my_system_adds_the_suggestion_in_one_click(user: User, catalog: dict[str, Design]) -> None:
    client = signed_in(user)
    system_id = new_system(client)
    add(client, system_id, "temp-sensor")

    page = html_of(client.get(f"/systems/{system_id}/"))
    assert "Complete my system" in page
    # The sensor needs a broker and power: the hub brings the broker but needs power itself, so two products.
    assert "2 products from the catalog make this system complete" in page
    suggestion = re.search(
        r'<form method="post" action="/systems/\d+/add/"[^>]*>(?:(?!</form>).)*Add these(?:(?!</form>).)*</form>',
        page,
        re.S,
    )
    assert suggestion
    products = re.findall(r'name="product" value="([^"]+)"', suggestion.group(0))
    assert sorted(products) == ["mqtt-hub@v1", "usb-c-charger@v1"]

    response = client.post(f"/systems/{system_id}/add/", {"product": products})

    assert response.status_code == 302
    assert members_of(system_id) == {"temp-sensor": 1, "mqtt-hub": 1, "usb-c-charger": 1}
    page = html_of(client.get(f"/systems/{system_id}/"))
    assert "<strong>Complete:</strong>" in page
    titles = {"mqtt-hub@v1": "MQTT hub <b>&</b>", "usb-c-charger@v1": "USB-C charger"}
    assert escape(f"Added {', '.join(titles[p] for p in products)}.", quote=False) in page


def test_compatible_products_are_listed_with_an_add_button(user: User, catalog: dict[str, Design]) -> None:
    client = signed_in(user)
    system_id = new_system(client)
    add(client, system_id, "usb-c-charger")

    page = html_of(client.get(f"/systems/{system_id}/"))
    section = page[page.index('id="compatible-heading"') :]
    for product in ("usb-c-lamp@v1", "mqtt-hub@v1", "temp-sensor@v1"):
        assert f'<input type="hidden" name="product" value="{product}">' in section
    assert "MQTT hub &lt;b&gt;&amp;&lt;/b&gt;" in section  # titles are escaped
    assert "Still needs: <code>data.mqtt.broker</code>" in section  # the sensor, until a hub joins

    response = client.post(f"/systems/{system_id}/add/", {"product": "usb-c-lamp@v1"})
    assert response.status_code == 302
    assert members_of(system_id) == {"usb-c-charger": 1, "usb-c-lamp": 1}


# --- refusals ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "message", "status"),
    [
        ({"design": "no-such-lamp"}, "design", "No design has this address.", 422),
        ({"design": "usb-c-lamp", "version": "9"}, "version", "This design has no version 9.", 422),
        ({"design": "usb-c-lamp", "quantity": "51"}, "quantity", "Ensure this value is less than or equal to 50.", 400),
        (
            {"design": "usb-c-lamp", "quantity": "0"},
            "quantity",
            "Ensure this value is greater than or equal to 1.",
            400,
        ),
        ({"design": ""}, "design", "This field is required.", 400),
        ({"design": "usb-c-lamp", "quantity": "50"}, "quantity", "The quantity must be between 1 and 50.", 422),
    ],
)
def test_a_refused_addition_is_shown_by_its_field_and_changes_nothing(
    user: User, catalog: dict[str, Design], data: dict[str, str], field: str, message: str, status: int
) -> None:
    client = signed_in(user)
    system_id = new_system(client)
    add(client, system_id, "usb-c-lamp", 1)
    before = state()

    response = client.post(f"/systems/{system_id}/members/", {"version": "", "quantity": "1", **data})

    assert response.status_code == status
    assert_error_next_to(response, field, message)
    assert state() == before


def test_a_refused_name_creates_no_system(user: User) -> None:
    client = signed_in(user)
    for name, status, message in (
        ("   ", 400, "This field is required."),
        ("x" * 101, 400, "Ensure this value has at most 100 characters (it has 101)."),
        ("home\x00", 400, "Null characters are not allowed."),
    ):
        response = client.post("/systems/", {"name": name})
        assert response.status_code == status
        assert_error_next_to(response, "name", message)
    assert state() == []


def test_add_these_is_all_or_nothing(user: User, catalog: dict[str, Design]) -> None:
    client = signed_in(user)
    system_id = new_system(client)
    before = state()

    response = client.post(f"/systems/{system_id}/add/", {"product": ["usb-c-charger@v1", "no-such-thing@v1"]})
    assert response.status_code == 422
    assert '<p class="message message--error">No design has this address.</p>' in html_of(response)
    assert state() == before

    response = client.post(f"/systems/{system_id}/add/", {"product": ["usb-c-charger@v1", "<script>"]})
    assert response.status_code == 400
    assert '<p class="message message--error">Not a catalog product.</p>' in html_of(response)
    assert state() == before


def test_another_account_gets_404_everywhere_and_nothing_changes(
    user: User, other_user: User, catalog: dict[str, Design]
) -> None:
    owner = signed_in(user)
    system_id = new_system(owner, "Ada's flat")
    add(owner, system_id, "usb-c-lamp", 2)
    member = SystemMember.objects.get(system_id=system_id)
    other = signed_in(other_user)
    before = state()

    for method, path, data in [
        ("get", f"/systems/{system_id}/", None),
        ("get", f"/systems/{system_id}/delete/", None),
        ("post", f"/systems/{system_id}/delete/", {}),
        ("post", f"/systems/{system_id}/members/", {"design": "usb-c-charger", "quantity": "1"}),
        ("post", f"/systems/{system_id}/members/{member.id}/remove/", {}),
        ("post", f"/systems/{system_id}/add/", {"product": "usb-c-charger@v1"}),
    ]:
        response = getattr(other, method)(path, data)
        assert response.status_code == 404, (method, path)
    assert "Ada&#x27;s flat" not in html_of(other.get("/systems/"))
    # From a design's page, someone else's system is no choice at all.
    response = other.post("/designs/usb-c-charger/v1/add-to-system/", {"system": str(system_id), "quantity": "1"})
    assert response.status_code == 400
    assert_error_next_to(response, "system", f"Select a valid choice. {system_id} is not one of the available choices.")
    assert state() == before


def test_signed_out_visitors_are_sent_to_log_in(client: Client, user: User) -> None:
    system = systems.system_create(actor=user, name="My home")
    for path in ("/systems/", f"/systems/{system.id}/", "/designs/x/v1/add-to-system/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    assert client.post("/systems/", {"name": "Mine"}).status_code == 302
    assert list(System.objects.values_list("name", flat=True)) == ["My home"]


# --- share link and delete ---------------------------------------------------------------------------------------


def test_the_share_link_works_signed_out_and_has_no_owner_actions(
    client: Client, user: User, catalog: dict[str, Design]
) -> None:
    owner = signed_in(user)
    system_id = new_system(owner, "Ada's <flat>")
    add(owner, system_id, "usb-c-lamp", 2)
    token = System.objects.get(id=system_id).share_token

    response = client.get(f"/systems/shared/{token}/")

    assert response.status_code == 200
    page = html_of(response)
    assert "<h1>Ada&#x27;s &lt;flat&gt;</h1>" in page
    assert "USB-C lamp" in page
    assert "<strong>Incomplete:</strong>" in page
    assert len(red_texts(diagram_of(page))) == 2
    assert "<form" not in page.split('id="main"', 1)[1]  # no owner actions at all
    assert f"/systems/{system_id}/" not in page
    assert client.get("/systems/shared/not-the-token/").status_code == 404
    # The owner sees a way back to the editable page.
    assert f'href="/systems/{system_id}/"' in html_of(owner.get(f"/systems/shared/{token}/"))


def test_delete_asks_first_then_deletes(user: User, catalog: dict[str, Design]) -> None:
    client = signed_in(user)
    system_id = new_system(client)
    add(client, system_id, "usb-c-lamp")

    confirm = client.get(f"/systems/{system_id}/delete/")
    assert confirm.status_code == 200
    assert "Delete “My home”?" in html_of(confirm)
    assert System.objects.filter(id=system_id).exists()

    response = client.post(f"/systems/{system_id}/delete/")
    assert response.status_code == 302
    assert response["Location"] == "/systems/"
    assert state() == []
    assert "“My home” is deleted." in html_of(client.get("/systems/"))


# --- from a design version ---------------------------------------------------------------------------------------


def test_the_fragment_offers_my_systems_and_a_new_one(user: User, catalog: dict[str, Design]) -> None:
    version = catalog["usb-c-lamp"].versions.get()
    request = RequestFactory().get("/designs/usb-c-lamp/v1/")
    request.user = user
    empty = render_to_string(
        "commons/_add_to_system.html", {"design": version.design, "version": version, "systems": []}, request
    )
    assert 'action="/designs/usb-c-lamp/v1/add-to-system/"' in empty
    assert '<option value="new" selected>A new system</option>' in empty
    assert 'value="My home"' in empty

    home = systems.system_create(actor=user, name="Home & garden")
    mine = render_to_string(
        "commons/_add_to_system.html", {"design": version.design, "version": version, "systems": [home]}, request
    )
    assert f'<option value="{home.id}" selected>Home &amp; garden</option>' in mine


def test_adding_a_version_to_a_new_or_existing_system(user: User, catalog: dict[str, Design]) -> None:
    client = signed_in(user)
    first = html_of(client.get("/designs/usb-c-lamp/v1/add-to-system/"))
    assert '<option value="new" selected>A new system</option>' in first
    assert 'value="My home"' in first  # a newcomer's first system has a name to keep

    response = client.post(
        "/designs/usb-c-lamp/v1/add-to-system/", {"system": "new", "new_system_name": "Studio", "quantity": "3"}
    )
    assert response.status_code == 302
    studio = System.objects.get(owner=user, name="Studio")
    assert response["Location"] == f"/systems/{studio.id}/"
    assert members_of(studio.id) == {"usb-c-lamp": 3}

    response = client.post("/designs/usb-c-charger/v1/add-to-system/", {"system": str(studio.id), "quantity": "1"})
    assert response.status_code == 302
    assert members_of(studio.id) == {"usb-c-lamp": 3, "usb-c-charger": 1}
    assert "Added 1 \N{MULTIPLICATION SIGN} USB-C charger (version 1) to “Studio”." in html_of(
        client.get(response["Location"])
    )


def test_a_refused_addition_from_a_version_creates_nothing(user: User, catalog: dict[str, Design]) -> None:
    client = signed_in(user)
    studio = systems.system_create(actor=user, name="Studio")
    before = state()

    response = client.post("/designs/usb-c-lamp/v1/add-to-system/", {"system": "new", "quantity": "1"})
    assert response.status_code == 400
    assert_error_next_to(response, "new_system_name", "Give the new system a name.")
    assert state() == before
    response = client.post(
        "/designs/usb-c-lamp/v1/add-to-system/", {"system": "new", "new_system_name": "Ho\x07me", "quantity": "1"}
    )
    assert response.status_code == 422
    message = "This text may not contain line breaks, tabs or other control characters (found U+0007)."
    assert_error_next_to(response, "new_system_name", message)
    assert state() == before

    # A full system: the service refuses and the page says why, by the quantity.
    systems.system_member_add(
        actor=user, system_id=studio.id, design_version=catalog["usb-c-lamp"].versions.get(), quantity=50
    )
    before = state()
    response = client.post("/designs/usb-c-lamp/v1/add-to-system/", {"system": str(studio.id), "quantity": "1"})
    assert response.status_code == 422
    assert_error_next_to(response, "quantity", "The quantity must be between 1 and 50.")
    assert state() == before
    assert (
        client.post("/designs/no-such/v1/add-to-system/", {"system": "new", "new_system_name": "X"}).status_code == 404
    )
    assert state() == before


def test_what_can_join_a_version(client: Client, catalog: dict[str, Design]) -> None:
    response = client.get("/designs/usb-c-lamp/v1/compatible/")

    assert response.status_code == 200
    page = html_of(response)
    assert "<h1>What can join USB-C lamp</h1>" in page
    assert "USB-C charger" in page
    assert "provides power.usb-c to USB-C lamp" in page
    assert "Temperature sensor" not in page  # it neither powers the lamp nor needs anything from it
    assert "<form" not in page.split('id="main"', 1)[1]  # signed out: nothing to add to
    assert client.get("/designs/usb-c-lamp/v9/compatible/").status_code == 404


def test_my_systems_lists_only_mine(user: User, other_user: User) -> None:
    systems.system_create(actor=user, name="Ada's flat")
    systems.system_create(actor=other_user, name="Bruno's boat")
    page = html_of(signed_in(user).get("/systems/"))
    assert "Ada&#x27;s flat</a>" in page
    assert "0 designs" in page
    assert "Bruno" not in page
