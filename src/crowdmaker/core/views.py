"""Core pages: the home page that shows a newcomer a living platform."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from crowdmaker.people import selectors as people


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "core/home.html",
        {"makers": people.makers_recent(limit=8), "teams": people.teams_recent(limit=6)},
    )
