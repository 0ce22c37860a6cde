"""POST /api/v1/manifests/validate: the manifest validator over the JSON API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crowdmaker.conftest import ApiClient
from crowdmaker.protocol.tests.corpus import MISSING_REASON, TD_FOLDER, corpus_available

URL = "/api/v1/manifests/validate"
MINIMAL = {
    "@context": "https://www.w3.org/2022/wot/td/v1.1",
    "title": "Desk lamp",
    "security": "nosec_sc",
    "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
    "cm:provides": [{"interface": "data.http", "version": "1.0"}],
}

pytestmark = pytest.mark.django_db


def test_a_valid_manifest(api: ApiClient) -> None:
    response = api.post(URL, MINIMAL)

    assert response.status_code == 200
    assert response.json() == {"valid": True, "problems": []}


def test_an_invalid_manifest_gets_pointers_and_reasons(api: ApiClient) -> None:
    response = api.post(URL, {**MINIMAL, "security": [], "cm:provides": [{"interface": "data.http", "version": "x"}]})

    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    assert [problem["pointer"] for problem in body["problems"]] == ["/security", "/cm:provides/0/version"]
    assert body["problems"][0]["reason"] == '"security" must not be an empty array.'


@pytest.mark.parametrize("document", [None, [], "a string", 42])
def test_any_json_value_is_judged(api: ApiClient, document: Any) -> None:
    response = api.post(URL, raw=json.dumps(document))

    assert response.status_code == 200
    assert response.json()["valid"] is False
    assert response.json()["problems"][0]["pointer"] == ""


@pytest.mark.parametrize("raw", ["{not json", "NaN", "\u00ff"])
def test_malformed_json_is_the_apis_invalid_json_error(api: ApiClient, raw: str) -> None:
    response = api.post(URL, raw=raw)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_anonymous_callers_are_refused(api_for: Any) -> None:
    response = api_for(None).post(URL, MINIMAL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.skipif(not corpus_available(), reason=MISSING_REASON)
@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("2020.09.Online__TDs__TUM__ConveyorBelt1.td.jsonld", True),
        ("2022.03.Online__TD__logilab__logilabtdd.td.jsonld", False),
    ],
)
def test_real_plugfest_thing_descriptions(api: ApiClient, name: str, valid: bool) -> None:
    response = api.post(URL, raw=(TD_FOLDER / name).read_text(encoding="utf-8"))

    assert response.status_code == 200
    assert response.json()["valid"] is valid
    if not valid:
        assert {
            "pointer": "/actions/updateTD/forms/0/response",
            "reason": '"response" lacks the required member "contentType".',
        } in response.json()["problems"]


def test_validate_against_the_registry_on_request(api: ApiClient) -> None:
    unknown = {**MINIMAL, "cm:provides": [{"interface": "data.telepathy", "version": "1.0"}]}
    assert api.post(URL, unknown).json() == {"valid": True, "problems": []}  # a valid TD + extension
    checked = api.post(f"{URL}?registry=true", unknown).json()
    assert checked["valid"] is False
    assert [p["pointer"] for p in checked["problems"]] == ["/cm:provides/0/interface"]
    assert api.post(f"{URL}?registry=true", MINIMAL).json() == {"valid": True, "problems": []}


def test_import_a_thing_description(api: ApiClient) -> None:
    plain = {key: value for key, value in MINIMAL.items() if key != "cm:provides"}
    response = api.post("/api/v1/manifests/import", plain)
    assert response.status_code == 200, response.json()
    manifest = response.json()["manifest"]
    assert manifest["title"] == "Desk lamp"
    assert (manifest["cm:provides"], manifest["cm:requires"], manifest["cm:family"]) == ([], [], [])
    refused = api.post("/api/v1/manifests/import", {**plain, "security": 7})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "manifest_invalid"
    assert "/security" in refused.json()["error"]["message"]
