"""The organization page and its members and advisor consents (included at /organizations/)."""

from django.urls import URLPattern, path

from shien.accounts import views_org as views

urlpatterns: list[URLPattern] = [
    path("<int:pk>/", views.organization_detail, name="organization-detail"),
    path("<int:pk>/edit/", views.organization_edit, name="organization-edit"),
    path("<int:pk>/members/", views.member_invite, name="member-add"),
    path(
        "<int:pk>/invitations/<int:invitation_pk>/cancel/", views.invitation_cancel, name="invitation-cancel"
    ),
    path("invitations/<int:invitation_pk>/answer/", views.invitation_answer, name="invitation-answer"),
    path("<int:pk>/members/<int:membership_pk>/remove/", views.member_remove, name="member-remove"),
    path("<int:pk>/members/<int:membership_pk>/kind/", views.member_kind, name="member-kind"),
    path("<int:pk>/consents/", views.consent_grant, name="consent-grant"),
    path("<int:pk>/consents/<int:consent_pk>/revoke/", views.consent_revoke, name="consent-revoke"),
]
