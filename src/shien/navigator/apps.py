from django.apps import AppConfig


class NavigatorConfig(AppConfig):
    name = "shien.navigator"
    label = "navigator"
    verbose_name = "診断"
