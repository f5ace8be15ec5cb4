"""WSGI entry point (gunicorn `shien.web.wsgi:application`).

Imported once in the gunicorn master (`preload_app`) before it forks the workers: this module loads
the code and the rules, and must not open a database connection nor start a thread (each would be
shared by every forked worker). Database work before the server starts (migrate, the demo data) runs
in a process of its own (`shien.web.server`).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shien.web.settings")
application = get_wsgi_application()

from shien.rules.engine import warm_up  # noqa: E402

warm_up()  # before gunicorn forks its workers (preload_app)
