"""Test settings: the production settings, with plain static files and fast password hashing."""

from shien.web.settings import *  # noqa: F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SHIEN_MAIL_DELIVERY = "immediate"  # mail is in mail.outbox when the committing call returns
