"""Where the tests find the shared reference data (the W3C plugfest TDs and the official TD 1.1 schema).

The data lives next to the repository, in `../shared/data/`, never inside it (its README forbids copies).
"""

from __future__ import annotations

from pathlib import Path


def _repository_root() -> Path:
    here = Path(__file__).resolve()
    for folder in here.parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    return here.parents[4]  # src/crowdmaker/protocol/tests/corpus.py -> the repository


SHARED_DATA = _repository_root().parent / "shared" / "data"
TD_FOLDER = SHARED_DATA / "wot-tds"
TD_SCHEMA = SHARED_DATA / "td-1.1-json-schema-validation.json"
MISSING_REASON = f"the shared reference data is not at {SHARED_DATA} (expected ../shared/data/ beside the repository)"


def corpus_files() -> list[Path]:
    """Every plugfest Thing Description, sorted by name; empty when the data is not there."""
    return (
        sorted(path for path in TD_FOLDER.iterdir() if path.is_file()) if TD_FOLDER.is_dir() else []
    )  # .jsonld and .json


def corpus_available() -> bool:
    return TD_FOLDER.is_dir() and TD_SCHEMA.is_file()
