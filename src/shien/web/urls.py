from django.urls import path, re_path

from shien.core import views as core_views
from shien.programs import views_jgrants as jg
from shien.web.api import api

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("api/v1/", api.urls),
    # jGrants-compatible read API
    path("exp/v1/public/subsidies", jg.subsidies, name="jgrants-subsidies"),
    path("exp/v1/public/subsidies/id/<str:subsidy_id>", jg.subsidy_v1, name="jgrants-subsidy-v1"),
    path("exp/v2/public/subsidies/id/<str:subsidy_id>", jg.subsidy_v2, name="jgrants-subsidy-v2"),
    re_path(r"^exp/(?P<rest>.*)$", jg.not_found),
]
