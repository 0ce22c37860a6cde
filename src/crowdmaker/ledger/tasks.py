"""Background work of `ledger`. Every task is idempotent: running it twice leaves the same state as once.

Tasks are edges: each calls one service and never talks to the payment gateway itself.
"""

from __future__ import annotations

from django_tasks import task

from crowdmaker.ledger import payments


@task()
def payments_resume_stale() -> dict[str, int]:
    """Finish payment steps and payouts that were left pending (gateway down, client gone, process killed)."""
    return payments.payments_resume_stale()
