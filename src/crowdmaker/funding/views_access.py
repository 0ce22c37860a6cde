"""Which campaign the one asking may see or run: the request helpers the funding pages share (a draft is 404 to
all but its editors; an editor-only page is 403 to everyone else). `me` and `viewer` are people.auth's, re-exported
for the funding views."""

from __future__ import annotations

__all__ = ["editor_campaign", "me", "viewer", "visible_campaign"]

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from crowdmaker.core.errors import NotFound
from crowdmaker.funding import selectors
from crowdmaker.funding.models import Campaign
from crowdmaker.people.auth import signed_in_user as me
from crowdmaker.people.auth import viewer


def visible_campaign(request: HttpRequest, slug: str) -> Campaign:
    """The campaign at `slug` as the viewer may see it; Http404 for a missing one and for someone else's draft."""
    try:
        return selectors.campaign_visible(slug=slug, viewer=viewer(request))
    except NotFound as exc:
        raise Http404(exc.message) from exc


def editor_campaign(request: HttpRequest, slug: str, *, may: str) -> Campaign:
    """The campaign at `slug` for one of its editors; PermissionDenied ("Only the campaign's owners and
    maintainers may <may>.") for anyone else."""
    campaign = visible_campaign(request, slug)
    if not selectors.campaign_can_edit(campaign=campaign, user=viewer(request)):
        raise PermissionDenied(f"Only the campaign's owners and maintainers may {may}.")
    return campaign
