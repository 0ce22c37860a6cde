"""The maker's pages of a campaign's images: the images section of the campaign's edit page (and the same section
as a page of its own, where a refusal is shown), adding one, changing its alt text, moving it, deleting it.

Views parse input with `funding.forms_images` and write through one service of `funding.images`; a refusal is
shown next to the field it concerns and changes nothing. Editors only: anyone else gets a 403 (a draft: 404).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from crowdmaker.core.errors import DomainError, Forbidden
from crowdmaker.funding import images
from crowdmaker.funding.forms_images import CampaignImageAltForm, CampaignImageForm
from crowdmaker.funding.models import MAX_CAMPAIGN_IMAGES, Campaign, CampaignImage
from crowdmaker.funding.views_access import editor_campaign, me

# What each button of an image's form does to its position (given the current one).
MOVES = {"cover": lambda position: 0, "earlier": lambda position: max(position - 1, 0),
         "later": lambda position: position + 1}  # fmt: skip


def images_context(campaign: Campaign, *, form: CampaignImageForm | None = None, failed_image: int | None = None,
                   alt_form: CampaignImageAltForm | None = None) -> dict[str, Any]:  # fmt: skip
    """What the images section shows: the images in order, the add form, and the refused form of one image."""
    shown = list(images.campaign_images(campaign=campaign))
    return {
        "campaign": campaign,
        "images": shown,
        "max_images": MAX_CAMPAIGN_IMAGES,
        "images_editable": campaign.status in images.IMAGES_EDITABLE,
        "image_form": form or CampaignImageForm(),
        "failed_image": failed_image,
        "alt_form": alt_form,
    }


def _done(campaign: Campaign, message: str, request: HttpRequest) -> HttpResponse:
    messages.success(request, message)
    return redirect(reverse("funding:campaign_edit", args=[campaign.slug]) + "#images")


def _refused(request: HttpRequest, campaign: Campaign, exc: DomainError, **context: Any) -> HttpResponse:
    if isinstance(exc, Forbidden):
        raise PermissionDenied(exc.message) from exc
    return render(request, "funding/campaign_images.html", images_context(campaign, **context), status=exc.status)


@login_required
@require_http_methods(["GET", "POST"])
def campaign_images(request: HttpRequest, slug: str) -> HttpResponse:
    """The images section as a page; a POST adds an image."""
    campaign = editor_campaign(request, slug, may="change its images")
    if request.method == "GET":
        return render(request, "funding/campaign_images.html", images_context(campaign))
    form = CampaignImageForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "funding/campaign_images.html", images_context(campaign, form=form), status=400)
    try:
        images.campaign_image_add(actor=me(request), campaign=campaign, upload=form.cleaned_data["file"],
                                  alt=form.cleaned_data["alt"])  # fmt: skip
    except DomainError as exc:
        form.add_domain_error(exc)
        return _refused(request, campaign, exc, form=form)
    return _done(campaign, "The image is added.", request)


@login_required
@require_POST
def campaign_image_change(request: HttpRequest, slug: str, image_id: int) -> HttpResponse:
    """One image's buttons: `action` is save (the alt text), cover, earlier, later or delete."""
    campaign = editor_campaign(request, slug, may="change its images")
    action = request.POST.get("action", "")
    image = CampaignImage.objects.filter(campaign=campaign, pk=image_id).first()
    if image is None:
        raise Http404("This campaign has no such image.")
    alt_form = CampaignImageAltForm(request.POST, prefix=f"image-{image_id}")
    try:
        if action == "delete":
            images.campaign_image_delete(actor=me(request), campaign=campaign, image_id=image_id)
            return _done(campaign, "The image is deleted.", request)
        if action in MOVES:
            images.campaign_image_update(actor=me(request), campaign=campaign, image_id=image_id,
                                         position=MOVES[action](image.position))  # fmt: skip
            return _done(campaign, "The image is moved.", request)
        if action != "save":
            return render(request, "funding/campaign_images.html", images_context(campaign), status=400)
        if not alt_form.is_valid():
            context = images_context(campaign, failed_image=image_id, alt_form=alt_form)
            return render(request, "funding/campaign_images.html", context, status=400)
        images.campaign_image_update(actor=me(request), campaign=campaign, image_id=image_id,
                                     alt=alt_form.cleaned_data["alt"])  # fmt: skip
    except DomainError as exc:
        alt_form.add_domain_error(exc)
        if not alt_form.errors:  # a refusal of the move or the deletion itself
            alt_form.add_error(None, exc.message)
        return _refused(request, campaign, exc, failed_image=image_id, alt_form=alt_form)
    return _done(campaign, "The description is saved.", request)
