"""Pages of the commons: the catalog, designs and their versions, forms to publish and remix, and systems."""

from __future__ import annotations

from django.urls import URLPattern, path  # noqa: F401 - used as the page modules add their routes

app_name = "commons"

urlpatterns: list[URLPattern] = []
