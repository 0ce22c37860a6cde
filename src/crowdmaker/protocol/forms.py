"""Forms of the interface registry pages: filter the list, propose a type, propose a version.

A form checks only what a browser can get wrong (missing, over-long, unreadable lines); the registry's rules
(name grammar, semver, dimension names) live in `protocol.services`, whose refusals the form shows by the field.
"""

from __future__ import annotations

from typing import Any

from django import forms

from crowdmaker.core.errors import DomainError
from crowdmaker.people.forms import ServiceForm
from crowdmaker.protocol import services
from crowdmaker.protocol.models import INTERFACE_NAME_MAX_LENGTH, InterfaceKind

MAX_QUERY_LENGTH = 100
MAX_DIMENSIONS_TEXT = 20_000  # well above 20 dimensions of 500-character descriptions
DIMENSIONS_HELP = (
    "One dimension per line: name | unit | description, e.g. “watts | W | Power drawn or offered”. "
    "A provider's capacity and a requirement's load are written in these dimensions."
)


def dimensions_text(dimensions: dict[str, dict[str, str]]) -> str:
    """The inverse of `DimensionsField`: the lines a maker edits to propose the next version."""
    return "\n".join(f"{name} | {spec['unit']} | {spec['description']}" for name, spec in dimensions.items())


class DimensionsField(forms.CharField):
    """Lines "name | unit | description" become {name: {"unit": ..., "description": ...}} for the service."""

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value) or ""
        if len(text) > MAX_DIMENSIONS_TEXT:
            raise forms.ValidationError(f"At most {MAX_DIMENSIONS_TEXT} characters.", code="max_length")
        dimensions: dict[str, dict[str, str]] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split("|", 2)]
            if len(parts) < 2 or not parts[0] or not parts[1]:
                raise forms.ValidationError(
                    f"Line {number}: write name | unit | description (the description may be empty).",
                    code="dimension_line",
                )
            name, unit = parts[0], parts[1]
            if name in dimensions:
                raise forms.ValidationError(f"Line {number}: {name} is named twice.", code="dimension_twice")
            dimensions[name] = {"unit": unit, "description": parts[2] if len(parts) == 3 else ""}
        return dimensions


class InterfaceFilterForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "All kinds"), *InterfaceKind.choices])
    q = forms.CharField(
        label="Search", required=False, max_length=MAX_QUERY_LENGTH, help_text="Part of a name or a description."
    )


class _VersionFields(ServiceForm):
    def add_domain_error(self, error: DomainError) -> None:
        # The services name a dimension's part as "dimensions.watts.unit": the page has one field for them all.
        field = (error.field or "").split(".", 1)[0]
        message = error.message
        if field == "dimensions" and error.field and error.field.count(".") >= 1:
            message = f"{error.field.split('.', 1)[1]}: {message}"
        self.add_error(field if field in self.fields else None, message)


class InterfaceProposeForm(_VersionFields):
    name = forms.CharField(
        label="Name",
        max_length=INTERFACE_NAME_MAX_LENGTH,
        help_text="Lower-case dotted segments starting with the kind, e.g. power.poe or data.mqtt.sensor.co2.",
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    kind = forms.ChoiceField(label="Kind", choices=InterfaceKind.choices)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=services.MAX_DESCRIPTION_LENGTH,
        help_text="What the interface is, precisely enough for two makers to build products that fit.",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    version = forms.CharField(
        label="First version", max_length=40, initial="1.0.0", help_text="MAJOR.MINOR.PATCH, usually 1.0.0."
    )
    dimensions = DimensionsField(
        label="Dimensions",
        required=False,
        help_text=DIMENSIONS_HELP,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    changelog = forms.CharField(
        label="Notes",
        required=False,
        max_length=services.MAX_CHANGELOG_LENGTH,
        help_text="Why the registry needs it; links to standards.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class InterfaceVersionProposeForm(_VersionFields):
    version = forms.CharField(
        label="Version", max_length=40, help_text="Higher than every version so far, e.g. 1.1.0 or 2.0.0."
    )
    dimensions = DimensionsField(
        label="Dimensions",
        required=False,
        help_text=DIMENSIONS_HELP,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    changelog = forms.CharField(
        label="Changelog",
        required=False,
        max_length=services.MAX_CHANGELOG_LENGTH,
        help_text="What changed since the previous version, and whether products built on it still fit.",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
