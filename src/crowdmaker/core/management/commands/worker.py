"""`crowdmaker worker`: the django-tasks-db worker plus the scheduler loop that enqueues due periodic jobs.

Run as many as you like: tasks are claimed with row locks, and each periodic job is enqueued once per period
however many schedulers tick (see `core.scheduler`).
"""

from __future__ import annotations

import logging
import threading
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from crowdmaker.core.scheduler import registered, scheduler_tick

logger = logging.getLogger("crowdmaker.worker")


def scheduler_loop(stop: threading.Event, tick_seconds: float) -> None:
    logger.info("scheduler: %d periodic jobs registered: %s", len(registered()), ", ".join(sorted(registered())))
    while not stop.is_set():
        try:
            close_old_connections()
            scheduler_tick()
        except Exception:  # keep scheduling: a database hiccup must not end the loop
            logger.exception("scheduler: tick failed; retrying in %.0f s", tick_seconds)
        stop.wait(tick_seconds)
    connection.close()


class Command(DbWorkerCommand):
    help = "Run background tasks and the scheduler of periodic jobs."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--no-scheduler", action="store_true", help="Only run tasks; another worker enqueues periodic jobs."
        )
        parser.set_defaults(reload=False)

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        if not options["no_scheduler"]:
            thread = threading.Thread(
                target=scheduler_loop,
                args=(stop, settings.CROWDMAKER_SCHEDULER_TICK_SECONDS),
                name="crowdmaker-scheduler",
                daemon=True,
            )
            thread.start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
