from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "shien.applications"
    label = "applications"
    verbose_name = "申請"
