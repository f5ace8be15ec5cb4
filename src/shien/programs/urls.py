"""Public URLs of the programs app besides the pages (included from shien.web.urls at programs/)."""

from django.urls import URLPattern, URLResolver, path

from shien.programs import views_documents

urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:program_id>/documents/<int:pk>/", views_documents.download, name="round-document"),
]
