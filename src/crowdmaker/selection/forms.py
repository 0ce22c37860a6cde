"""Forms of the selection pages: a score, a buy-intent's price and an entry into a call.

A price is typed in major units of the call's currency ("12.50") and becomes integer minor units exactly (the
commons' Decimal parser, never a float). Rules of the domain stay in `selection.services`; a form only parses.
"""

from __future__ import annotations

from typing import Any

from django import forms

from crowdmaker.commons.forms import BomLineError, amount_to_minor
from crowdmaker.people.forms import ServiceForm
from crowdmaker.selection.models import MAX_SCORE, MIN_SCORE, PITCH_MAX_LENGTH

SCORE_CHOICES = [(score, str(score)) for score in range(MIN_SCORE, MAX_SCORE + 1)]


class VoteForm(ServiceForm):
    score = forms.TypedChoiceField(
        label="Your score", choices=SCORE_CHOICES, coerce=int, widget=forms.RadioSelect,
        error_messages={"required": "Choose a score from 1 to 5.", "invalid_choice": "Choose a score from 1 to 5."},
    )  # fmt: skip


class IntentForm(ServiceForm):
    price = forms.CharField(
        label="I would buy it at", max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )  # fmt: skip

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["price"].help_text = f"In {currency}, e.g. 49.90. Non-binding: nothing is charged."

    def clean_price(self) -> int:
        try:
            return amount_to_minor(self.cleaned_data["price"].strip(), self.currency)
        except BomLineError as error:
            raise forms.ValidationError(str(error), code="amount") from error


class EntryForm(ServiceForm):
    design_version = forms.TypedChoiceField(label="Design version", coerce=int)
    pitch = forms.CharField(
        label="Pitch", max_length=PITCH_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Why this design answers the brief (Markdown).",
    )  # fmt: skip

    def __init__(self, *args: Any, versions: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.versions = {version.pk: version for version in versions}
        field = self.fields["design_version"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(v.pk, f"{v.design.title} — version {v.number}") for v in versions]

    def clean_design_version(self) -> Any:
        return self.versions[self.cleaned_data["design_version"]]
