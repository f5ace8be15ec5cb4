"""Test settings: the production settings, with plain static files and fast password hashing."""

from shien.web.settings import *  # noqa: F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# tasks run at once: mail is in mail.outbox when the committing call returns
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
