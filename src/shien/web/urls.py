from django.urls import path

from shien.core import views as core_views
from shien.web.api import api

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("api/v1/", api.urls),
]
