from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "grassroots.accounts"
    verbose_name = "账户与权限"

    def ready(self) -> None:
        from grassroots.accounts import signals  # noqa: F401
