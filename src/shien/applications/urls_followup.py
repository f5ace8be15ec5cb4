"""URL patterns of this module (included from shien.web.urls at `applications/`)."""

from django.urls import URLPattern, URLResolver, path

from shien.applications import views_followup as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("followups/", views.followup_office, name="followup-office"),
    path("<int:pk>/followup/", views.followup_page, name="followup"),
    path("<int:pk>/followup/<int:year>/", views.followup_submit, name="followup-submit"),
    path("<int:pk>/followup/<int:year>/preview/", views.followup_preview, name="followup-preview"),
    path("<int:pk>/calendar.ics", views.application_ics, name="application-ics"),
]
