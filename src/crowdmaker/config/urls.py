"""URL routing: pages of each app, the operators' admin and the JSON API."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from crowdmaker.commons.models import DesignImage
from crowdmaker.config.api import api, not_found
from crowdmaker.core.media import media_image
from crowdmaker.funding.models import CampaignImage

admin.site.site_header = "Crowdmaker operations"
admin.site.site_title = "Crowdmaker admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    # Uploaded images under MEDIA_URL when the storage is local (with S3, FileField.url points at the bucket),
    # by the folder each app stores them in.
    path(
        f"{settings.MEDIA_URL.strip('/')}/<path:name>",
        media_image,
        {"images": {"designs": DesignImage, "campaigns": CampaignImage}},
        name="media",
    ),
    path("api/v1/", api.urls),
    re_path(r"^api/v1/(?P<rest>.*)$", not_found),
    path("", include("crowdmaker.people.urls")),
    path("", include("crowdmaker.ledger.urls")),
    path("", include("crowdmaker.commons.urls")),
    path("", include("crowdmaker.funding.urls")),
    path("", include("crowdmaker.selection.urls")),
    path("", include("crowdmaker.protocol.urls")),
    path("", include("crowdmaker.core.urls")),
]
