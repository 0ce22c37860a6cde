"""App config of `protocol`."""

from __future__ import annotations

from django.apps import AppConfig


class ProtocolConfig(AppConfig):
    name = "crowdmaker.protocol"
    label = "protocol"
    verbose_name = "Protocol"
