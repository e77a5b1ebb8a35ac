from django.apps import AppConfig


class FrontConfig(AppConfig):
    name = "grassroots.front"
    verbose_name = "页面"
