"""Forms of the selection pages: a score, a buy-intent's price, an entry into a call and a new call.

A price is typed in major units of the call's currency ("12.50") and becomes integer minor units exactly (the
commons' Decimal parser, never a float). Rules of the domain stay in `selection.services`; a form only parses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.utils import timezone

from crowdmaker.commons.forms import BomLineError, amount_to_minor
from crowdmaker.commons.services import EDITOR_ROLES
from crowdmaker.ledger.money import CURRENCIES
from crowdmaker.people.forms import ServiceForm
from crowdmaker.people.models import Membership, Team, User
from crowdmaker.selection.models import (
    BRIEF_MAX_LENGTH,
    FAMILY_MAX_LENGTH,
    MAX_PRIOR_WEIGHT,
    MAX_SCORE,
    MAX_TOP_N,
    MIN_SCORE,
    PITCH_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    ThresholdKind,
)

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows
SCORE_CHOICES = [(score, str(score)) for score in range(MIN_SCORE, MAX_SCORE + 1)]


class VoteForm(ServiceForm):
    score = forms.TypedChoiceField(
        label="Score from 1 (poor) to 5 (excellent)", choices=SCORE_CHOICES, coerce=int, widget=forms.RadioSelect,
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


def organizer_teams(user: User) -> list[tuple[str, str]]:
    """The teams `user` may open a call for (owner or maintainer): (slug, name)."""
    return list(
        Membership.objects.filter(user=user, role__in=EDITOR_ROLES)
        .order_by("team__name")
        .values_list("team__slug", "team__name")
    )


def _datetime_field(label: str, help_text: str) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label, help_text=help_text, input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
    )  # fmt: skip


PLATFORM = ""  # the organizer choice "the platform" (a team is chosen by its slug)


class CallForm(ServiceForm):
    """A new call: organized by a team where the actor is owner or maintainer, or (staff) by the platform."""

    field_aliases = {"team": "organizer"}
    organizer = forms.ChoiceField(label="Organized by", required=False)
    slug = forms.CharField(label="Address", max_length=50, help_text="The call's page will be /calls/the-address/.")
    title = forms.CharField(label="Title", max_length=TITLE_MAX_LENGTH)
    brief = forms.CharField(label="Brief", required=False, max_length=BRIEF_MAX_LENGTH,
                            widget=forms.Textarea(attrs={"rows": 8}), help_text="What the designs should do (Markdown).")  # fmt: skip
    opens_at = _datetime_field("Opens", "Date and time in UTC; entries, votes and buy-intents are taken from then.")
    closes_at = _datetime_field("Closes", "Date and time in UTC; the ranking is final then.")
    required_family = forms.CharField(label="Required family", required=False, max_length=FAMILY_MAX_LENGTH,
                                      help_text="A family (cm:family) every entry must claim; empty: any design.")  # fmt: skip
    currency = forms.ChoiceField(label="Currency", choices=[(code, code) for code in CURRENCIES], initial="EUR",
                                 help_text="Buy-intents in this call are stated in it.")  # fmt: skip
    threshold_kind = forms.ChoiceField(label="Production threshold by", choices=ThresholdKind.choices)
    threshold = forms.CharField(
        label="Threshold", max_length=20,
        help_text="A number of buy-intents, or their total value in the currency above (e.g. 5000.00).",
    )  # fmt: skip
    prior_weight = forms.IntegerField(label="Prior weight C", initial=10, min_value=1, max_value=MAX_PRIOR_WEIGHT,
                                      help_text="How many votes of the call's mean every submission starts with.")  # fmt: skip
    top_n = forms.IntegerField(label="Promoted at the close", initial=3, min_value=0, max_value=MAX_TOP_N,
                               help_text="How many of the best ranked go on to production.")  # fmt: skip

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(PLATFORM, "Crowdmaker (the platform)")] if user.is_staff else []
        choices += [(slug, f"Team {name}") for slug, name in organizer_teams(user)]
        field = self.fields["organizer"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def clean_organizer(self) -> Team | None:
        slug = self.cleaned_data["organizer"]
        return None if slug == PLATFORM else Team.objects.get(slug=slug)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        text, kind, currency = data.get("threshold", ""), data.get("threshold_kind"), data.get("currency")
        if text and kind == ThresholdKind.INTENTS_COUNT:
            if not text.strip().isdigit():
                self.add_error("threshold", "A number of buy-intents is a whole number, e.g. 200.")
            else:
                data["threshold"] = int(text.strip())
        elif text and kind and currency:
            try:
                data["threshold"] = amount_to_minor(text.strip(), currency)
            except BomLineError as error:
                self.add_error("threshold", str(error))
        for name in ("opens_at", "closes_at"):
            if isinstance(data.get(name), datetime) and timezone.is_naive(data[name]):
                data[name] = timezone.make_aware(data[name], UTC)
        return data

    def add_domain_error(self, error: Any) -> None:
        name = (error.field or "").split(".", 1)[0]
        name = self.field_aliases.get(name, name)
        self.add_error(name if name in self.fields else None, error.message)
