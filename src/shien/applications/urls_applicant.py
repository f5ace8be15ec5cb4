"""URL patterns of this module (included from shien.web.urls at `applications/`): the applicant's side
of the lifecycle after the draft (様式4, 交付申請, 実績報告, 取下げ, 計画変更) and saved 診断."""

from django.urls import URLPattern, URLResolver, path

from shien.applications import views
from shien.navigator import views as navigator

urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:pk>/attachments/<int:attachment_id>/", views.attachment_download, name="attachment-download"),
    path(
        "<int:pk>/attachments/<int:attachment_id>/delete/", views.attachment_delete, name="attachment-delete"
    ),
    path("<int:pk>/form4/", views.form4_issue, name="form4-issue"),
    path("<int:pk>/grant-request/", views.grant_request, name="grant-request"),
    path("<int:pk>/report/", views.results_report, name="results-report"),
    path("<int:pk>/withdraw/", views.application_withdraw, name="application-withdraw"),
    path("<int:pk>/changes/new/", views.change_new, name="change-new"),
    path("<int:pk>/changes/<int:change_id>/", views.change_decide, name="change-decide"),
    path("<int:pk>/changes/<int:change_id>/withdraw/", views.change_withdraw, name="change-withdraw"),
    path("diagnoses/save/", navigator.diagnosis_save, name="diagnosis-save"),
    path("diagnoses/apply/", views.diagnosis_apply, name="diagnosis-apply"),
    path("diagnoses/<int:diagnosis_id>/apply/", views.diagnosis_apply_saved, name="diagnosis-apply-saved"),
    path("diagnoses/<int:diagnosis_id>/delete/", views.diagnosis_delete, name="diagnosis-delete"),
]
