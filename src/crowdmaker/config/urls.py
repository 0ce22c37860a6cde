"""URL routing: pages of each app, the operators' admin and the JSON API."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path

from crowdmaker.config.api import api, not_found

admin.site.site_header = "Crowdmaker operations"
admin.site.site_title = "Crowdmaker admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    re_path(r"^api/v1/(?P<rest>.*)$", not_found),
    path("", include("crowdmaker.people.urls")),
    path("", include("crowdmaker.ledger.urls")),
    path("", include("crowdmaker.commons.urls")),
    path("", include("crowdmaker.protocol.urls")),
    path("", include("crowdmaker.core.urls")),
]
