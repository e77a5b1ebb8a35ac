from django.apps import AppConfig


class LibConfig(AppConfig):
    """Shared mechanisms (privacy, workers, limits, idempotency). An app only so that the
    mechanisms that keep state (rate counters, idempotency keys) own their tables."""

    name = "grassroots.lib"
    label = "lib"
    verbose_name = "公共机制"
