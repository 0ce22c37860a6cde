"""Pages of the protocol: the interface registry."""

from __future__ import annotations

from django.urls import URLPattern, path

from crowdmaker.protocol import views

app_name = "protocol"

urlpatterns: list[URLPattern] = [
    path("interfaces/", views.interface_list, name="interface_list"),
    # "new" is no interface name (a name has at least two dotted segments), so it cannot hide a type's page.
    path("interfaces/new/", views.interface_propose, name="interface_propose"),
    path("interfaces/<str:name>/", views.interface_detail, name="interface_detail"),
    path("interfaces/<str:name>/versions/new/", views.interface_version_propose, name="interface_version_propose"),
    path(
        "interfaces/<str:name>/versions/<str:version>/accept/",
        views.interface_version_accept,
        name="interface_version_accept",
    ),
    path(
        "interfaces/<str:name>/versions/<str:version>/deprecate/",
        views.interface_version_deprecate,
        name="interface_version_deprecate",
    ),
]
