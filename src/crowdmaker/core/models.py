"""Core tables: throttle events (counted across all web processes) and the schedule of periodic jobs."""

from __future__ import annotations

from django.db import models


class ThrottleEvent(models.Model):
    """One counted attempt (a failed sign-in, a sign-up) by one client key within a throttle scope."""

    scope = models.CharField(max_length=40)
    key = models.CharField(max_length=64, help_text="SHA-256 of the client identity, never the raw value.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["scope", "key", "created_at"], name="core_throttle_lookup")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key[:8]} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class PeriodicJob(models.Model):
    """When a registered periodic job is next due; rows are locked so only one scheduler enqueues it."""

    name = models.CharField(max_length=100, unique=True)
    next_run_at = models.DateTimeField()
    last_enqueued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
