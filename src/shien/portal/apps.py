from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "shien.portal"
    label = "portal"
    verbose_name = "ポータル"
