"""Pictures on a campaign's page: its editors upload them (PNG, JPEG or WebP, the type sniffed from the content, at
most MAX_CAMPAIGN_IMAGE_BYTES each and MAX_CAMPAIGN_IMAGES a campaign), describe them, reorder and delete them, on
a draft or a live campaign alike (images are not terms). The first by position is the cover.

Owns CampaignImage. Files go through `core.images` (checked before anything is written; a row that does not land
leaves no file). Positions stay 0, 1, 2, ... with each campaign's image writes serialised on its row. Never
touches pledges or money.
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Prefetch, QuerySet

from crowdmaker.core.errors import Conflict, Invalid, NotFound
from crowdmaker.core.images import image_check, image_store
from crowdmaker.core.text import clean_text
from crowdmaker.funding.backers import editor_required
from crowdmaker.funding.models import (
    MAX_CAMPAIGN_IMAGE_BYTES,
    MAX_CAMPAIGN_IMAGES,
    Campaign,
    CampaignImage,
    CampaignStatus,
)
from crowdmaker.people.models import User

ALT_MAX_LENGTH = 200  # CampaignImage.alt
# Images change while the page is being made and while backers read it; an ended campaign's page is its record.
IMAGES_EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.LIVE)


def _locked_campaign(*, actor: User, campaign: Campaign) -> Campaign:
    """The campaign's row, locked for this transaction's image writes, once `actor` may edit it and it takes them.

    FOR NO KEY UPDATE: it serialises image writes without blocking the pledges that reference the campaign (their
    foreign-key checks take KEY SHARE, which FOR UPDATE would block during a launch surge)."""
    locked = Campaign.objects.select_for_update(no_key=True).filter(pk=campaign.pk).first()
    if locked is None:
        raise NotFound("No campaign has this address.")
    editor_required(campaign=locked, actor=actor, doing="change its images")
    if locked.status not in IMAGES_EDITABLE:
        raise Conflict("The campaign has ended: its page, images included, stays as backers saw it.",
                       code="campaign_ended")  # fmt: skip
    return locked


def _image_of(campaign: Campaign, image_id: int) -> CampaignImage:
    image = CampaignImage.objects.filter(campaign=campaign, pk=image_id).first()
    if image is None:
        raise NotFound("This campaign has no such image.", field="image")
    return image


def _renumber(images: list[CampaignImage]) -> None:
    """Store positions 0, 1, 2, ... in the order of `images` (only the rows whose position changes)."""
    moved = []
    for position, image in enumerate(images):
        if image.position != position:
            image.position = position
            moved.append(image)
    CampaignImage.objects.bulk_update(moved, ["position"])


def campaign_image_add(*, actor: User, campaign: Campaign, upload: UploadedFile, alt: str = "") -> CampaignImage:
    """Add a picture after the campaign's others (the first one added is the cover).

    Raises Forbidden (`not_editor`), Conflict (`campaign_ended`, `too_many_images`) or Invalid (`file_empty`,
    `file_too_large`, `file_type`, the alt text); nothing is stored then. The file is written only after every
    check and deleted again if its row does not commit."""
    with image_store() as store, transaction.atomic():
        locked = _locked_campaign(actor=actor, campaign=campaign)
        alt = clean_text(alt, field="alt", max_length=ALT_MAX_LENGTH)
        image = image_check(upload, max_bytes=MAX_CAMPAIGN_IMAGE_BYTES)
        count = CampaignImage.objects.filter(campaign=locked).count()
        if count >= MAX_CAMPAIGN_IMAGES:
            raise Conflict(f"A campaign may have at most {MAX_CAMPAIGN_IMAGES} images: delete one first.",
                           code="too_many_images", field="file")  # fmt: skip
        name = store.save(upload, image, folder=f"campaigns/{locked.pk}")
        return CampaignImage.objects.create(campaign=locked, file=name, content_type=image.content_type,
                                            size=image.size, alt=alt, position=count, uploaded_by=actor)  # fmt: skip


@transaction.atomic
def campaign_image_update(*, actor: User, campaign: Campaign, image_id: int, alt: str | None = None,
                          position: int | None = None) -> CampaignImage:  # fmt: skip
    """Change an image's alt text and/or move it to `position` (0: the cover; the others shift to make room).

    Raises Forbidden, Conflict (`campaign_ended`), NotFound (no such image) or Invalid (`nothing_to_change`, the alt
    text, `position_invalid`: outside 0 to the number of images - 1); nothing changes then."""
    if alt is None and position is None:
        raise Invalid("Send the alt text or the position to change.", code="nothing_to_change")
    locked = _locked_campaign(actor=actor, campaign=campaign)
    image = _image_of(locked, image_id)
    if alt is not None:
        image.alt = clean_text(alt, field="alt", max_length=ALT_MAX_LENGTH)
    images = list(CampaignImage.objects.filter(campaign=locked).order_by("position", "id"))
    if position is not None:
        if not 0 <= position < len(images):
            raise Invalid(f"Choose a position from 0 (the cover) to {len(images) - 1}.", code="position_invalid",
                          field="position")  # fmt: skip
        images = [other for other in images if other.pk != image.pk]
        images.insert(position, image)
    else:
        images = [image if other.pk == image.pk else other for other in images]
    if alt is not None:
        image.save(update_fields=["alt"])
    _renumber(images)
    return image


@transaction.atomic
def campaign_image_delete(*, actor: User, campaign: Campaign, image_id: int) -> None:
    """Delete an image (the next one becomes the cover when it was the first); its file is deleted from storage
    once the deletion commits. Raises Forbidden, Conflict (`campaign_ended`) or NotFound; nothing changes then."""
    locked = _locked_campaign(actor=actor, campaign=campaign)
    image = _image_of(locked, image_id)
    name = image.file.name or ""
    image.delete()
    _renumber(list(CampaignImage.objects.filter(campaign=locked).order_by("position", "id")))
    transaction.on_commit(lambda: default_storage.delete(name))


# --- reads ------------------------------------------------------------------------------------------------------


def campaign_images(*, campaign: Campaign) -> QuerySet[CampaignImage]:
    """The campaign's images in their order, the cover first."""
    return CampaignImage.objects.filter(campaign=campaign).order_by("position", "id")


def cover_prefetch() -> Prefetch[str]:
    """Prefetch each campaign's cover (its first image, if any) as `covers`: one query for a whole list."""
    return Prefetch("images", queryset=CampaignImage.objects.order_by("position", "id")[:1], to_attr="covers")
