"""Pages of crowdfunding: campaigns (public, and the maker's new and edit pages), pledging and a backer's pledges."""

from __future__ import annotations

from django.urls import URLPattern, path

from crowdmaker.funding import views, views_backers, views_dashboard, views_images, views_refunds

app_name = "funding"

urlpatterns: list[URLPattern] = [
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_new, name="campaign_new"),
    # Fixed paths under campaigns/ go above this line, or campaigns/<slug>/ takes them.
    path("campaigns/<str:slug>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<str:slug>/edit/", views.campaign_edit, name="campaign_edit"),
    path("campaigns/<str:slug>/pledge/", views.pledge_new, name="pledge_new"),
    path("campaigns/<str:slug>/images/", views_images.campaign_images, name="campaign_images"),
    path(
        "campaigns/<str:slug>/images/<int:image_id>/", views_images.campaign_image_change, name="campaign_image_change"
    ),
    path("campaigns/<str:slug>/dashboard/", views_dashboard.campaign_dashboard, name="campaign_dashboard"),
    path("pledges/", views.pledge_list, name="pledge_list"),
    path("pledges/<int:pledge_id>/", views.pledge_detail, name="pledge_detail"),
    path("pledges/<int:pledge_id>/thanks/", views.pledge_thanks, name="pledge_thanks"),
    path("pledges/<int:pledge_id>/cancel/", views.pledge_cancel, name="pledge_cancel"),
    # Talking to backers and shipping their rewards (funding.views_backers).
    path("campaigns/<str:slug>/updates/", views_backers.update_list, name="update_list"),
    path("campaigns/<str:slug>/updates/new/", views_backers.update_new, name="update_new"),
    path("campaigns/<str:slug>/updates/<int:number>/", views_backers.update_detail, name="update_detail"),
    path("campaigns/<str:slug>/comments/", views_backers.campaign_comments, name="campaign_comments"),
    path("campaigns/<str:slug>/comments/<int:comment_id>/hide/", views_backers.comment_hide, name="comment_hide"),
    path("campaigns/<str:slug>/comments/<int:comment_id>/unhide/", views_backers.comment_unhide, name="comment_unhide"),
    path("campaigns/<str:slug>/survey/", views_backers.survey_setup, name="survey_setup"),
    path("campaigns/<str:slug>/backers/", views_backers.backers_page, name="backers"),
    path("campaigns/<str:slug>/backers/report.csv", views_backers.backer_report, name="backer_report"),
    path("campaigns/<str:slug>/backers/message/", views_backers.message_new, name="message_new"),
    path(
        "campaigns/<str:slug>/backers/<int:pledge_id>/fulfilment/",
        views_backers.fulfilment_update,
        name="fulfilment_update",
    ),
    path("pledges/<int:pledge_id>/survey/", views_backers.survey_answer, name="survey_answer"),
    # Refunds by the campaign's editors (funding.views_refunds).
    path("campaigns/<str:slug>/backers/<int:pledge_id>/refund/", views_refunds.refund_new, name="refund_new"),
    path("campaigns/<str:slug>/refunds/", views_refunds.refund_list, name="refund_list"),
    path("campaigns/<str:slug>/refunds/<int:refund_id>/retry/", views_refunds.refund_retry, name="refund_retry"),
]
