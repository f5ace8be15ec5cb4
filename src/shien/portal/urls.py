"""The portal's addresses: the inbox, the personal calendar feed and the development mailbox (included
from shien.web.urls at the site root; the home page is routed there directly).

The personal calendar feed `calendar/u/<token>.ics` must be routed before the program calendars'
`calendar/<program>/<frame>.ics`, which would otherwise take it (see shien.web.urls).
"""

from django.urls import URLPattern, URLResolver, path

from shien.applications import views_followup
from shien.core import devmail
from shien.portal import views_inbox

urlpatterns: list[URLPattern | URLResolver] = [
    path("inbox/", views_inbox.inbox, name="inbox"),
    path("inbox/read-all/", views_inbox.inbox_read_all, name="inbox-read-all"),
    path("inbox/<int:pk>/", views_inbox.inbox_open, name="inbox-open"),
    path("inbox/<int:pk>/read/", views_inbox.inbox_read, name="inbox-read"),
    path("calendar/u/<str:token>.ics", views_followup.user_ics, name="calendar-user"),
    path("dev/mail/", devmail.mailbox, name="dev-mailbox"),  # the demo and DEBUG only (otherwise 404)
    path("dev/mail/<str:name>", devmail.mailbox_message, name="dev-mailbox-message"),
]
