"""Background work of `people`. Every task is idempotent."""

from __future__ import annotations

from django_tasks import task

from crowdmaker.people import services


@task()
def team_invitations_expire() -> int:
    """Mark pending invitations past their expiry as expired."""
    return services.team_invitations_expire()
