"""The committed OpenAPI document (docs/openapi.json) matches the code, and `export-openapi` keeps it so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from crowdmaker.core.management.commands.export_openapi import DEFAULT_OUTPUT, openapi_document


def test_committed_openapi_document_matches_the_code() -> None:
    # If this fails: run `crowdmaker export-openapi` and commit docs/openapi.json.
    call_command("export_openapi", "--check")


def test_served_schema_is_the_committed_one(db: None) -> None:
    served = Client().get("/api/v1/openapi.json").json()

    assert served == json.loads(DEFAULT_OUTPUT.read_text(encoding="utf-8"))


def test_export_writes_a_stable_document_that_check_accepts(tmp_path: Path) -> None:
    output = tmp_path / "nested" / "openapi.json"

    call_command("export_openapi", "--output", str(output))

    text = output.read_text(encoding="utf-8")
    assert text == openapi_document()
    assert text.endswith("}\n")
    assert text.startswith('{\n  "components"')  # keys sorted, two-space indent
    call_command("export_openapi", "--check", "--output", str(output))


def test_check_fails_clearly_when_the_file_drifts(tmp_path: Path) -> None:
    output = tmp_path / "openapi.json"
    document = json.loads(openapi_document())
    document["info"]["title"] = "Stale title"
    output.write_text(json.dumps(document, sort_keys=True, indent=2) + "\n", encoding="utf-8")

    with pytest.raises(CommandError, match="out of date") as refused:
        call_command("export_openapi", "--check", "--output", str(output))

    assert "Stale title" in str(refused.value)
    assert "crowdmaker export-openapi" in str(refused.value)


def test_check_fails_when_the_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_openapi", "--check", "--output", str(tmp_path / "missing.json"))
