"""Background work of `funding`: settling campaigns at their deadline, finishing pledges left pending, and the
e-mail settlement sends. Tasks are edges: each calls one service. Every task is idempotent (settlement and the
resumption of pledges by construction; a mail is sent only while still true, and a repeat is harmless).
"""

from __future__ import annotations

from django_tasks import task

from crowdmaker.funding import notifications, pledges, refunds, settlement


@task()
def settle_due_campaigns() -> dict[str, int]:
    """Decide, capture or void, retry and distribute every campaign whose deadline has passed (periodic)."""
    return settlement.settle_due_campaigns()


@task()
def pledges_resume_stale() -> dict[str, int]:
    """Finish pledges left pending, so that they follow their campaign's outcome and hold no place for ever."""
    return pledges.pledges_resume_stale()


@task()
def capture_declined_email_send(pledge_id: int, attempt: int) -> None:
    """Tell the backer their card declined the capture; enqueued after commit by settlement."""
    notifications.send_capture_declined_email(pledge_id=pledge_id, attempt=attempt)


@task()
def pledge_dropped_email_send(pledge_id: int) -> None:
    """Tell the backer their pledge was dropped after the grace period; enqueued after commit by settlement."""
    notifications.send_pledge_dropped_email(pledge_id=pledge_id)


@task()
def refunds_resume_stale() -> dict[str, int]:
    """Finish refunds left pending (a request died, the gateway was down), without refunding anyone twice."""
    return refunds.refunds_resume_stale()


@task()
def refund_email_send(refund_id: int) -> None:
    """Tell the backer of a refund and the makers' message; enqueued after commit by `refunds`."""
    notifications.send_refund_email(refund_id=refund_id)
