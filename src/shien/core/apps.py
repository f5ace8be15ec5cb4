from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "shien.core"
    label = "core"
    verbose_name = "基盤"
