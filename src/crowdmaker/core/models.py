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


class IdempotencyRecord(models.Model):
    """The first request under one caller's Idempotency-Key, and its response once there is one.

    The row is inserted and committed before the work starts, so a second request with the same key finds it:
    in flight while `response_status` is null, replayed from the stored response afterwards.
    """

    scope = models.CharField(max_length=64, help_text="Whose key it is, e.g. user:42.")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path, query and body.")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Null while in flight.")
    response_body = models.BinaryField(default=bytes)
    response_content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint("scope", "key", name="core_idempotency_one_per_caller_key"),
            models.CheckConstraint(condition=~models.Q(key=""), name="core_idempotency_key_set"),
            models.CheckConstraint(
                condition=models.Q(response_status__isnull=True, completed_at__isnull=True)
                | models.Q(response_status__isnull=False, completed_at__isnull=False),
                name="core_idempotency_completed_with_response",
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="core_idempotency_expiry")]

    def __str__(self) -> str:
        return f"{self.scope} {self.method} {self.path} ({self.response_status or 'in flight'})"
