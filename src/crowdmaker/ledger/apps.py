"""App config of `ledger`."""

from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "crowdmaker.ledger"
    label = "ledger"
    verbose_name = "Ledger"
