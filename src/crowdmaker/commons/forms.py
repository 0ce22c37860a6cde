"""Forms of the commons pages: publish a design or a version, fork, cite, edit, add an image.

A form parses what a browser sends into the shapes the `commons.services` take (a BOM typed one line per item,
tags separated by commas, a manifest as JSON text, an owner chosen among the actor's teams) and shows the
services' refusals next to the field they name. Rules of the domain stay in the services, never here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from crowdmaker.commons.licences import LICENCES, Licence, fork_licence_check
from crowdmaker.commons.models import (
    DESCRIPTION_MAX_LENGTH,
    MAX_IMAGE_BYTES,
    MAX_TAGS,
    RELEASE_NOTES_MAX_LENGTH,
    SUMMARY_MAX_LENGTH,
    TAG_HELP,
    TITLE_MAX_LENGTH,
)
from crowdmaker.core.errors import DomainError, NotFound
from crowdmaker.ledger.money import CURRENCIES
from crowdmaker.people.forms import ServiceForm
from crowdmaker.people.models import SLUG_HELP, Role, Team, User
from crowdmaker.people.selectors import team_by_slug, teams_of
from crowdmaker.protocol.manifest import read_json
from crowdmaker.protocol.services import MAX_IMPORT_BYTES

# A pasted manifest (JSON text) is capped before parsing; an imported Thing Description (at most
# MAX_IMPORT_BYTES) comes back pretty-printed, which can double its length, and must still fit.
MAX_MANIFEST_CHARS = 2 * MAX_IMPORT_BYTES
# Digits allowed in a BOM line's quantity and amount: far beyond any real part list, short enough that no line
# can make Python build a huge integer.
MAX_QUANTITY_DIGITS = 9
MAX_AMOUNT_DIGITS = 12
ME = ""  # the owner choice "me" (a team is chosen by its slug)

BOM_HELP = (
    "One line per item: quantity x item @ unit cost and currency, e.g. “4 x M3 screw @ 0.05 EUR”. "
    "Use a dot for decimals; blank lines are ignored."
)
BOM_LINE = re.compile(r"^(?P<left>.*?)\s*@\s*(?P<right>[^@]*)$")
# "4 x M3 screw"; the multiplication sign (U+00D7) is accepted as well as the letter x.
BOM_QUANTITY_ITEM = re.compile(r"^(?P<quantity>\S+?)\s*[x\u00d7]\s+(?P<item>.+)$", re.IGNORECASE)
BOM_COST = re.compile(r"^(?P<amount>\S+)\s+(?P<currency>\S+)$")
DECIMAL_AMOUNT = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")


# --- the bill of materials as text --------------------------------------------------------------------------


class BomLineError(ValueError):
    """One line of a typed bill of materials cannot be read; the message says why, without the line number."""


def amount_to_minor(text: str, currency: str) -> int:
    """An amount such as "0.05" EUR -> 5: a decimal amount in minor units, exactly (Decimal from the text, never a float)."""
    if not DECIMAL_AMOUNT.fullmatch(text):
        raise BomLineError(f"“{text}” is not an amount; write it like 0.05 (digits, a dot for decimals).")
    if len(text.replace(".", "").lstrip("0")) > MAX_AMOUNT_DIGITS:
        raise BomLineError(f"The amount “{text}” is too large.")
    digits = CURRENCIES[currency]
    scaled = Decimal(text).scaleb(digits)
    if scaled != scaled.to_integral_value():
        places = f"{digits} decimal place{'s' if digits != 1 else ''}" if digits else "no decimals"
        raise BomLineError(f"{currency} amounts have {places}; “{text}” has more.")
    return int(scaled)


def minor_to_amount(minor: int, currency: str) -> str:
    """5, "EUR" -> "0.05"; the inverse of `amount_to_minor` (a currency we do not know is shown in cents)."""
    digits = CURRENCIES.get(currency, 2)
    whole, part = divmod(minor, 10**digits)
    return f"{whole}.{part:0{digits}d}" if digits else str(whole)


def parse_bom_line(text: str) -> dict[str, Any]:
    """`4 x M3 screw @ 0.05 EUR` -> {"item": "M3 screw", "quantity": 4, "unit_cost": 5, "currency": "EUR"}."""
    line = BOM_LINE.fullmatch(text.strip())
    if line is None:
        raise BomLineError("Write the unit cost after an @, e.g. “4 x M3 screw @ 0.05 EUR”.")
    head = BOM_QUANTITY_ITEM.fullmatch(line["left"])
    if head is None:
        raise BomLineError("Start with the quantity and an x, e.g. “4 x M3 screw @ 0.05 EUR”.")
    quantity = head["quantity"]
    if not quantity.isascii() or not quantity.isdigit() or int(quantity) == 0:
        raise BomLineError(f"The quantity “{quantity}” must be a whole number above zero.")
    if len(quantity.lstrip("0")) > MAX_QUANTITY_DIGITS:
        raise BomLineError(f"The quantity “{quantity}” is too large.")
    cost = BOM_COST.fullmatch(line["right"].strip())
    if cost is None:
        raise BomLineError("Give the unit cost as an amount and a currency, e.g. “0.05 EUR”.")
    currency = cost["currency"].upper()
    if currency not in CURRENCIES:
        raise BomLineError(f"“{cost['currency']}” is not a currency we know; use one of {', '.join(CURRENCIES)}.")
    return {
        "item": head["item"].strip(),
        "quantity": int(quantity),
        "unit_cost": amount_to_minor(cost["amount"], currency),
        "currency": currency,
    }


def bom_text(bom: Iterable[dict[str, Any]]) -> str:
    """A stored bill of materials as the text the BOM field reads back (one line per item)."""
    return "\n".join(
        f"{line['quantity']} x {line['item']} @ {minor_to_amount(line['unit_cost'], line['currency'])} "
        f"{line['currency']}"
        for line in bom
    )


class BomField(forms.CharField):
    """A textarea of BOM lines; cleans to (lines, the textarea line number of each) or names the bad line."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Bill of materials")
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", BOM_HELP)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "code"}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> tuple[list[dict[str, Any]], list[int]]:
        text = super().clean(value)
        lines: list[dict[str, Any]] = []
        numbers: list[int] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                lines.append(parse_bom_line(raw))
            except BomLineError as error:
                raise forms.ValidationError(f"Line {number}: {error}", code="bom_line") from error
            numbers.append(number)
        return lines, numbers


