"""Conformance of our manifest validator with the official W3C TD 1.1 JSON Schema on the plugfest corpus.

The acceptance criterion of the validator: on the 677 real Thing Descriptions it accepts exactly the files
the official schema accepts (650 valid, 27 invalid), and for each rejected file it says where (a JSON
pointer that resolves in the document) and why. The official schema is read only here, with `jsonschema`.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from crowdmaker.protocol.manifest import validate_manifest
from crowdmaker.protocol.tests.corpus import MISSING_REASON, TD_SCHEMA, corpus_available, corpus_files

pytestmark = pytest.mark.skipif(not corpus_available(), reason=MISSING_REASON)

EXPECTED_VALID, EXPECTED_INVALID = 650, 27  # as the data's README states


@cache
def official_validator() -> Any:
    import jsonschema  # type: ignore[import-untyped]  # test-only dependency; the product never runs the W3C schema

    schema = json.loads(TD_SCHEMA.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)  # Draft 7, from its "$schema"
    validator_class.check_schema(schema)
    return validator_class(schema)


@cache
def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def officially_valid(path: Path) -> bool:
    return official_validator().is_valid(load(path))


def resolve(document: Any, pointer: str) -> Any:
    """The value at an RFC 6901 pointer; raises KeyError/IndexError when it does not resolve."""
    if pointer == "":
        return document
    assert pointer.startswith("/"), pointer
    value = document
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        value = value[int(token)] if isinstance(value, list) else value[token]
    return value


@pytest.mark.parametrize("path", corpus_files(), ids=lambda path: path.name)
def test_validator_agrees_with_the_official_schema(path: Path) -> None:
    document = load(path)

    problems = validate_manifest(document)

    assert (not problems) == officially_valid(path), (
        f"official schema says {'valid' if officially_valid(path) else 'invalid'}; ours says {problems[:3] or 'valid'}"
    )
    for problem in problems:
        resolve(document, problem.pointer)  # every pointer names a place that exists in the document
        assert problem.reason.endswith("."), problem
        assert len(problem.reason) > 10, problem


def test_the_corpus_splits_as_documented() -> None:
    files = corpus_files()
    ours = {path.name for path in files if not validate_manifest(load(path))}
    official = {path.name for path in files if officially_valid(path)}

    assert len(files) == EXPECTED_VALID + EXPECTED_INVALID
    assert sorted(ours - official) == [], "accepted by us, refused by the official schema"
    assert sorted(official - ours) == [], "refused by us, accepted by the official schema"
    assert len(ours) == EXPECTED_VALID


def test_rejections_name_the_defect() -> None:
    """Spot checks of the reasons given for the kinds of defect the corpus holds."""
    by_name = {path.name: path for path in corpus_files()}

    def problems_of(name: str) -> list[tuple[str, str]]:
        return [(p.pointer, p.reason) for p in validate_manifest(load(by_name[name]))]

    gateway = problems_of("2020.09.Online__TDs__UNIBO__gateway.td.jsonld")
    assert gateway == [("/forms", '"forms" must contain at least one form.')]
    hitachi = problems_of("2021.06.Online__TD__TDs__Hitachi__hitachi-acc-air.td.jsonld")
    assert [pointer for pointer, _ in hitachi] == ["/@context"]
    assert "https://www.w3.org/2022/wot/td/v1.1" in hitachi[0][1]
    directory = problems_of("2022.03.Online__TD__logilab__logilabtdd.td.jsonld")
    assert ("/actions/updateTD/forms/0/response", '"response" lacks the required member "contentType".') in directory
