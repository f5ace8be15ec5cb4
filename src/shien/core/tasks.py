"""Background tasks other than the emails (those are `shien.core.notifications.send_notification_email`).

They run in the task worker (`shien manage db_worker`, started by `shien serve`); with the immediate
queue of the tests, at once.
"""

from __future__ import annotations

import io

from django.core.management import call_command
from django_tasks import task


@task(priority=-10)  # after the emails
def make_round_summaries(program: str) -> str:
    """One program's round summaries (PDF) for the demo: the demo's server starts without waiting for
    them (WeasyPrint takes about a second a round)."""
    out = io.StringIO()
    call_command("make_round_summaries", "--demo", "--program", program, stdout=out)
    return out.getvalue().strip()
