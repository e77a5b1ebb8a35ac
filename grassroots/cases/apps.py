from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "grassroots.cases"
    verbose_name = "事件与诉求"

    def ready(self) -> None:
        from grassroots.cases import signals  # noqa: F401
