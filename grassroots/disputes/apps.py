from django.apps import AppConfig


class DisputesConfig(AppConfig):
    name = "grassroots.disputes"
    verbose_name = "矛盾纠纷与信访"
