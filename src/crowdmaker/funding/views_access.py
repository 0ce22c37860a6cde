"""Who is asking and which campaign they may see or run: the request helpers the funding pages share (a draft
is 404 to all but its editors; an editor-only page is 403 to everyone else)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from crowdmaker.core.errors import NotFound
from crowdmaker.funding import selectors
from crowdmaker.funding.models import Campaign
from crowdmaker.people.models import User


def me(request: HttpRequest) -> User:
    """The signed-in member (for views behind login_required)."""
    user = request.user
    assert isinstance(user, User)  # callers are behind login_required
    return user


def viewer(request: HttpRequest) -> User | None:
    """The signed-in member, or None for an anonymous visitor."""
    return request.user if isinstance(request.user, User) else None


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
