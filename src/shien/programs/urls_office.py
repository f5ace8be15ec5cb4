"""The secretariat's pages for round documents (included from shien.web.urls at office/documents/)."""

from django.urls import URLPattern, URLResolver, path

from shien.programs import views_documents as v

urlpatterns: list[URLPattern | URLResolver] = [
    path("", v.index, name="office-documents"),
    path("<str:program>/<str:round_id>/", v.round_documents, name="office-round-documents"),
    path(
        "<str:program>/<str:round_id>/<int:pk>/remove/",
        v.round_document_remove,
        name="office-round-document-remove",
    ),
]
