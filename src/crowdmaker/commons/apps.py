"""App config of `commons`: a web process builds the engine's catalog index when it starts (core.warmup)."""

from __future__ import annotations

from django.apps import AppConfig


class CommonsConfig(AppConfig):
    name = "crowdmaker.commons"
    label = "commons"
    verbose_name = "Commons of designs"

    def ready(self) -> None:
        from crowdmaker.commons import systems
        from crowdmaker.core.warmup import register_warmup

        register_warmup("commons: the catalog index", systems.catalog_index)
