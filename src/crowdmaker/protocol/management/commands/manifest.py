"""`crowdmaker manifest validate FILE...`: check manifests (TD 1.1 + our extension) from the command line.

Prints one line per file when it is valid (`PATH: valid`) and one line per problem when it is not
(`PATH: invalid POINTER REASON`, the document's root shown as `""`); exits 0 when every file is valid and
1 otherwise. A file that cannot be read or is not JSON is reported as invalid, never as a crash.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from crowdmaker.protocol.manifest import ParsedManifest, Problem, parse_manifest

ROOT_POINTER = '""'  # the empty pointer (the whole document), printed visibly so the line keeps its columns


def read_manifest(path: Path) -> ParsedManifest:
    """Read and validate one manifest file; unreadable or undecodable files become a problem at the root."""
    try:
        text = path.read_bytes().decode("utf-8-sig")  # tolerate a byte-order mark, as JSON parsers may
    except OSError as error:
        return ParsedManifest(document=None, problems=[Problem("", f"The file cannot be read: {error.strerror}.")])
    except UnicodeDecodeError:
        return ParsedManifest(document=None, problems=[Problem("", "The file is not UTF-8 text.")])
    return parse_manifest(text)


class Command(BaseCommand):
    help = "Validate manifests (W3C WoT Thing Description 1.1 plus the cm: extension): manifest validate FILE..."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        validate = actions.add_parser(
            "validate", help="One line per file (PATH: valid) or per problem (PATH: invalid POINTER REASON)."
        )
        validate.add_argument("files", nargs="+", metavar="FILE", help="Manifest files (JSON or JSON-LD).")

    def handle(self, *args: Any, **options: Any) -> None:
        invalid = 0
        for name in options["files"]:
            manifest = read_manifest(Path(name))
            if manifest.valid:
                self.stdout.write(f"{name}: valid")
                continue
            invalid += 1
            for problem in manifest.problems:
                pointer = problem.pointer or ROOT_POINTER
                self.stdout.write(f"{name}: invalid {pointer} {problem.reason}")
        if invalid:
            raise CommandError(f"{invalid} of {len(options['files'])} manifests are invalid.", returncode=1)
