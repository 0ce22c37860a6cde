"""Forms of the systems pages: name a system, add a design version to it, add catalog products in one click.

A form checks only what a browser can get wrong (missing, over-long or malformed fields); the rules of systems
(quantities, size limits, ownership) live in `commons.systems`, whose refusals the form shows by the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django import forms

from crowdmaker.commons.models import SYSTEM_NAME_MAX_LENGTH, System
from crowdmaker.commons.systems import MAX_QUANTITY
from crowdmaker.core.errors import DomainError
from crowdmaker.people.forms import ServiceForm

# A catalog product as the engine names it: "<design slug>@v<version number>".
PRODUCT = re.compile(r"^([a-z0-9]+(?:-[a-z0-9]+)*)@v([1-9][0-9]{0,8})$")
# "Add these" sends one suggestion (at most COMPLETE_MAX_ADDITIONS products); more is no click of ours.
MAX_PRODUCTS_PER_CLICK = 10
NEW_SYSTEM = "new"
FIRST_SYSTEM_NAME = "My home"  # offered when someone without systems adds a product (as the fragment does)


def product_key(slug: str, number: int) -> str:
    return f"{slug}@v{number}"


class SystemCreateForm(ServiceForm):
    name = forms.CharField(
        label="Name", max_length=SYSTEM_NAME_MAX_LENGTH, help_text="For example “My home” or “Workshop”."
    )


class SystemMemberAddForm(ServiceForm):
    design = forms.CharField(
        label="Design",
        max_length=50,
        help_text="The design's address in the catalog, e.g. usb-c-charger.",
        widget=forms.TextInput(attrs={"list": "design-slugs", "autocapitalize": "none", "spellcheck": "false"}),
    )
    version = forms.IntegerField(
        label="Version", required=False, min_value=1, help_text="Leave empty for the latest version."
    )
    quantity = forms.IntegerField(label="Quantity", min_value=1, max_value=MAX_QUANTITY, initial=1)


class ProductsField(forms.Field):
    """Hidden inputs named `product`, each "<slug>@v<number>", become [(slug, number), ...]."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[tuple[str, int]]:
        if not value:
            return []
        if not isinstance(value, list | tuple) or len(value) > MAX_PRODUCTS_PER_CLICK:
            raise forms.ValidationError(f"Add at most {MAX_PRODUCTS_PER_CLICK} products at once.", code="too_many")
        products = []
        for item in value:
            match = PRODUCT.match(str(item))
            if match is None:
                raise forms.ValidationError("Not a catalog product.", code="invalid_product")
            products.append((match.group(1), int(match.group(2))))
        return products


class ProductsForm(forms.Form):
    product = ProductsField(label="Products")


class AddToSystemForm(ServiceForm):
    """From a design version's page: into one of my systems, or into a new one named here."""

    system = forms.ChoiceField(label="System")
    new_system_name = forms.CharField(
        label="Name of the new system",
        required=False,
        max_length=SYSTEM_NAME_MAX_LENGTH,
        help_text="Only when you add it to a new system, e.g. “My home”.",
    )
    quantity = forms.IntegerField(label="Quantity", min_value=1, max_value=MAX_QUANTITY, initial=1)

    def __init__(self, *args: Any, systems: Iterable[System], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(str(system.id), system.name) for system in systems]
        field = self.fields["system"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [*choices, (NEW_SYSTEM, "A new system")]
        if not choices:  # a newcomer's first system gets a name they can keep
            field.initial = NEW_SYSTEM
            self.fields["new_system_name"].initial = FIRST_SYSTEM_NAME

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("system") == NEW_SYSTEM and not (cleaned.get("new_system_name") or "").strip():
            self.add_error("new_system_name", "Give the new system a name.")
        return cleaned

    def add_domain_error(self, error: DomainError) -> None:
        if error.field == "name":  # system_create names the new system's name "name"
            self.add_error("new_system_name", error.message)
            return
        super().add_domain_error(error)
