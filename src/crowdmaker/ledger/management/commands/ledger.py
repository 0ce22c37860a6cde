"""`crowdmaker ledger verify` and `crowdmaker ledger export`: the ledger's operator commands."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Check the ledger's invariants (verify) or export it (export --format beancount|csv)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("verify", help="Check every invariant; exit 1 with a report when one fails.")
        export = actions.add_parser("export", help="Write the ledger as Beancount or CSV to standard output.")
        export.add_argument("--format", choices=["beancount", "csv"], required=True)
        export.add_argument("--owner", help="Only this owner's accounts, as kind:id (e.g. team:7).")
        export.add_argument("--output", help="Write to this file instead of standard output.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "verify":
            from crowdmaker.ledger.verify import run_verify

            if not run_verify(out=self.stdout, err=self.stderr):
                raise CommandError("The ledger failed verification (see the report above).", returncode=1)
        elif options["action"] == "export":
            from crowdmaker.ledger.exports import run_export

            run_export(out=self.stdout, err=self.stderr, fmt=options["format"], owner=options["owner"],
                       output=options["output"])  # fmt: skip
