"""JSON API of a campaign's pictures: its editors add one (multipart), change its alt text or position, delete it.
Reading them is part of the campaign's own output (`funding.api`, `images`).

A router of its own, mounted beside `funding.api`'s; handlers parse input and call one service of
`funding.images`, never write themselves. A draft's images are 404 to anyone but its editors, like the draft.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, File, Form, Router, Status, UploadedFile

from crowdmaker.core.api import InputSchema
from crowdmaker.funding import images, selectors
from crowdmaker.funding.api import ERRORS, CampaignImageOut
from crowdmaker.funding.models import MAX_CAMPAIGN_IMAGE_BYTES, MAX_CAMPAIGN_IMAGES, Campaign, CampaignImage
from crowdmaker.people.auth import signed_in_user

router = Router(tags=["funding"])


class CampaignImageIn(InputSchema):
    alt: str | None = Field(None, max_length=images.ALT_MAX_LENGTH, description="New alt text; omitted: unchanged.")
    position: int | None = Field(
        None, ge=0, description="Where to move it, 0 (the cover) to the number of images - 1; omitted: unchanged."
    )


def _editable(request: HttpRequest, slug: str) -> Campaign:
    return selectors.campaign_visible(slug=slug, viewer=signed_in_user(request))


@router.post(
    "/campaigns/{slug}/images",
    response={201: CampaignImageOut, **ERRORS},
    summary=f"Add a picture to a campaign's page (editors; PNG, JPEG or WebP, at most "
    f"{MAX_CAMPAIGN_IMAGE_BYTES // (1024 * 1024)} MiB, {MAX_CAMPAIGN_IMAGES} a campaign; multipart form). The first "
    "is the cover.",
)
def campaign_image_add(request: HttpRequest, slug: str, file: File[UploadedFile], alt: Form[str] = "") -> Status:
    image = images.campaign_image_add(actor=signed_in_user(request), campaign=_editable(request, slug), upload=file,
                                      alt=alt)  # fmt: skip
    return Status(201, image)


@router.patch(
    "/campaigns/{slug}/images/{image_id}",
    response={200: CampaignImageOut, **ERRORS},
    summary="Change a campaign picture's alt text or position (editors)",
)
def campaign_image_update(request: HttpRequest, slug: str, image_id: int, payload: CampaignImageIn) -> CampaignImage:
    return images.campaign_image_update(actor=signed_in_user(request), campaign=_editable(request, slug),
                                        image_id=image_id, alt=payload.alt, position=payload.position)  # fmt: skip


@router.delete(
    "/campaigns/{slug}/images/{image_id}",
    response={204: None, **ERRORS},
    summary="Delete a campaign picture (editors); the next one becomes the cover if it was the first",
)
def campaign_image_delete(request: HttpRequest, slug: str, image_id: int) -> Status:
    images.campaign_image_delete(actor=signed_in_user(request), campaign=_editable(request, slug), image_id=image_id)
    return Status(204, None)
