"""`crowdmaker ledger verify`: run every invariant check and print a report an operator can act on.

It only reads, in one consistent snapshot of the database, so postings that go on meanwhile cannot make it
report a problem that is not there. It never repairs anything: corrections are reversing transactions. It exits
non-zero only when an invariant is broken; warnings (payment steps left pending) are listed and pass.
"""

from __future__ import annotations

import time
from typing import Protocol

from crowdmaker.ledger.models import Account, Leg, Transaction
from crowdmaker.ledger.selectors import INVARIANT_CHECKS, WARNING_CHECKS, InvariantCheck, read_snapshot

# How many problems of one check the report lists before it says "... and N more".
EXAMPLES_PER_CHECK = 10


class Writable(Protocol):
    def write(self, msg: str, /) -> object: ...


def _report(check: InvariantCheck, examples: int, out: Writable, *, label: str) -> bool:
    """Run one check and print its line (and examples); True when it found nothing."""
    started = time.monotonic()
    problems = check.find(limit=examples)
    elapsed = time.monotonic() - started
    if not problems:
        out.write(f"OK      {check.title} ({elapsed:.2f} s)\n")
        return True
    noun = "problem" if problems.total == 1 else "problems"
    out.write(f"{label:<8}{check.title}: {problems.total} {noun} [{check.name}] ({elapsed:.2f} s)\n")
    for example in problems.examples:
        out.write(f"          - {example}\n")
    if problems.total > len(problems.examples):
        out.write(f"          ... and {problems.total - len(problems.examples)} more\n")
    return False


def run_verify(*, out: Writable, err: Writable, examples: int = EXAMPLES_PER_CHECK) -> bool:
    """Print one line per check (OK, or FAILED/WARNING with the problem count and the first examples).

    True if every invariant check passes; a warning check's problems are printed but do not fail the run.
    """
    started = time.monotonic()
    with read_snapshot():
        out.write(
            f"Ledger: {Account.objects.count()} accounts, {Transaction.objects.count()} transactions, "
            f"{Leg.objects.count()} legs\n"
        )
        failed = [check.name for check in INVARIANT_CHECKS if not _report(check, examples, out, label="FAILED")]
        warned = [check.name for check in WARNING_CHECKS if not _report(check, examples, out, label="WARNING")]
    total_time = time.monotonic() - started
    if failed:
        err.write(
            f"ledger verify: {len(failed)} of {len(INVARIANT_CHECKS)} checks failed ({', '.join(failed)}) "
            f"in {total_time:.2f} s\n"
        )
        return False
    warnings = f", with warnings ({', '.join(warned)})" if warned else ""
    out.write(f"Ledger verified: all {len(INVARIANT_CHECKS)} checks passed{warnings} in {total_time:.2f} s\n")
    return True
