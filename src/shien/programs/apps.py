from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "shien.programs"
    label = "programs"
    verbose_name = "制度"
