from django.apps import AppConfig


class GeneratorConfig(AppConfig):
    name = "grassroots.generator"
    verbose_name = "演示城市生成器"
