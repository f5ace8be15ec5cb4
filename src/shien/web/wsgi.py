"""WSGI entry point (gunicorn `shien.web.wsgi:application`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shien.web.settings")
application = get_wsgi_application()

from shien.rules.engine import warm_up  # noqa: E402

warm_up()  # before gunicorn forks its workers (preload_app)