# --- other fields ----------------------------------------------------------------------------------------------


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (`<input type="file" multiple>`), as Django's documentation shows."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        files = data if isinstance(data, list | tuple) else [data]
        return [cleaned for cleaned in (single(item, initial) for item in files) if cleaned]


def tags_text(tags: Iterable[str]) -> str:
    return ", ".join(tags)


def _tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def _manifest(text: str) -> dict[str, Any] | list[Any] | str | int | float | bool | None:
    # Strict JSON (no NaN); whether it is a valid Thing Description is the service's question.
    try:
        return read_json(text)  # type: ignore[return-value]
    except ValueError as error:
        raise forms.ValidationError(f"The manifest is not valid JSON: {error}.", code="manifest_json") from error


def manifest_text(manifest: Any) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False)


def licence_hint(licence: Licence) -> str:
    """What a licence allows, in a few words, for the licence select."""
    if not licence.derivatives:
        remix = "no remixes"
    elif licence.share_alike:
        remix = f"remixes stay {' or '.join(licence.derivative_licences)}"
    else:
        remix = "remixes allowed"
    commercial = "commercial use allowed" if licence.commercial else "no commercial use"
    return f"{licence.spdx} — {licence.name}: {remix}, {commercial}"


def licence_choices(licences: Iterable[Licence] | None = None) -> list[tuple[str, str]]:
    return [(item.spdx, licence_hint(item)) for item in (LICENCES.values() if licences is None else licences)]


def fork_licences(upstream: str) -> list[Licence]:
    """The licences a fork of a design under `upstream` may take (the service checks again on publication)."""
    allowed = []
    for licence in LICENCES.values():
        try:
            fork_licence_check(upstream, licence.spdx)
        except DomainError:
            continue
        allowed.append(licence)
    return allowed


