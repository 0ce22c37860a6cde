"""Importing a Thing Description as the starting manifest of a design, and the registry check of manifests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crowdmaker.core.errors import Invalid
from crowdmaker.protocol.manifest import validate_manifest
from crowdmaker.protocol.selectors import manifest_registry_problems
from crowdmaker.protocol.services import CM_NAMESPACE, MAX_IMPORT_BYTES, manifest_import
from crowdmaker.protocol.tests.corpus import MISSING_REASON, corpus_available, corpus_files

LAMP = {
    "@context": "https://www.w3.org/2022/wot/td/v1.1",
    "title": "Lamp",
    "security": "nosec_sc",
    "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
    "properties": {"on": {"type": "boolean", "forms": [{"href": "mqtt://broker.local/lamp/on"}]}},
}


def test_a_thing_description_becomes_a_starting_manifest() -> None:
    manifest = manifest_import(raw=json.dumps(LAMP).encode())
    assert manifest["@context"] == ["https://www.w3.org/2022/wot/td/v1.1", {"cm": CM_NAMESPACE}]
    assert (manifest["cm:provides"], manifest["cm:requires"], manifest["cm:family"]) == ([], [], [])
    assert manifest["properties"] == LAMP["properties"]  # the TD itself is kept as it is
    assert validate_manifest(manifest) == []


def test_what_the_maker_wrote_is_kept() -> None:
    document = {**LAMP, "@context": [LAMP["@context"], {"cm": "https://example.org/cm#"}], "cm:family": ["home"]}
    manifest = manifest_import(raw=("\ufeff" + json.dumps(document)).encode())  # a UTF-8 BOM is fine
    assert manifest["@context"] == document["@context"]
    assert manifest["cm:family"] == ["home"]


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        (b"{not json", "manifest_not_json", "The file is not JSON: Expecting property name"),
        (b"\xff\xfe{}", "manifest_not_json", "The file is not UTF-8 text."),
        (json.dumps({**LAMP, "title": 3}).encode(), "manifest_invalid", "not valid at /title:"),
        (json.dumps([LAMP]).encode(), "manifest_invalid", "not valid at /:"),
        (b" " * (MAX_IMPORT_BYTES + 1), "file_too_large", "at most 1024 KiB"),
    ],
)
def test_bad_files_are_refused_with_a_pointer(raw: bytes, code: str, message: str) -> None:
    with pytest.raises(Invalid) as refused:
        manifest_import(raw=raw)
    assert refused.value.code == code
    assert message in refused.value.message


@pytest.mark.skipif(not corpus_available(), reason=MISSING_REASON)
def test_every_valid_plugfest_td_imports_and_stays_valid() -> None:
    imported = refused = 0
    for path in corpus_files():
        raw = path.read_bytes()
        try:
            manifest = manifest_import(raw=raw)
        except Invalid:
            refused += 1
            continue
        imported += 1
        assert validate_manifest(manifest) == [], path.name
    assert (imported, refused) == (650, 27)  # exactly the files the official schema accepts (test_conformance)


# --- the registry check ------------------------------------------------------------------------------------


def with_interfaces(provides: list[dict[str, Any]] = (), requires: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {**LAMP, "cm:provides": list(provides), "cm:requires": list(requires)}


@pytest.mark.django_db
def test_registered_interfaces_pass() -> None:
    manifest = with_interfaces(
        provides=[{"interface": "power.usb-c", "version": "1.0", "capacity": {"watts": 60, "ports": 2}}],
        requires=[{"interface": "data.mqtt.broker", "version": ">=1.0.0,<2", "load": {"connections": 1}}],
    )
    assert manifest_registry_problems(manifest) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("entry", "key", "pointer", "reason"),
    [
        ({"interface": "power.warp-core", "version": "1.0.0"}, "provides", "/cm:provides/0/interface",
         "power.warp-core is not in the interface registry"),
        ({"interface": "power.usb-c", "version": "2.0.0"}, "provides", "/cm:provides/0/version",
         "The registry has no version 2.0.0 of power.usb-c (accepted: 1.0.0)."),
        ({"interface": "power.usb-c", "version": "^2.0"}, "requires", "/cm:requires/0/version",
         "The registry has no version of power.usb-c in the range ^2.0 (accepted: 1.0.0)."),
        ({"interface": "power.usb-c", "version": "1.0.0", "capacity": {"amps": 3}}, "provides",
         "/cm:provides/0/capacity/amps", 'power.usb-c has no dimension "amps" (its dimensions: ports, watts).'),
        ({"interface": "power.usb-c", "version": "^1", "load": {"volts": 5}}, "requires",
         "/cm:requires/0/load/volts", 'power.usb-c has no dimension "volts"'),
    ],
)  # fmt: skip
def test_unregistered_interfaces_are_pointed_at(entry: dict[str, Any], key: str, pointer: str, reason: str) -> None:
    manifest = with_interfaces(**{key: [entry]})
    problems = manifest_registry_problems(manifest)
    assert [problem.pointer for problem in problems] == [pointer]
    assert reason in problems[0].reason


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"n": NaN}', "NaN is not a JSON number"),
        (b'{"n": 1e400}', "the number 1e400 is too large"),
        (b'{"n": ' + b"9" * 5000 + b"}", "more than 100 digits"),
        (b"[" * 5000 + b"]" * 5000, "nests too deeply"),
    ],
)
def test_numbers_json_cannot_hold_faithfully_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(Invalid) as refused:
        manifest_import(raw=raw)
    assert refused.value.code == "manifest_not_json"
    assert message in refused.value.message


@pytest.mark.django_db
def test_a_merely_proposed_version_is_not_the_protocol_yet(make_user: Any) -> None:
    from crowdmaker.protocol import services

    maker = make_user("ada")
    services.interface_type_propose(
        actor=maker, name="power.junk-thing", kind="power", description="Not accepted.", version="1.0.0",
        dimensions={"watts": {"unit": "W", "description": "power"}},
    )  # fmt: skip
    manifest = with_interfaces(provides=[{"interface": "power.junk-thing", "version": "1.0.0"}])
    problems = manifest_registry_problems(manifest)
    assert [p.pointer for p in problems] == ["/cm:provides/0/version"]
    assert "(accepted: none)" in problems[0].reason
