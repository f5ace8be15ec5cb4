"""URL patterns of the back office (included from shien.web.urls at office/)."""

from django.urls import URLPattern, URLResolver, path

from shien.applications import views_office as v

urlpatterns: list[URLPattern | URLResolver] = [
    path("", v.home, name="office-home"),
    path("applications/", v.application_list, name="office-list"),
    path("applications/export.csv", v.export_csv, name="office-export-csv"),
    path("applications/export.xlsx", v.export_xlsx, name="office-export-xlsx"),
    path("applications/<int:pk>/", v.application_detail, name="office-application"),
    path("applications/<int:pk>/assign/", v.application_assign, name="office-assign"),
    path("applications/<int:pk>/act/<str:action>/", v.application_act, name="office-act"),
    path("applications/<int:pk>/grant/", v.application_grant, name="office-grant"),
    path("applications/<int:pk>/inspect/", v.application_inspect, name="office-inspect"),
    path("applications/<int:pk>/payment/", v.application_payment, name="office-payment"),
    path(
        "applications/<int:pk>/attachments/<int:attachment_pk>/",
        v.attachment_download,
        name="office-attachment",
    ),
    path("rounds/<str:program>/<str:round_id>/", v.round_dashboard, name="office-round"),
    path("rounds/<str:program>/<str:round_id>/budget/", v.round_budget, name="office-round-budget"),
    path("rounds/<str:program>/<str:round_id>/adopt/", v.round_adopt, name="office-round-adopt"),
    path("reviews/", v.reviews, name="office-reviews"),
    path("reviews/<int:pk>/", v.review_detail, name="office-review"),
    path("reviews/<int:pk>/conflict/", v.review_conflict, name="office-review-conflict"),
    path("reviews/<int:pk>/score/", v.review_score, name="office-review-score"),
]
