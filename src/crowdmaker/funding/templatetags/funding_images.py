"""Template tags of a campaign's images: the gallery of its page and the images section of its edit page.

An edge like a view: it reads through `funding.images`, never writes.
"""

from __future__ import annotations

from typing import Any

from django import template

from crowdmaker.funding import images
from crowdmaker.funding.models import Campaign
from crowdmaker.funding.views_images import images_context

register = template.Library()


@register.inclusion_tag("funding/_campaign_gallery.html")
def campaign_gallery(campaign: Campaign) -> dict[str, Any]:
    """The campaign's images, the cover first and large, each with its alt text."""
    return {"images": list(images.campaign_images(campaign=campaign))}


@register.inclusion_tag("funding/_campaign_images_edit.html", takes_context=True)
def campaign_images_editor(context: template.Context, campaign: Campaign) -> dict[str, Any]:
    """The edit page's images section: the images with their buttons and the form to add one."""
    return {**images_context(campaign), "request": context.get("request"), "csrf_token": context.get("csrf_token")}
