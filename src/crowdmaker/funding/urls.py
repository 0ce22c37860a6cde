"""Pages of crowdfunding: campaigns (public, and the maker's new and edit pages), pledging and a backer's pledges."""

from __future__ import annotations

from django.urls import URLPattern, path

from crowdmaker.funding import views

app_name = "funding"

urlpatterns: list[URLPattern] = [
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_new, name="campaign_new"),
    # Fixed paths under campaigns/ go above this line, or campaigns/<slug>/ takes them.
    path("campaigns/<str:slug>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<str:slug>/edit/", views.campaign_edit, name="campaign_edit"),
    path("campaigns/<str:slug>/pledge/", views.pledge_new, name="pledge_new"),
    path("pledges/", views.pledge_list, name="pledge_list"),
    path("pledges/<int:pledge_id>/", views.pledge_detail, name="pledge_detail"),
    path("pledges/<int:pledge_id>/thanks/", views.pledge_thanks, name="pledge_thanks"),
    path("pledges/<int:pledge_id>/cancel/", views.pledge_cancel, name="pledge_cancel"),
]
