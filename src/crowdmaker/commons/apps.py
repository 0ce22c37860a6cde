"""App config of `commons`."""

from __future__ import annotations

from django.apps import AppConfig


class CommonsConfig(AppConfig):
    name = "crowdmaker.commons"
    label = "commons"
    verbose_name = "Commons of designs"