def owner_choices(user: User) -> list[tuple[str, str]]:
    """Me, then each team where `user` is an owner or maintainer (the teams they may publish for)."""
    choices = [(ME, f"Me (@{user.handle})")]
    for membership in teams_of(user=user).filter(role__in=(Role.OWNER, Role.MAINTAINER)):
        choices.append((membership.team.slug, f"Team {membership.team.name}"))
    return choices


# --- forms -------------------------------------------------------------------------------------------------------


class CommonsForm(ServiceForm):
    """Shows a service's refusal by the field it names: `bom.2.quantity` on the BOM with its line number."""

    # A service's field name -> the form's field for it (`files` is taken: it is every form's uploads).
    field_aliases: dict[str, str] = {"files": "version_files"}

    def add_domain_error(self, error: DomainError) -> None:
        name, _, rest = (error.field or "").partition(".")
        name = self.field_aliases.get(name, name)
        if name == "bom" and rest and "bom" in self.fields:
            position = rest.split(".", 1)[0]
            numbers = getattr(self, "bom_line_numbers", [])
            if position.isdigit() and int(position) < len(numbers):
                self.add_error("bom", f"Line {numbers[int(position)]}: {error.message}")
                return
        self.add_error(name if name in self.fields else None, error.message)


class OwnerMixin:
    """An `owner` choice limited to the actor and the teams they may publish for; cleans to a Team or None."""

    fields: dict[str, forms.Field]
    cleaned_data: dict[str, Any]

    def setup_owner(self, user: User) -> None:
        self.fields["owner"].choices = owner_choices(user)  # type: ignore[attr-defined]

    def clean_owner(self) -> Team | None:
        slug = self.cleaned_data.get("owner") or ME
        if slug == ME:
            return None
        try:
            return team_by_slug(slug=slug)
        except NotFound as error:
            raise forms.ValidationError(error.message, code="team_missing") from error


def _slug_field() -> forms.CharField:
    return forms.CharField(
        label="Address",
        max_length=50,
        help_text="The design's page will be /designs/the-address/. " + SLUG_HELP,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )


def _title_field() -> forms.CharField:
    return forms.CharField(label="Title", max_length=TITLE_MAX_LENGTH)


def _owner_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Published by", required=False, help_text="You, or a team where you are an owner or maintainer."
    )


def _manifest_field(required: bool = True) -> forms.CharField:
    return forms.CharField(
        label="Protocol manifest",
        max_length=MAX_MANIFEST_CHARS,
        required=required,
        help_text="A W3C WoT Thing Description 1.1 in JSON, with cm:provides, cm:requires and cm:family "
        "naming interfaces of the registry.",
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}),
    )


def _release_notes_field() -> forms.CharField:
    return forms.CharField(
        label="Release notes",
        required=False,
        max_length=RELEASE_NOTES_MAX_LENGTH,
        help_text="What is new in this version (Markdown).",
        widget=forms.Textarea(attrs={"rows": 4}),
    )


def _files_field() -> MultipleFileField:
    return MultipleFileField(
        label="Files",
        required=False,
        help_text="CAD files, drawings, firmware… of this version (you may choose several). "
        "If the form comes back with an error, choose them again.",
    )


class _DesignTextFields(CommonsForm):
    title = _title_field()
    summary = forms.CharField(
        label="Summary",
        required=False,
        max_length=SUMMARY_MAX_LENGTH,
        help_text="One or two sentences for the catalog.",
    )
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=DESCRIPTION_MAX_LENGTH,
        help_text="Markdown: what it is, how to build it, what it needs. Shown sanitised (no scripts, no raw HTML).",
        widget=forms.Textarea(attrs={"rows": 10}),
    )
    tags = forms.CharField(
        label="Tags",
        required=False,
        help_text=f"Separated by commas, at most {MAX_TAGS}. Each: {TAG_HELP}",
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )

    def clean_tags(self) -> list[str]:
        return _tags(self.cleaned_data["tags"])


