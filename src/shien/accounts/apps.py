from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "shien.accounts"
    label = "accounts"
    verbose_name = "アカウント・事業者"
