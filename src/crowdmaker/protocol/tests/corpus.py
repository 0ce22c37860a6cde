"""Where the tests find the shared reference data (the W3C plugfest TDs and the official TD 1.1 schema).

The data lives next to the repository, in `../shared/data/`, never inside it (its README forbids copies).
"""

from __future__ import annotations

import os
from pathlib import Path


def _repository_root() -> Path:
    here = Path(__file__).resolve()
    for folder in here.parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    return here.parents[4]  # src/crowdmaker/protocol/tests/corpus.py -> the repository


def _shared_data() -> Path:
    """`CROWDMAKER_SHARED_DATA` if set, else `../shared/data` beside the repository, else the workplace's copy.

    A clone made elsewhere (CI clones into a fresh folder) still finds the data on this machine.
    """
    configured = os.environ.get("CROWDMAKER_SHARED_DATA")
    candidates = [Path(configured)] if configured else []
    candidates += [_repository_root().parent / "shared" / "data", Path("/work/shared/data")]
    return next((folder for folder in candidates if (folder / "wot-tds").is_dir()), candidates[0])


SHARED_DATA = _shared_data()
TD_FOLDER = SHARED_DATA / "wot-tds"
TD_SCHEMA = SHARED_DATA / "td-1.1-json-schema-validation.json"
MISSING_REASON = f"the shared reference data is not at {SHARED_DATA} (expected ../shared/data/ beside the repository)"


def corpus_files() -> list[Path]:
    """Every plugfest Thing Description, sorted by name; empty when the data is not there."""
    return (
        sorted(path for path in TD_FOLDER.iterdir() if path.is_file()) if TD_FOLDER.is_dir() else []
    )  # .jsonld and .json


def corpus_available() -> bool:
    """Whether to run the corpus tests: always in CI (CROWDMAKER_REQUIRE_SHARED_DATA=1, so missing data fails
    loudly there), elsewhere only when the data is present."""
    if os.environ.get("CROWDMAKER_REQUIRE_SHARED_DATA"):
        return True
    return TD_FOLDER.is_dir() and TD_SCHEMA.is_file()
