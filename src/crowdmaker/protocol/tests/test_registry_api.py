"""API of the interface registry: public reads with cursor pagination, proposals, operators' decisions, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crowdmaker.conftest import ApiClient
from crowdmaker.people.models import User
from crowdmaker.protocol.models import InterfaceType, InterfaceVersion

pytestmark = pytest.mark.django_db

NEW_TYPE = {
    "name": "power.poe",
    "kind": "power",
    "description": "Power over Ethernet (802.3af).",
    "dimensions": {"watts": {"unit": "W", "description": "Power."}, "ports": {"unit": "ports"}},
    "changelog": "First.",
}


@pytest.fixture
def operator_api(make_user: Callable[..., User], api_for: Callable[..., ApiClient]) -> ApiClient:
    return api_for(make_user("olga", is_staff=True))


def counts() -> tuple[int, int]:
    return InterfaceType.objects.count(), InterfaceVersion.objects.count()


def test_anyone_reads_the_registry_page_by_page(api_for: Callable[..., ApiClient]) -> None:
    anonymous = api_for(None)
    seen: list[str] = []
    path = "/api/v1/interfaces?page_size=4"
    while path:
        response = anonymous.get(path)
        assert response.status_code == 200
        body = response.json()
        seen += [item["name"] for item in body["results"]]
        path = body["next"]
    assert seen == sorted(InterfaceType.objects.values_list("name", flat=True))
    assert len(seen) == InterfaceType.objects.count() >= 15


def test_the_listing_filters_and_shows_the_latest_accepted_version(api: ApiClient) -> None:
    body = api.get("/api/v1/interfaces?kind=mechanical").json()
    assert [item["name"] for item in body["results"]] == [
        "mechanical.din-rail-35",
        "mechanical.m3-mount",
        "mechanical.profile-2020",
    ]
    din = body["results"][0]
    assert din["kind"] == "mechanical"
    assert din["proposed_by"] is None
    assert din["latest_version"]["version"] == "1.0.0"
    assert din["latest_version"]["status"] == "accepted"
    assert din["latest_version"]["dimensions"]["width_mm"]["unit"] == "mm"
    body = api.get("/api/v1/interfaces?q=Wi-Fi").json()
    assert [item["name"] for item in body["results"]] == ["data.wifi-ap"]


def test_the_listing_costs_the_same_queries_for_any_page_size(api_for: Callable[..., ApiClient]) -> None:
    anonymous = api_for(None)
    with CaptureQueriesContext(connection) as small:
        assert anonymous.get("/api/v1/interfaces?page_size=2").status_code == 200
    with CaptureQueriesContext(connection) as large:
        assert anonymous.get("/api/v1/interfaces?page_size=100").status_code == 200
    assert len(small) == len(large) <= 3


@pytest.mark.parametrize(
    ("query", "field"),
    [("kind=optical", "kind"), ("page_size=0", "page_size"), ("cursor=garbage", "cursor"), ("q=" + "x" * 101, "q")],
)
def test_bad_listing_queries_are_422(api: ApiClient, query: str, field: str) -> None:
    response = api.get(f"/api/v1/interfaces?{query}")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["field"] == field


def test_detail_has_the_whole_history(api: ApiClient, api_for: Callable[..., ApiClient]) -> None:
    assert api.post("/api/v1/interfaces/power.usb-c/versions", {"version": "1.1"}).status_code == 201
    response = api_for(None).get("/api/v1/interfaces/power.usb-c")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "power.usb-c"
    assert [(v["version"], v["status"], v["proposed_by"]) for v in body["versions"]] == [
        ("1.0.0", "accepted", None),
        ("1.1.0", "proposed", "ada"),
    ]
    assert body["latest_version"]["version"] == "1.0.0"


def test_an_unknown_interface_is_404(api: ApiClient) -> None:
    response = api.get("/api/v1/interfaces/power.nope")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "interface_not_found",
            "message": "No interface type 'power.nope' in the registry.",
            "field": None,
        }
    }


def test_a_maker_proposes_a_type_and_an_operator_accepts_it(api: ApiClient, operator_api: ApiClient) -> None:
    response = api.post("/api/v1/interfaces", NEW_TYPE)
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["kind"], body["proposed_by"], body["latest_version"]) == (
        "power.poe",
        "power",
        "ada",
        None,
    )
    assert body["versions"][0]["version"] == "1.0.0"
    assert body["versions"][0]["status"] == "proposed"
    assert body["versions"][0]["dimensions"] == {
        "watts": {"unit": "W", "description": "Power."},
        "ports": {"unit": "ports", "description": ""},
    }
    before = counts()
    refused = api.post("/api/v1/interfaces/power.poe/versions/1.0.0/accept")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "operators_only"
    accepted = operator_api.post("/api/v1/interfaces/power.poe/versions/1.0.0/accept")
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["decided_at"] is not None
    assert counts() == before
    again = operator_api.post("/api/v1/interfaces/power.poe/versions/1.0.0/accept")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "version_not_proposed"
    deprecated = operator_api.post("/api/v1/interfaces/power.poe/versions/1.0.0/deprecate")
    assert deprecated.status_code == 200
    assert deprecated.json()["status"] == "deprecated"


def test_writes_need_a_signed_in_caller_with_a_write_token(api_for: Callable[..., ApiClient], user: User) -> None:
    before = counts()
    anonymous = api_for(None).post("/api/v1/interfaces", NEW_TYPE)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    read_only = api_for(user, scope="read").post("/api/v1/interfaces", NEW_TYPE)
    assert read_only.status_code == 403
    assert read_only.json()["error"]["code"] == "token_read_only"
    assert api_for(None).post("/api/v1/interfaces/power.usb-c/versions", {"version": "2"}).status_code == 401
    assert api_for(None).post("/api/v1/interfaces/power.usb-c/versions/1.0.0/accept").status_code == 401
    assert counts() == before


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"name": "power.usb-c"}, 409, "interface_exists", None),
        ({"name": "Power.PoE"}, 422, "invalid_interface_name", "name"),
        ({"kind": "data"}, 422, "name_kind_mismatch", "name"),
        ({"kind": "optical"}, 422, "validation_error", "kind"),
        ({"version": "1.0.0-rc.1"}, 422, "invalid_version", "version"),
        ({"dimensions": {"Watts": {"unit": "W"}}}, 422, "invalid_dimensions", "dimensions.Watts"),
        ({"dimensions": {"watts": {"unit": "W", "max": 3}}}, 422, "validation_error", "dimensions.watts.max"),
        ({"owner": "me"}, 422, "validation_error", "owner"),
    ],
)
def test_refused_proposals_change_nothing(
    api: ApiClient, change: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    before = counts()
    response = api.post("/api/v1/interfaces", {**NEW_TYPE, **change})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["field"] == field
    assert counts() == before


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/api/v1/interfaces/power.nope/versions", {"version": "1.0.0"}, 404, "interface_not_found"),
        ("/api/v1/interfaces/power.usb-c/versions", {"version": "1.0.0"}, 409, "version_exists"),
        ("/api/v1/interfaces/power.usb-c/versions", {"version": "0.9.0"}, 409, "version_not_higher"),
        ("/api/v1/interfaces/power.usb-c/versions", {"version": "one"}, 422, "invalid_version"),
        ("/api/v1/interfaces/power.usb-c/versions", {}, 422, "validation_error"),
    ],
)
def test_refused_versions_change_nothing(api: ApiClient, path: str, body: Any, status: int, code: str) -> None:
    before = counts()
    response = api.post(path, body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert counts() == before


def test_operators_get_404_for_unknown_versions(operator_api: ApiClient) -> None:
    response = operator_api.post("/api/v1/interfaces/power.usb-c/versions/7.0.0/accept")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "interface_version_not_found"
