"""Pages of the protocol: the interface registry."""

from __future__ import annotations

from django.urls import URLPattern, path  # noqa: F401 - used as the page modules add their routes

app_name = "protocol"

urlpatterns: list[URLPattern] = []
