"""The interface registry's pages: the list with its kind filter and search, a type's whole history, proposals of
types and versions, and the operators' accept/deprecate buttons. Each refusal shows its reason and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from typing import Any

import pytest
from django.test import Client

from crowdmaker.people.models import User
from crowdmaker.people.tests.test_pages import assert_error_next_to, html_of
from crowdmaker.protocol import services
from crowdmaker.protocol.models import InterfaceType, InterfaceVersion, VersionStatus
from crowdmaker.protocol.registry_seed import STARTER_SET

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(make_user: Callable[..., User]) -> User:
    return make_user("olga", is_staff=True)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def snapshot() -> list[tuple[Any, ...]]:
    types = list(InterfaceType.objects.order_by("id").values_list("id", "name", "kind", "description"))
    versions = list(
        InterfaceVersion.objects.order_by("id").values_list(
            "id", "interface_id", "version", "status", "dimensions", "changelog", "decided_at"
        )
    )
    return [*types, *versions]


def names_listed(html: str) -> list[str]:
    return re.findall(r'<a href="/interfaces/([^/"]+)/"><code>', html)


def proposal(**overrides: str) -> dict[str, str]:
    return {
        "name": "power.poe",
        "kind": "power",
        "description": "Power over Ethernet (IEEE 802.3af/at).",
        "version": "1.0.0",
        "dimensions": "watts | W | Power drawn or offered\nports | ports | RJ45 jacks; each device takes one",
        "changelog": "Many sensors are powered this way.",
        **overrides,
    }


# --- the list ------------------------------------------------------------------------------------------------


def test_the_list_shows_the_whole_registry_with_the_latest_accepted_version(client: Client) -> None:
    response = client.get("/interfaces/")

    assert response.status_code == 200
    html = html_of(response)
    assert names_listed(html) == sorted(STARTER_SET)
    assert '<a href="/interfaces/" aria-current="page">Interfaces</a>' in html
    assert f"{len(STARTER_SET)} interfaces" in html
    assert "Propose an interface" not in html  # signed out: no proposals


def test_the_kind_filter_and_the_search_narrow_the_list(client: Client) -> None:
    power = html_of(client.get("/interfaces/", {"kind": "power"}))
    assert names_listed(power) == sorted(name for name in STARTER_SET if name.startswith("power."))
    assert '<a href="?kind=power" aria-current="page">Power</a>' in power

    mqtt = html_of(client.get("/interfaces/", {"q": "Broker"}))
    assert names_listed(mqtt) == ["data.mqtt.broker"]

    both = html_of(client.get("/interfaces/", {"kind": "data", "q": "sensor"}))
    assert names_listed(both) == sorted(n for n in STARTER_SET if n.startswith("data.mqtt.sensor."))
    assert '<option value="data" selected>Data</option>' in both  # the search form keeps the kind


def test_a_bad_filter_is_shown_and_the_whole_list_stays(client: Client) -> None:
    response = client.get("/interfaces/", {"kind": "optical", "q": "x" * 101})

    assert response.status_code == 400
    html = html_of(response)
    assert "Please correct the following:" in html
    assert_error_next_to(response, "q", "Ensure this value has at most 100 characters (it has 101).")
    assert_error_next_to(response, "kind", "Select a valid choice. optical is not one of the available choices.")
    assert names_listed(html) == sorted(STARTER_SET)


# --- one type ------------------------------------------------------------------------------------------------


def test_a_type_shows_its_whole_history(client: Client, user: User, operator: User) -> None:
    services.interface_version_propose(
        actor=user,
        name="power.usb-c",
        version="1.1.0",
        dimensions={
            "watts": {"unit": "W", "description": "Up to 240 W."},
            "ports": {"unit": "ports", "description": ""},
        },
        changelog="USB PD 3.1 <extended> power range.",
    )

    response = client.get("/interfaces/power.usb-c/")

    assert response.status_code == 200
    html = html_of(response)
    assert "<h1><code>power.usb-c</code></h1>" in html
    assert escape(STARTER_SET["power.usb-c"][0]) in html
    assert "Power interface" in html
    assert "latest accepted version 1.0.0" in html
    # newest first, each with its status, proposer, dimensions and changelog
    assert html.index('id="v1.1.0"') < html.index('id="v1.0.0"')
    assert 'Version 1.1.0 <span class="badge badge--proposed">Proposed</span>' in html
    assert 'Version 1.0.0 <span class="badge badge--accepted">Accepted</span>' in html
    assert '<a href="/makers/ada/">@ada</a>' in html
    assert "USB PD 3.1 &lt;extended&gt; power range." in html  # escaped
    assert "Starter set of the registry." in html
    assert '<tr><th scope="row"><code>watts</code></th><td>W</td><td>Up to 240 W.</td></tr>' in html
    assert "/accept/" not in html  # signed out: no decisions
    assert "/deprecate/" not in html


def test_an_unknown_type_is_a_404(client: Client) -> None:
    assert client.get("/interfaces/power.nope/").status_code == 404


# --- proposing a type ----------------------------------------------------------------------------------------


def test_proposing_needs_an_account(client: Client) -> None:
    before = snapshot()
    response = client.post("/interfaces/new/", proposal())
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/interfaces/new/")
    assert snapshot() == before


def test_a_maker_proposes_a_type(user: User) -> None:
    client = signed_in(user)
    form = html_of(client.get("/interfaces/new/"))
    assert 'name="version" value="1.0.0"' in form

    response = client.post("/interfaces/new/", proposal())

    assert response.status_code == 302
    assert response["Location"] == "/interfaces/power.poe/"
    row = InterfaceVersion.objects.select_related("interface").get(interface__name="power.poe")
    assert (row.version, row.status, row.proposed_by, row.interface.kind) == ("1.0.0", "proposed", user, "power")
    assert row.dimensions == {
        "watts": {"unit": "W", "description": "Power drawn or offered"},
        "ports": {"unit": "ports", "description": "RJ45 jacks; each device takes one"},
    }
    page = html_of(client.get(response["Location"]))
    assert "power.poe 1.0.0 is proposed; an operator will decide on it." in page
    assert "no accepted version yet" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message", "status"),
    [
        (
            {"name": "Power.POE"},
            "name",
            "An interface name is lower-case dotted segments of letters, digits and inner hyphens, at least two "
            'segments and at most 100 characters, such as "power.usb-c".',
            422,
        ),
        ({"kind": "data"}, "name", 'A data interface\'s name starts with "data.", e.g. "data.poe".', 422),
        ({"name": "power.usb-c"}, None, "power.usb-c is already in the registry; propose a new version of it.", 409),
        ({"version": "1.0.0-beta"}, "version", None, 422),
        (
            {"dimensions": "watts W"},
            "dimensions",
            "Line 1: write name | unit | description (the description may be empty).",
            400,
        ),
        (
            {"dimensions": "Watts | W | Power"},
            "dimensions",
            "Watts: A dimension name starts with a lower-case letter, then letters, digits, '_' or '-', at most 40 "
            "characters.",
            422,
        ),
        ({"kind": "optical"}, "kind", "Select a valid choice. optical is not one of the available choices.", 400),
        ({"name": ""}, "name", "This field is required.", 400),
    ],
)
def test_a_refused_proposal_is_explained_and_changes_nothing(
    user: User, overrides: dict[str, str], field: str | None, message: str | None, status: int
) -> None:
    client = signed_in(user)
    before = snapshot()

    response = client.post("/interfaces/new/", proposal(**overrides))

    assert response.status_code == status
    assert snapshot() == before
    html = html_of(response)
    assert 'class="error-summary"' in html
    if field is None:
        assert escape(message or "") in html
    elif message is None:
        assert 'aria-invalid="true"' in re.search(rf'<input[^>]*name="{field}"[^>]*>', html).group(0)  # type: ignore[union-attr]
        assert "Not a version" in html
    else:
        assert_error_next_to(response, field, message)
    assert 'value="Power over Ethernet (IEEE 802.3af/at)."' not in html  # a textarea keeps it, not an input
    assert "Power over Ethernet (IEEE 802.3af/at)." in html  # what was typed is kept


# --- proposing a version -------------------------------------------------------------------------------------


def test_a_maker_proposes_a_version_starting_from_the_latest(user: User) -> None:
    client = signed_in(user)
    form = html_of(client.get("/interfaces/data.wifi-ap/versions/new/"))
    assert 'name="version" value="1.1.0"' in form
    assert "clients | clients | Stations that may associate at the same time." in form

    response = client.post(
        "/interfaces/data.wifi-ap/versions/new/",
        {
            "version": "2.0",
            "dimensions": "clients | clients | Stations\nbands | bands | 2.4 and 5 GHz",
            "changelog": "5 GHz.",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/interfaces/data.wifi-ap/"
    row = InterfaceVersion.objects.get(interface__name="data.wifi-ap", version="2.0.0")
    assert (row.status, row.proposed_by, row.changelog) == ("proposed", user, "5 GHz.")
    assert set(row.dimensions) == {"clients", "bands"}


def test_a_version_not_higher_is_refused_next_to_the_field(user: User) -> None:
    client = signed_in(user)
    before = snapshot()

    response = client.post("/interfaces/data.wifi-ap/versions/new/", {"version": "0.9.0", "dimensions": ""})

    assert response.status_code == 409
    assert_error_next_to(response, "version", "data.wifi-ap is already at 1.0.0; a new version must be higher.")
    assert snapshot() == before


def test_a_version_of_an_unknown_type_is_a_404(user: User) -> None:
    before = snapshot()
    assert signed_in(user).post("/interfaces/power.nope/versions/new/", {"version": "1.0.0"}).status_code == 404
    assert snapshot() == before


# --- decisions -----------------------------------------------------------------------------------------------


def test_only_operators_see_and_use_the_decision_buttons(user: User, operator: User) -> None:
    services.interface_type_propose(actor=user, name="power.poe", kind="power", description="PoE.", dimensions={})
    maker = signed_in(user)
    assert "/accept/" not in html_of(maker.get("/interfaces/power.poe/"))
    before = snapshot()

    refused = maker.post("/interfaces/power.poe/versions/1.0.0/accept/")

    assert refused.status_code == 403
    assert '<p class="message message--error">Only operators decide on interface versions.</p>' in html_of(refused)
    assert snapshot() == before

    desk = signed_in(operator)
    page = html_of(desk.get("/interfaces/power.poe/"))
    assert 'action="/interfaces/power.poe/versions/1.0.0/accept/"' in page
    assert "/deprecate/" not in page  # a proposed version can only be accepted
    response = desk.post("/interfaces/power.poe/versions/1.0.0/accept/")
    assert response.status_code == 302
    assert response["Location"] == "/interfaces/power.poe/#v1.0.0"
    row = InterfaceVersion.objects.get(interface__name="power.poe")
    assert row.status == VersionStatus.ACCEPTED
    assert row.decided_at is not None

    page = html_of(desk.get("/interfaces/power.poe/"))
    assert "power.poe 1.0.0 is accepted." in page
    assert 'action="/interfaces/power.poe/versions/1.0.0/deprecate/"' in page
    assert desk.post("/interfaces/power.poe/versions/1.0.0/deprecate/").status_code == 302
    assert InterfaceVersion.objects.get(interface__name="power.poe").status == VersionStatus.DEPRECATED


def test_a_decision_out_of_order_is_explained_and_changes_nothing(operator: User) -> None:
    desk = signed_in(operator)
    before = snapshot()

    response = desk.post("/interfaces/power.usb-c/versions/1.0.0/accept/")

    assert response.status_code == 409
    assert "power.usb-c 1.0.0 is accepted, not proposed." in html_of(response)
    assert snapshot() == before
    assert desk.post("/interfaces/power.usb-c/versions/9.0.0/accept/").status_code == 404
    assert desk.get("/interfaces/power.usb-c/versions/1.0.0/accept/").status_code == 405
    assert snapshot() == before
