from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "grassroots.ledger"
    verbose_name = "一标三实台账"
