"""`crowdmaker demo-data`: load every app's demo data, showing progress. Safe to run again."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from crowdmaker.core.demo import demo_loaders


class Command(BaseCommand):
    help = "Load demo makers, teams and profiles (and what later apps add) so the platform looks alive."

    def handle(self, *args: Any, **options: Any) -> None:
        loaders = demo_loaders()
        started = time.monotonic()
        for position, loader in enumerate(loaders, start=1):
            self.stdout.write(f"[{position}/{len(loaders)}] {loader.name} ...")
            created = loader.load(lambda line: self.stdout.write(f"      {line}"))
            self.stdout.write(f"      {created} new rows")
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded in {time.monotonic() - started:.1f} s."))
