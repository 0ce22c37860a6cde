"""`crowdmaker ledger verify`: run every invariant check and print a report an operator can act on.

It only reads, in one consistent snapshot of the database, so postings that go on meanwhile cannot make it
report a problem that is not there. It never repairs anything: corrections are reversing transactions.
"""

from __future__ import annotations

import time
from typing import Protocol

from crowdmaker.ledger.models import Account, Leg, Transaction
from crowdmaker.ledger.selectors import INVARIANT_CHECKS, read_snapshot

# How many problems of one check the report lists before it says "... and N more".
EXAMPLES_PER_CHECK = 10


class Writable(Protocol):
    def write(self, msg: str, /) -> object: ...


def run_verify(*, out: Writable, err: Writable, examples: int = EXAMPLES_PER_CHECK) -> bool:
    """Print one line per check (OK, or FAILED with the problem count and the first examples); True if all pass."""
    started = time.monotonic()
    failed: list[str] = []
    with read_snapshot():
        out.write(
            f"Ledger: {Account.objects.count()} accounts, {Transaction.objects.count()} transactions, "
            f"{Leg.objects.count()} legs\n"
        )
        for check in INVARIANT_CHECKS:
            check_started = time.monotonic()
            problems = check.find(limit=examples)
            elapsed = time.monotonic() - check_started
            if not problems:
                out.write(f"OK      {check.title} ({elapsed:.2f} s)\n")
                continue
            failed.append(check.name)
            noun = "problem" if problems.total == 1 else "problems"
            out.write(f"FAILED  {check.title}: {problems.total} {noun} [{check.name}] ({elapsed:.2f} s)\n")
            for example in problems.examples:
                out.write(f"          - {example}\n")
            if problems.total > len(problems.examples):
                out.write(f"          ... and {problems.total - len(problems.examples)} more\n")
    total_time = time.monotonic() - started
    if failed:
        err.write(
            f"ledger verify: {len(failed)} of {len(INVARIANT_CHECKS)} checks failed ({', '.join(failed)}) "
            f"in {total_time:.2f} s\n"
        )
        return False
    out.write(f"Ledger verified: all {len(INVARIANT_CHECKS)} checks passed in {total_time:.2f} s\n")
    return True
