"""`crowdmaker manifest validate FILE...`: one line per valid file or per problem; exit 1 if any is invalid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crowdmaker.protocol.tests.corpus import MISSING_REASON, TD_FOLDER, corpus_available

MINIMAL = {
    "@context": "https://www.w3.org/2022/wot/td/v1.1",
    "title": "Desk lamp",
    "security": "nosec_sc",
    "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
}


def run(*files: Path | str) -> tuple[int, list[str]]:
    out = StringIO()
    try:
        call_command("manifest", "validate", *map(str, files), stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue().splitlines()
    return 0, out.getvalue().splitlines()


def test_valid_files_exit_zero(tmp_path: Path) -> None:
    lamp = tmp_path / "lamp.json"
    lamp.write_text(json.dumps(MINIMAL))

    assert run(lamp, lamp) == (0, [f"{lamp}: valid", f"{lamp}: valid"])


def test_each_problem_is_one_line_and_the_exit_code_is_one(tmp_path: Path) -> None:
    lamp, broken = tmp_path / "lamp.json", tmp_path / "broken.json"
    lamp.write_text(json.dumps(MINIMAL))
    broken.write_text(json.dumps({**MINIMAL, "title": 1, "links": [{"rel": "icon"}]}))

    code, lines = run(lamp, broken)

    assert code == 1
    assert lines == [
        f"{lamp}: valid",
        f'{broken}: invalid /title "title" must be a string, not 1.',
        f'{broken}: invalid /links/0 A link lacks the required member "href".',
    ]


def test_files_that_are_not_json_or_cannot_be_read_are_invalid_not_a_crash(tmp_path: Path) -> None:
    text, binary, missing = tmp_path / "notes.txt", tmp_path / "image.png", tmp_path / "missing.json"
    text.write_text("this is not json")
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")

    code, lines = run(text, binary, missing, tmp_path)

    assert code == 1
    assert lines[0].startswith(f'{text}: invalid "" The document is not valid JSON')
    assert lines[1] == f'{binary}: invalid "" The file is not UTF-8 text.'
    assert lines[2] == f'{missing}: invalid "" The file cannot be read: No such file or directory.'
    assert lines[3].startswith(f'{tmp_path}: invalid "" The file cannot be read:')


def test_a_document_that_is_not_an_object_is_reported_at_the_root(tmp_path: Path) -> None:
    array = tmp_path / "array.json"
    array.write_text("[]")

    assert run(array) == (1, [f'{array}: invalid "" A Thing Description must be a JSON object, not [].'])


@pytest.mark.skipif(not corpus_available(), reason=MISSING_REASON)
def test_the_console_script_over_corpus_files() -> None:
    valid = TD_FOLDER / "2020.09.Online__TDs__TUM__ConveyorBelt1.td.jsonld"
    invalid = TD_FOLDER / "2020.09.Online__TDs__UNIBO__gateway.td.jsonld"
    script = Path(sys.executable).with_name("crowdmaker")

    result = subprocess.run(  # noqa: S603 - our own console script with corpus paths
        [str(script), "manifest", "validate", str(valid), str(invalid)],
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "crowdmaker.config.settings.test"},
        timeout=120,
        check=False,
    )

    assert result.stdout.splitlines() == [
        f"{valid}: valid",
        f'{invalid}: invalid /forms "forms" must contain at least one form.',
    ]
    assert result.returncode == 1
    assert "1 of 2 manifests are invalid" in result.stderr
