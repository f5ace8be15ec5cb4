from django.urls import include, path, re_path

from shien.accounts import views as accounts
from shien.applications import views as applications
from shien.core import views as core_views
from shien.navigator import views as navigator
from shien.portal import views as portal
from shien.programs import downloads, feeds, views
from shien.programs import views_jgrants as jg
from shien.web.api import api

urlpatterns = [
    path("", portal.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("programs/", views.program_list, name="program-list"),
    path("programs.csv", downloads.programs_csv, name="programs-csv"),
    path("programs.xlsx", downloads.programs_xlsx, name="programs-xlsx"),
    path("programs/<str:program_id>/", views.program_detail, name="program-detail"),
    path("programs/", include("shien.programs.urls")),  # round documents (公募要領・様式)
    path("schedule/", views.schedule, name="schedule"),
    path("compare/", views.compare, name="compare"),
    path("shindan/", navigator.shindan, name="shindan"),
    path("shindan/result/", navigator.result, name="shindan-result"),
    path("feeds/news.atom", feeds.NewsFeed(), name="feed-news"),
    path("", include("shien.portal.urls")),  # inbox, personal calendar feeds (before calendar/<program>)
    path("calendar/deadlines.ics", feeds.ics_all, name="ics-all"),
    path("calendar/<str:program_id>.ics", feeds.ics_program, name="ics-program"),
    path("calendar/<str:program_id>/<str:frame_id>.ics", feeds.ics_frame, name="ics-frame"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/", include("shien.accounts.urls")),  # two-factor, OpenID Connect
    path("accounts/", include("django.contrib.auth.urls")),
    path("mypage/", portal.mypage, name="mypage"),
    path("organizations/new/", accounts.organization_new, name="organization-new"),
    path("organizations/", include("shien.accounts.urls_org")),  # facts, members, advisor consent
    path("applications/new/", applications.application_new, name="application-new"),
    path("applications/<int:pk>/", applications.application_detail, name="application-detail"),
    path("applications/<int:pk>/autosave/", applications.application_autosave, name="application-autosave"),
    path("applications/<int:pk>/attachments/", applications.attachment_upload, name="attachment-upload"),
    path("applications/<int:pk>/submit/", applications.application_submit, name="application-submit"),
    path("applications/", include("shien.applications.urls_applicant")),  # 様式4, grant, reports, changes
    path("applications/", include("shien.applications.urls_followup")),  # 事業化状況報告・効果報告
    path("office/documents/", include("shien.programs.urls_office")),  # round documents
    path("office/", include("shien.applications.urls_office")),  # secretariat and reviewers
    path("api/v1/", api.urls),
    # jGrants-compatible read API
    path("exp/v1/public/subsidies", jg.subsidies, name="jgrants-subsidies"),
    path("exp/v1/public/subsidies/id/<str:subsidy_id>", jg.subsidy_v1, name="jgrants-subsidy-v1"),
    path("exp/v2/public/subsidies/id/<str:subsidy_id>", jg.subsidy_v2, name="jgrants-subsidy-v2"),
    re_path(r"^exp/(?P<rest>.*)$", jg.not_found),
]
