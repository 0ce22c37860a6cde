"""App config of `selection`: open calls, submissions, votes and buy-intents."""

from __future__ import annotations

from django.apps import AppConfig


class SelectionConfig(AppConfig):
    name = "crowdmaker.selection"
    label = "selection"
    verbose_name = "Community selection"
