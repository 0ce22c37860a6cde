"""Demo data: each domain app registers a loader in its own `demo.py`; `crowdmaker demo-data` runs them all.

Loaders are idempotent (they look rows up by natural key before creating them), so a second run adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.utils.module_loading import autodiscover_modules

Report = Callable[[str], None]


@dataclass(frozen=True)
class DemoLoader:
    name: str
    order: int
    load: Callable[[Report], int]


_loaders: dict[str, DemoLoader] = {}


def register_demo(*, name: str, order: int, load: Callable[[Report], int]) -> None:
    _loaders[name] = DemoLoader(name=name, order=order, load=load)


def demo_loaders() -> list[DemoLoader]:
    autodiscover_modules("demo")
    return sorted(_loaders.values(), key=lambda loader: (loader.order, loader.name))


def demo_data_missing() -> bool:
    """True on a fresh database: nobody has signed up yet."""
    return not get_user_model().objects.exists()
