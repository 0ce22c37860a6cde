"""Forms of a campaign's images on the maker's pages: adding one (a file and its alt text) and changing one's alt
text. They parse what the browser sends into what `funding.images` takes; the rules (type, size, number) stay
there, and its refusals are shown next to the field they name.
"""

from __future__ import annotations

from django import forms

from crowdmaker.commons.forms import ImageForm
from crowdmaker.funding.forms import FundingForm
from crowdmaker.funding.images import ALT_MAX_LENGTH
from crowdmaker.funding.models import MAX_CAMPAIGN_IMAGE_BYTES

ALT_HELP = "For people who cannot see it, e.g. “The lamp, lit, on a desk”."


class CampaignImageForm(ImageForm):
    """A design's image form with the campaign's limit (the checks themselves are `core.images`')."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["file"].help_text = f"PNG, JPEG or WebP, at most {MAX_CAMPAIGN_IMAGE_BYTES // (1024 * 1024)} MiB."
        self.fields["alt"].help_text = ALT_HELP


class CampaignImageAltForm(FundingForm):
    alt = forms.CharField(label="Description", required=False, max_length=ALT_MAX_LENGTH, help_text=ALT_HELP)