class DesignForm(OwnerMixin, _DesignTextFields):
    """A new design with its first version."""

    field_aliases = {**CommonsForm.field_aliases, "team": "owner"}
    field_order = ["slug", "title", "summary", "description", "licence", "tags", "owner"]

    slug = _slug_field()
    licence = forms.ChoiceField(label="Licence", choices=licence_choices(), initial="CERN-OHL-S-2.0")
    owner = _owner_field()
    manifest = _manifest_field()
    bom = BomField()
    release_notes = _release_notes_field()
    version_files = _files_field()

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setup_owner(user)
        self.fields["licence"].help_text = (
            "What others may do with your design. A share-alike licence keeps remixes open; "
            "a no-derivatives licence cannot be forked at all."
        )

    def clean_manifest(self) -> Any:
        return _manifest(self.cleaned_data["manifest"])

    def clean_bom(self) -> list[dict[str, Any]]:
        lines, self.bom_line_numbers = self.cleaned_data["bom"]
        return lines


class ImportForm(forms.Form):
    """“Start from a Thing Description”: one file whose manifest pre-fills the design form."""

    thing_description = forms.FileField(
        label="Thing Description file",
        help_text="A W3C WoT Thing Description (.json or .jsonld); the form below is filled from it.",
        widget=forms.ClearableFileInput(attrs={"accept": ".json,.jsonld,.td,application/json,application/td+json"}),
    )

    def clean_thing_description(self) -> bytes:
        upload: UploadedFile = self.cleaned_data["thing_description"]
        if (upload.size or 0) > MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                f"A Thing Description may be at most {MAX_IMPORT_BYTES // 1024} KiB.", code="td_too_large"
            )
        return upload.read()


class VersionForm(CommonsForm):
    """The next version of a design: manifest, BOM, release notes, files."""

    manifest = _manifest_field()
    bom = BomField()
    release_notes = _release_notes_field()
    version_files = _files_field()

    def clean_manifest(self) -> Any:
        return _manifest(self.cleaned_data["manifest"])

    def clean_bom(self) -> list[dict[str, Any]]:
        lines, self.bom_line_numbers = self.cleaned_data["bom"]
        return lines


class ForkForm(OwnerMixin, CommonsForm):
    """A remix of one exact version, under a licence the upstream allows."""

    field_aliases = {**CommonsForm.field_aliases, "team": "owner"}

    version = forms.TypedChoiceField(label="Version to fork", coerce=int)
    slug = _slug_field()
    title = _title_field()
    licence = forms.ChoiceField(label="Licence of your fork")
    owner = _owner_field()

    def __init__(self, *args: Any, user: User, upstream_licence: str, versions: Sequence[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setup_owner(user)
        self.fields["version"].choices = [(number, f"Version {number}") for number in versions]  # type: ignore[attr-defined]
        allowed = fork_licences(upstream_licence)
        # The field accepts every licence we know, so that a licence the upstream forbids reaches the service and
        # is refused with its reason (share-alike, non-commercial); the select offers only the allowed ones.
        self.fields["licence"].choices = licence_choices()  # type: ignore[attr-defined]
        self.fields["licence"].widget.choices = licence_choices(allowed)
        if upstream_licence in {item.spdx for item in allowed}:
            self.fields["licence"].initial = upstream_licence
        self.fields["licence"].help_text = f"Only the licences that {upstream_licence} allows for a remix are offered."


class CiteForm(CommonsForm):
    cited = forms.CharField(
        label="Cited design",
        max_length=50,
        help_text="The address of the design yours builds on, as in /designs/the-address/.",
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    note = forms.CharField(label="Note", required=False, max_length=300, help_text="Optional: what you took from it.")


class DesignEditForm(_DesignTextFields):
    """Title, summary, description and tags of a design (its versions never change)."""


class ImageForm(CommonsForm):
    file = forms.FileField(
        label="Image",
        help_text=f"PNG, JPEG or WebP, at most {MAX_IMAGE_BYTES // (1024 * 1024)} MiB.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    alt = forms.CharField(
        label="Description of the image",
        required=False,
        max_length=200,
        help_text="For people who cannot see it, e.g. “The lamp, lit, on a desk”.",
    )
