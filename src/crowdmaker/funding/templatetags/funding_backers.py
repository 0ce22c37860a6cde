"""Template tags of the campaign page's backers section: its latest updates (backers-only ones readable by the
backers they address and the editors), the signed-in backer's survey, the editors' tools and the comments.

An edge like a view: it reads through the selectors of `funding.updates` and `funding.surveys`, never writes.
"""

from __future__ import annotations

from typing import Any

from django import template

from crowdmaker.funding import selectors, surveys, updates
from crowdmaker.funding.backers import campaign_editor_ids
from crowdmaker.funding.forms_backers import CommentForm
from crowdmaker.funding.models import Campaign, CampaignStatus, Comment, Update
from crowdmaker.people.models import User

register = template.Library()

LATEST_UPDATES = 3  # on the campaign page; the rest on the updates page


@register.inclusion_tag("funding/update_section.html", takes_context=True)
def campaign_backers_section(context: template.Context, campaign: Campaign) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    viewer = user if isinstance(user, User) else None
    can_edit = selectors.campaign_can_edit(campaign=campaign, user=viewer)
    page = updates.comments_page(campaign=campaign, viewer=viewer)
    return {
        "campaign": campaign,
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "published": campaign.status != CampaignStatus.DRAFT,
        "updates": updates.updates_for(campaign=campaign, viewer=viewer, limit=LATEST_UPDATES),
        "update_count": Update.objects.filter(campaign=campaign).count(),
        "can_edit": can_edit,
        "editor_ids": campaign_editor_ids(campaign=campaign),
        "survey_pledges": surveys.surveys_of_backer(backer=viewer, campaign=campaign) if viewer else [],
        "page": page,
        "can_moderate": page.can_moderate,
        "comment_count": Comment.objects.filter(campaign=campaign, parent__isnull=True).count(),
        "can_comment": updates.comment_can_post(campaign=campaign, user=viewer),
        "comment_form": CommentForm(),
    }
