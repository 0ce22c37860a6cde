"""The scheduler enqueues each due periodic job once per period, however many schedulers tick at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from crowdmaker.core import scheduler
from crowdmaker.core.models import PeriodicJob

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@task()
def probe() -> int:
    return 1


@pytest.fixture
def only_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "_registry", {})
    scheduler.register_periodic(name="test.probe", task=probe, every=timedelta(minutes=10))


def _probe_runs() -> int:
    return DBTaskResult.objects.filter(task_path__endswith="test_scheduler.probe").count()


@override_settings(TASKS=DB_TASKS)
def test_a_new_job_is_due_at_once_then_once_per_period(db: None, only_probe: None) -> None:
    start = timezone.now()

    assert scheduler.scheduler_tick(now=start) == ["test.probe"]
    assert scheduler.scheduler_tick(now=start + timedelta(minutes=9)) == []
    assert scheduler.scheduler_tick(now=start + timedelta(minutes=10)) == ["test.probe"]

    assert _probe_runs() == 2
    job = PeriodicJob.objects.get(name="test.probe")
    assert job.next_run_at == start + timedelta(minutes=20)
    assert job.last_enqueued_at == start + timedelta(minutes=10)


@override_settings(TASKS=DB_TASKS)
def test_missed_periods_are_not_enqueued_as_a_backlog(db: None, only_probe: None) -> None:
    start = timezone.now()
    scheduler.scheduler_tick(now=start)

    assert scheduler.scheduler_tick(now=start + timedelta(hours=5)) == ["test.probe"]

    assert _probe_runs() == 2


@override_settings(TASKS=DB_TASKS)
def test_concurrent_schedulers_enqueue_a_due_job_once(transactional_db: None, only_probe: None) -> None:
    now = timezone.now()
    PeriodicJob.objects.create(name="test.probe", next_run_at=now - timedelta(seconds=1))
    barrier = threading.Barrier(4)
    results: list[list[str]] = []

    def tick() -> None:
        try:
            barrier.wait()
            results.append(scheduler.scheduler_tick(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(len(names) for names in results) == [0, 0, 0, 1]
    assert _probe_runs() == 1


def test_a_job_needs_a_positive_interval(only_probe: None) -> None:
    with pytest.raises(ValueError, match="positive interval"):
        scheduler.register_periodic(name="test.never", task=probe, every=timedelta(0))
    assert "test.never" not in scheduler.registered()


def test_apps_register_their_periodic_jobs() -> None:
    assert {"core.throttle_prune", "people.team_invitations_expire"} <= set(scheduler.registered())
