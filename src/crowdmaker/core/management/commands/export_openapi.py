"""`crowdmaker export-openapi`: write the JSON API's OpenAPI document to docs/openapi.json, or with `--check`
fail when the committed file no longer matches the code. It only reads the API; it never touches the database.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from ninja.responses import NinjaJSONEncoder

import crowdmaker

# src/crowdmaker/__init__.py -> the repository root, where docs/ lives in a checkout.
DEFAULT_OUTPUT = Path(crowdmaker.__file__).resolve().parents[2] / "docs" / "openapi.json"
DIFF_LINES_SHOWN = 40


def openapi_document() -> str:
    """The OpenAPI document as committed: sorted keys, two-space indent, one trailing newline."""
    from crowdmaker.config.api import api

    schema = api.get_openapi_schema()
    return json.dumps(schema, cls=NinjaJSONEncoder, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


class Command(BaseCommand):
    help = "Write the API's OpenAPI document to docs/openapi.json; --check fails if the file is out of date."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"Default: {DEFAULT_OUTPUT}")
        parser.add_argument(
            "--check", action="store_true", help="Write nothing; exit non-zero if the file differs from the code."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        output: Path = options["output"]
        document = openapi_document()
        if options["check"]:
            self._check(output, document)
            return
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(document, encoding="utf-8")
        self.stdout.write(self.style.SUCCESS(f"Wrote {output}"))

    def _check(self, output: Path, document: str) -> None:
        if not output.exists():
            raise CommandError(f"{output} does not exist; run `crowdmaker export-openapi` and commit it.")
        committed = output.read_text(encoding="utf-8")
        if committed == document:
            self.stdout.write(self.style.SUCCESS(f"{output} matches the API."))
            return
        diff = list(
            difflib.unified_diff(
                committed.splitlines(), document.splitlines(), "committed", "from the code", lineterm="", n=1
            )
        )
        shown = "\n".join(diff[:DIFF_LINES_SHOWN])
        more = f"\n... and {len(diff) - DIFF_LINES_SHOWN} more lines" if len(diff) > DIFF_LINES_SHOWN else ""
        raise CommandError(
            f"{output} is out of date with the API code. Run `crowdmaker export-openapi` and commit the result.\n"
            f"{shown}{more}"
        )
