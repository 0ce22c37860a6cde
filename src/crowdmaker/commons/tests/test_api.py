"""The commons API: shapes, public reads, refusals (401/403/404/409/422) and no N+1 on the catalog."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crowdmaker.commons import services
from crowdmaker.commons.models import Citation, Design, DesignVersion
from crowdmaker.commons.tests.conftest import BOM, manifest
from crowdmaker.conftest import ApiClient
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db


def body(**extra: Any) -> dict[str, Any]:
    return {
        "slug": "desk-lamp",
        "title": "Desk lamp",
        "summary": "A lamp for the desk.",
        "licence": "CC-BY-SA-4.0",
        "tags": ["lighting"],
        "manifest": manifest(provides=["data.mqtt.actuator.light"], requires=["power.usb-c"], family=["smart-home"]),
        "bom": BOM,
        **extra,
    }


def test_create_and_read_a_design(api: ApiClient, api_for: Callable[..., ApiClient]) -> None:
    response = api.post("/api/v1/designs", body(description="<b>bold</b>"))
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["slug"] == "desk-lamp"
    assert data["owner"] == {"kind": "maker", "handle": "ada", "name": "Ada Okafor"}
    assert data["latest_version"]["number"] == 1
    assert data["latest_version"]["bom"] == BOM
    assert data["interfaces"] == ["data.mqtt.actuator.light", "power.usb-c"]
    assert data["families"] == ["smart-home"]
    assert data["description_html"] == "<p>&lt;b&gt;bold&lt;/b&gt;</p>"
    assert data["attribution"] == [
        {"slug": "desk-lamp", "title": "Desk lamp", "owner": "Ada Okafor", "licence": "CC-BY-SA-4.0",
         "licence_name": "Creative Commons Attribution-ShareAlike 4.0", "version": None},
    ]  # fmt: skip
    assert data["lineage"] == {"ancestors": [], "descendants": [], "truncated": False}
    anonymous = api_for(None)
    assert anonymous.get("/api/v1/designs/desk-lamp").status_code == 200
    assert anonymous.get("/api/v1/designs/desk-lamp/versions/1").json()["manifest"]["title"] == "Desk lamp"
    assert anonymous.get("/api/v1/designs/desk-lamp/versions").json()["results"][0]["number"] == 1
    assert [d["slug"] for d in anonymous.get("/api/v1/designs?family=smart-home").json()["results"]] == ["desk-lamp"]
    assert anonymous.get("/api/v1/designs?family=garden").json()["results"] == []


def test_write_refusals(api: ApiClient, api_for: Callable[..., ApiClient], other_user: User) -> None:
    anonymous = api_for(None)
    assert anonymous.post("/api/v1/designs", body()).status_code == 401
    assert api_for(other_user, "read").post("/api/v1/designs", body()).json()["error"]["code"] == "token_read_only"
    bad = manifest()
    bad["cm:requires"] = "power.usb-c"
    response = api.post("/api/v1/designs", body(manifest=bad))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "manifest_invalid"
    assert "/cm:requires" in response.json()["error"]["message"]
    assert api.post("/api/v1/designs", body(licence="WTFPL")).json()["error"]["code"] == "licence_unknown"
    assert api.post("/api/v1/designs", body(extra=1)).status_code == 422
    assert api.post("/api/v1/designs", body()).status_code == 201
    conflict = api.post("/api/v1/designs", body())
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "slug_taken"
    other = api_for(other_user)
    assert other.post("/api/v1/designs/desk-lamp/versions", {"manifest": manifest()}).status_code == 403
    assert api.post("/api/v1/designs/no-such/versions", {"manifest": manifest()}).status_code == 404
    assert api.get("/api/v1/designs/desk-lamp/versions/9").status_code == 404
    assert api.post("/api/v1/designs", body(slug="team-lamp", team="no-team")).status_code == 404
    published = api.post("/api/v1/designs/desk-lamp/versions", {"manifest": manifest(), "release_notes": "v2"})
    assert published.status_code == 201
    assert published.json()["number"] == 2


def test_fork_through_the_api(api: ApiClient, api_for: Callable[..., ApiClient], other_user: User) -> None:
    api.post("/api/v1/designs", body())
    api.post("/api/v1/designs", body(slug="nd-lamp", licence="CC-BY-ND-4.0"))
    other = api_for(other_user)
    before = (Design.objects.count(), DesignVersion.objects.count())
    refused = other.post(
        "/api/v1/designs/nd-lamp/fork", {"version": 1, "slug": "my-nd", "title": "Mine", "licence": "CC-BY-ND-4.0"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "licence_no_derivatives"
    share_alike = other.post(
        "/api/v1/designs/desk-lamp/fork", {"version": 1, "slug": "my-lamp", "title": "Mine", "licence": "MIT"}
    )
    assert share_alike.status_code == 422
    assert share_alike.json()["error"] == {
        "code": "licence_share_alike",
        "message": "CC-BY-SA-4.0 is share-alike: a fork must be licensed CC-BY-SA-4.0 or GPL-3.0-or-later, not MIT.",
        "field": "licence",
    }
    assert (
        other.post(
            "/api/v1/designs/desk-lamp/fork", {"version": 7, "slug": "x-lamp", "title": "X", "licence": "CC-BY-SA-4.0"}
        ).status_code
        == 404
    )
    assert (Design.objects.count(), DesignVersion.objects.count()) == before
    fork = other.post(
        "/api/v1/designs/desk-lamp/fork",
        {"version": 1, "slug": "my-lamp", "title": "My lamp", "licence": "CC-BY-SA-4.0"},
    )
    assert fork.status_code == 201
    data = fork.json()
    assert data["forked_from"] == {"slug": "desk-lamp", "title": "Desk lamp", "version": 1}
    assert [a["slug"] for a in data["attribution"]] == ["my-lamp", "desk-lamp"]
    assert data["lineage"]["ancestors"] == [{"slug": "desk-lamp", "title": "Desk lamp"}]
    upstream = api.get("/api/v1/designs/desk-lamp").json()
    assert upstream["fork_count"] == 1
    assert upstream["lineage"]["descendants"] == [
        {"slug": "my-lamp", "title": "My lamp", "forked_from_version": 1, "children": []}
    ]


def test_catalog_filters_sort_and_pagination(
    user: User, other_user: User, make_design: Callable[..., Design], api_for: Callable[..., ApiClient],
    django_assert_max_num_queries: Any,
) -> None:  # fmt: skip
    for index in range(12):
        make_design(user if index % 2 else other_user, f"lamp-{index}", title=f"Lamp number {index}",
                    tags=["lighting"] if index % 3 == 0 else [],
                    manifest=manifest(provides=["power.usb-c"] if index == 5 else []))  # fmt: skip
    upstream = Design.objects.get(slug="lamp-3").versions.get()
    services.design_fork(actor=other_user, upstream=upstream, slug="fork-a", title="Fork A", licence="CC-BY-4.0")
    services.design_fork(actor=other_user, upstream=upstream, slug="fork-b", title="Fork B", licence="CC-BY-4.0")
    anonymous = api_for(None)
    with django_assert_max_num_queries(3):
        page = anonymous.get("/api/v1/designs?page_size=5").json()
    assert [d["slug"] for d in page["results"]] == ["fork-b", "fork-a", "lamp-11", "lamp-10", "lamp-9"]
    assert page["results"][0]["owner"]["name"] == "Bruno Lindqvist"
    assert page["results"][0]["forked_from"] == {"slug": "lamp-3", "title": "Lamp number 3", "version": 1}
    seen = [d["slug"] for d in page["results"]]
    while page["next"]:
        page = anonymous.get(page["next"]).json()
        seen += [d["slug"] for d in page["results"]]
    assert len(seen) == len(set(seen)) == 14
    popular = anonymous.get("/api/v1/designs?sort=popular&page_size=2").json()
    assert popular["results"][0]["slug"] == "lamp-3"
    assert popular["results"][0]["fork_count"] == 2
    assert anonymous.get(popular["next"]).status_code == 200
    assert [d["slug"] for d in anonymous.get("/api/v1/designs?interface=power.usb-c").json()["results"]] == ["lamp-5"]
    assert len(anonymous.get("/api/v1/designs?tag=lighting").json()["results"]) == 6  # 4 + two forks copy the tag
    assert [d["slug"] for d in anonymous.get("/api/v1/designs?q=usb-c").json()["results"]] == ["lamp-5"]
    assert len(anonymous.get("/api/v1/designs?licence=CC-BY-4.0").json()["results"]) == 14
    assert anonymous.get("/api/v1/designs?sort=sideways").status_code == 422


def test_licences(api_for: Callable[..., ApiClient]) -> None:
    licences = api_for(None).get("/api/v1/licences").json()
    by_id = {licence["spdx"]: licence for licence in licences}
    assert by_id["CC-BY-ND-4.0"]["derivatives"] is False
    assert by_id["CC-BY-SA-4.0"]["derivative_licences"] == ["CC-BY-SA-4.0", "GPL-3.0-or-later"]
    assert len(licences) == 13


def test_edit_a_design(api: ApiClient, api_for: Callable[..., ApiClient], other_user: User) -> None:
    assert api.post("/api/v1/designs", body(description="old")).status_code == 201
    response = api.patch("/api/v1/designs/desk-lamp", {"title": "Desk lamp II", "tags": ["Lighting", "desk"]})
    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["title"], data["tags"], data["summary"]) == (
        "Desk lamp II",
        ["lighting", "desk"],
        "A lamp for the desk.",
    )
    assert data["description_html"] == "<p>old</p>"  # fields not sent stay as they were
    assert DesignVersion.objects.filter(design__slug="desk-lamp").count() == 1  # editing publishes nothing


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"title": ""}, 422, "validation_error"),
        ({"title": None}, 422, "validation_error"),
        ({"tags": ["Not a tag!"]}, 422, "invalid"),
        ({"slug": "renamed"}, 422, "validation_error"),
        ({"summary": "x" * 301}, 422, "validation_error"),
    ],
)
def test_edit_refusals_change_nothing(api: ApiClient, change: dict[str, Any], status: int, code: str) -> None:
    assert api.post("/api/v1/designs", body()).status_code == 201
    before = Design.objects.values().get(slug="desk-lamp")
    response = api.patch("/api/v1/designs/desk-lamp", change)
    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code
    assert Design.objects.values().get(slug="desk-lamp") == before


def test_only_editors_may_edit(api: ApiClient, api_for: Callable[..., ApiClient], other_user: User) -> None:
    assert api.post("/api/v1/designs", body()).status_code == 201
    before = Design.objects.values().get(slug="desk-lamp")
    assert api_for(other_user).patch("/api/v1/designs/desk-lamp", {"title": "Mine"}).status_code == 403
    assert api_for(None).patch("/api/v1/designs/desk-lamp", {"title": "Mine"}).status_code == 401
    assert api.patch("/api/v1/designs/no-such", {"title": "Mine"}).status_code == 404
    assert Design.objects.values().get(slug="desk-lamp") == before


def test_cite_through_the_api(api: ApiClient, api_for: Callable[..., ApiClient], other_user: User) -> None:
    assert api.post("/api/v1/designs", body()).status_code == 201
    assert api.post("/api/v1/designs", body(slug="shade", title="Shade")).status_code == 201
    response = api.post("/api/v1/designs/shade/citations", {"cited": "desk-lamp", "note": "Same hinge."})
    assert response.status_code == 201, response.json()
    assert response.json()["cited"] == "desk-lamp"
    assert api.get("/api/v1/designs/shade").json()["cites"] == [{"slug": "desk-lamp", "title": "Desk lamp"}]
    refusals = [
        (api, "shade", {"cited": "desk-lamp"}, 409, "already_cited"),
        (api, "shade", {"cited": "shade"}, 422, "citation_self"),
        (api, "shade", {"cited": "no-such"}, 422, "cited_unknown"),
        (api_for(other_user), "shade", {"cited": "desk-lamp"}, 403, "not_owner"),
        (api, "no-such", {"cited": "desk-lamp"}, 404, "not_found"),
    ]
    for client, slug, payload, status, code in refusals:
        refused = client.post(f"/api/v1/designs/{slug}/citations", payload)
        assert (refused.status_code, refused.json()["error"]["code"]) == (status, code), payload
    assert Citation.objects.count() == 1
