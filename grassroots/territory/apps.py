from django.apps import AppConfig


class TerritoryConfig(AppConfig):
    name = "grassroots.territory"
    verbose_name = "辖区"

    def ready(self) -> None:
        from grassroots.territory import signals  # noqa: F401
