"""Pages of community selection: the calls, a call's ranking, a submission with its votes and buy-intents."""

from __future__ import annotations

from django.urls import URLPattern, path

from crowdmaker.selection import views

app_name = "selection"

urlpatterns: list[URLPattern] = [
    path("calls/", views.call_list, name="call_list"),
    path("calls/new/", views.call_new, name="call_new"),
    # Fixed paths under calls/ go above this line, or calls/<slug>/ takes them.
    path("calls/<str:slug>/", views.call_detail, name="call_detail"),
    path("calls/<str:slug>/enter/", views.submission_new, name="submission_new"),
    path("calls/<str:slug>/submissions/<int:submission_id>/", views.submission_detail, name="submission_detail"),
    path("calls/<str:slug>/submissions/<int:submission_id>/vote/", views.vote, name="vote"),
    path("calls/<str:slug>/submissions/<int:submission_id>/intent/", views.intent, name="intent"),
]
