"""Core background work. Every task is idempotent: running it twice leaves the same state as once."""

from __future__ import annotations

from django_tasks import task

from crowdmaker.core import idempotency, services


@task()
def throttle_prune() -> int:
    """Delete throttle events older than the throttle window; they no longer count."""
    return services.throttle_prune()


@task()
def idempotency_prune() -> int:
    """Delete Idempotency-Key records past their expiry; their keys are free again."""
    return idempotency.idempotency_prune()
