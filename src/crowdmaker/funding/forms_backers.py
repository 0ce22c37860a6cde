"""Forms of the pages where makers talk to backers and ship their rewards: an update, a comment or reply (and hiding
one), a message
to a group of backers, the survey's opening (options per reward, lock date), a backer's answer, a reward's
fulfilment status.

A form parses what the browser sends into what `funding.updates`, `funding.surveys` and `funding.fulfilment`
take; the rules stay in those services, and their refusals are shown next to the field they name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.utils import timezone

from crowdmaker.core.errors import DomainError
from crowdmaker.funding.countries import COUNTRIES
from crowdmaker.funding.forms import DATETIME_FORMAT, FundingForm
from crowdmaker.funding.models import (
    COMMENT_MAX_LENGTH,
    MESSAGE_BODY_MAX_LENGTH,
    SURVEY_TEXT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    UPDATE_BODY_MAX_LENGTH,
    FulfilmentStatus,
    MessageAudience,
    SurveyQuestion,
    SurveyResponse,
    Tier,
    UpdateAudience,
)
from crowdmaker.funding.surveys import INTRO_MAX_LENGTH, SURVEY_MAX_LOCK, AddressIn, QuestionIn
from crowdmaker.funding.updates import COMMENT_REASON_MAX_LENGTH

MARKDOWN_HELP = "Markdown: **bold**, *italic*, [a link](https://example.org), lists with “- ”."


def _tier_choices(tiers: list[Tier]) -> list[tuple[str, str]]:
    return [(str(tier.pk), tier.title) for tier in tiers]


class UpdateForm(FundingForm):
    title = forms.CharField(label="Title", max_length=TITLE_MAX_LENGTH)
    body = forms.CharField(label="Text", max_length=UPDATE_BODY_MAX_LENGTH, help_text=MARKDOWN_HELP,
                           widget=forms.Textarea(attrs={"rows": 12}))  # fmt: skip
    audience = forms.ChoiceField(label="Who may read it", choices=UpdateAudience.choices, widget=forms.RadioSelect,
                                 initial=UpdateAudience.PUBLIC)  # fmt: skip
    tiers = forms.MultipleChoiceField(
        label="E-mail it to the backers of",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: every backer. A backers-only update can be read only by the backers it is sent to.",
    )

    def __init__(self, *args: Any, tiers: list[Tier], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.campaign_tiers = {str(tier.pk): tier for tier in tiers}
        self.fields["tiers"].choices = _tier_choices(tiers)  # type: ignore[attr-defined]

    def chosen_tiers(self) -> list[Tier]:
        return [self.campaign_tiers[pk] for pk in self.cleaned_data["tiers"]]


class CommentForm(FundingForm):
    body = forms.CharField(
        label="Your comment", max_length=COMMENT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args: Any, reply: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if reply:
            self.fields["body"].label = "Your answer"


class CommentHideForm(FundingForm):
    reason = forms.CharField(label="Reason (optional)", required=False, max_length=COMMENT_REASON_MAX_LENGTH,
                             help_text="Shown to the comment's author.")  # fmt: skip


class MessageForm(FundingForm):
    field_aliases = {"message": "body"}

    audience = forms.ChoiceField(label="To", choices=MessageAudience.choices)
    tier = forms.ChoiceField(label="Reward", required=False, help_text="Only to write to the backers of one reward.")
    subject = forms.CharField(label="Subject", max_length=TITLE_MAX_LENGTH)
    body = forms.CharField(label="Message", max_length=MESSAGE_BODY_MAX_LENGTH, help_text="Plain text.",
                           widget=forms.Textarea(attrs={"rows": 8}))  # fmt: skip

    def __init__(self, *args: Any, tiers: list[Tier], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.campaign_tiers = {str(tier.pk): tier for tier in tiers}
        self.fields["tier"].choices = [("", "—"), *_tier_choices(tiers)]  # type: ignore[attr-defined]

    def chosen_tier(self) -> Tier | None:
        return self.campaign_tiers.get(self.cleaned_data["tier"])


# --- surveys ----------------------------------------------------------------------------------------------------


def parse_options(text: str) -> list[tuple[str, list[str]]]:
    """ "Colour: black, white" lines -> [("Colour", ["black", "white"])]; a line without a colon is refused."""
    options = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        label, colon, choices = line.partition(":")
        if not colon or not label.strip():
            raise forms.ValidationError(f"Line {number}: write the option, a colon and its choices, e.g. “Colour: "
                                        "black, white”.")  # fmt: skip
        options.append((label.strip(), [choice.strip() for choice in choices.split(",") if choice.strip()]))
    return options


class SurveyOpenForm(FundingForm):
    """The lock date, a word to the backers, and for each reward (`options_<tier id>`) the options to choose."""

    field_aliases = {"questions": "address_lock_at"}

    address_lock_at = forms.DateTimeField(
        label="Addresses lock on",
        help_text=f"Date and time in UTC. Backers answer and may change their answer until then: at least a day and "
        f"at most {SURVEY_MAX_LOCK.days} days from now.",
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
    )
    intro = forms.CharField(label="A word to your backers", required=False, max_length=INTRO_MAX_LENGTH,
                            widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip

    def __init__(self, *args: Any, tiers: list[Tier], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tiers = tiers
        self.question_fields: list[str] = []  # the options field of each question the form makes, in order
        for tier in tiers:
            self.fields[f"options_{tier.pk}"] = forms.CharField(
                label=f"Options of “{tier.title}”",
                required=False,
                help_text="One option per line: its name, a colon and the choices separated by commas, e.g. "
                "“Colour: black, white”. Empty: nothing to choose.",
                widget=forms.Textarea(attrs={"rows": 3}),
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for tier in self.tiers:
            name = f"options_{tier.pk}"
            try:
                data[name] = parse_options(data.get(name) or "")
            except forms.ValidationError as error:
                self.add_error(name, error)
        lock = data.get("address_lock_at")
        if isinstance(lock, datetime) and timezone.is_naive(lock):
            data["address_lock_at"] = timezone.make_aware(lock, timezone.get_current_timezone())
        return data

    def questions(self) -> list[QuestionIn]:
        questions, self.question_fields = [], []
        for tier in self.tiers:
            name = f"options_{tier.pk}"
            for label, choices in self.cleaned_data[name]:
                questions.append(QuestionIn(tier=tier, label=label, choices=choices))
                self.question_fields.append(name)
        return questions

    def add_domain_error(self, error: DomainError) -> None:
        parts = (error.field or "").split(".")
        if (
            parts[0] == "questions"
            and len(parts) > 1
            and parts[1].isdigit()
            and int(parts[1]) < len(self.question_fields)
        ):
            self.add_error(self.question_fields[int(parts[1])], error.message)
            return
        super().add_domain_error(error)


class SurveyAnswerForm(FundingForm):
    """A backer's shipping address and, as `question_<id>`, a choice for each option of their reward."""

    ship_to = forms.CharField(label="Recipient's name", max_length=SURVEY_TEXT_MAX_LENGTH,
                              widget=forms.TextInput(attrs={"autocomplete": "name"}))  # fmt: skip
    address_line1 = forms.CharField(label="Address", max_length=SURVEY_TEXT_MAX_LENGTH,
                                    widget=forms.TextInput(attrs={"autocomplete": "address-line1"}))  # fmt: skip
    address_line2 = forms.CharField(label="Address, second line", required=False, max_length=SURVEY_TEXT_MAX_LENGTH,
                                    widget=forms.TextInput(attrs={"autocomplete": "address-line2"}))  # fmt: skip
    postal_code = forms.CharField(label="Postal code", required=False, max_length=20,
                                  widget=forms.TextInput(attrs={"autocomplete": "postal-code"}))  # fmt: skip
    city = forms.CharField(label="Town or city", max_length=SURVEY_TEXT_MAX_LENGTH,
                           widget=forms.TextInput(attrs={"autocomplete": "address-level2"}))  # fmt: skip
    region = forms.CharField(label="Region or state", required=False, max_length=SURVEY_TEXT_MAX_LENGTH,
                             widget=forms.TextInput(attrs={"autocomplete": "address-level1"}))  # fmt: skip
    country = forms.ChoiceField(label="Country", choices=[("", "Choose…"), *COUNTRIES],
                                widget=forms.Select(attrs={"autocomplete": "country"}))  # fmt: skip
    phone = forms.CharField(label="Phone", required=False, max_length=40, help_text="Optional, for the carrier.",
                            widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}))  # fmt: skip

    def __init__(self, *args: Any, questions: list[SurveyQuestion], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        for question in questions:
            self.fields[f"question_{question.pk}"] = forms.ChoiceField(
                label=question.label,
                choices=[(choice, choice) for choice in question.choices],
                widget=forms.RadioSelect,
                error_messages={"required": f"Choose your {question.label.lower()}."},
            )

    def address(self) -> AddressIn:
        data = self.cleaned_data
        return AddressIn(ship_to=data["ship_to"], address_line1=data["address_line1"], city=data["city"],
                         country=data["country"], address_line2=data["address_line2"],
                         postal_code=data["postal_code"], region=data["region"], phone=data["phone"])  # fmt: skip

    def answers(self) -> dict[str, str]:
        return {str(q.pk): self.cleaned_data[f"question_{q.pk}"] for q in self.questions}

    def add_domain_error(self, error: DomainError) -> None:
        field = error.field or ""
        if field.startswith("answers.") and f"question_{field[8:]}" in self.fields:
            self.add_error(f"question_{field[8:]}", error.message)
            return
        super().add_domain_error(error)


def survey_initial(response: SurveyResponse | None, shipping_country: str = "") -> dict[str, Any] | None:
    """The form's values from the backer's answer, to change it; before an answer, the country the pledge paid
    shipping to (if any)."""
    if response is None or response.answered_at is None:
        return {"country": shipping_country} if shipping_country else None
    names = ("ship_to", "address_line1", "address_line2", "postal_code", "city", "region", "country", "phone")
    initial: dict[str, Any] = {name: getattr(response, name) for name in names}
    initial.update({f"question_{pk}": choice for pk, choice in response.answers.items()})
    return initial


class FulfilmentForm(FundingForm):
    """Where one reward is; prefixed with the pledge (`p<id>`) on the backers page, one form per row."""

    status = forms.ChoiceField(label="Status", choices=FulfilmentStatus.choices)
    carrier = forms.CharField(label="Carrier", required=False, max_length=80)
    tracking = forms.CharField(label="Tracking number", required=False, max_length=100)

    def __init__(self, *args: Any, pledge_id: int, **kwargs: Any) -> None:
        kwargs["prefix"] = f"p{pledge_id}"
        super().__init__(*args, **kwargs)
        # One form per row: each label names its pledge, so a screen reader's list of fields says whose it is.
        for field in self.fields.values():
            field.label = f"{field.label} (#{pledge_id})"
