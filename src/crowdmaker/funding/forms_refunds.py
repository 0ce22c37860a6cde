"""The form a campaign's editor refunds a pledge with: everything left, or chosen items (an add-on with how many of
its units), a reason and a message to the backer, and a token that makes sending it twice refund once.

It parses what the browser sends into what `funding.refunds.refund_create` takes; the rules stay in the service,
and its refusals are shown next to the field they name.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django import forms
from django.core.validators import RegexValidator

from crowdmaker.core.errors import DomainError
from crowdmaker.funding.forms import FundingForm
from crowdmaker.funding.models import REFUND_MESSAGE_MAX_LENGTH, REFUND_REASON_MAX_LENGTH
from crowdmaker.funding.refunds import ADDON, ItemChoice, RefundItem
from crowdmaker.ledger.money import Money

WHAT = [("full", "Everything not refunded yet"), ("items", "The items chosen below")]
# The form's token (a uuid4's hex, the refund's reference is "refund-form-<token>"): nothing else, so that no token
# reads as another's retried attempt ("<reference>:attempt-<n>", funding.refunds.refund_made_with).
TOKEN = re.compile(r"[0-9a-f]{32}")


def _key(item: RefundItem) -> str:
    return f"addon-{item.addon}" if item.item == ADDON else item.item


class RefundForm(FundingForm):
    field_aliases = {"full": "what"}

    what = forms.ChoiceField(label="Refund", choices=WHAT, widget=forms.RadioSelect, initial="full")
    items = forms.MultipleChoiceField(label="Items", required=False, widget=forms.CheckboxSelectMultiple)
    reason = forms.CharField(label="Reason", max_length=REFUND_REASON_MAX_LENGTH,
                             help_text="Why you refund it; the backer sees it.")  # fmt: skip
    message = forms.CharField(label="Message to the backer", max_length=REFUND_MESSAGE_MAX_LENGTH, required=False,
                              widget=forms.Textarea(attrs={"rows": 5}), help_text="Plain text, e-mailed with the refund.")  # fmt: skip
    token = forms.CharField(widget=forms.HiddenInput, max_length=32, validators=[
        RegexValidator(rf"\A{TOKEN.pattern}\Z", "This form is out of date: open it again.", code="token_invalid")])  # fmt: skip

    def __init__(self, *args: Any, left: list[RefundItem], currency: str, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("token", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        self.left = {_key(item): item for item in left}
        items = self.fields["items"]
        assert isinstance(items, forms.MultipleChoiceField)
        items.choices = [
            (key, f"{item.title}{f' ({item.quantity} left)' if item.item == ADDON else ''}: "
                  f"{Money(item.amount, currency)}")
            for key, item in self.left.items()
        ]  # fmt: skip
        for key, item in self.left.items():
            if item.item == ADDON:
                self.fields[f"quantity_{key}"] = forms.IntegerField(
                    label=f"How many of {item.title}", min_value=1, max_value=item.quantity, initial=item.quantity,
                    required=False,
                )  # fmt: skip

    def choices(self) -> tuple[bool, list[ItemChoice]]:
        """(full, items) for refund_create, from the cleaned data."""
        data = self.cleaned_data
        if data["what"] == "full":
            return True, []
        chosen = []
        for key in data["items"]:
            item = self.left[key]
            quantity = data.get(f"quantity_{key}") if item.item == ADDON else None
            chosen.append(ItemChoice(item.item, item.addon, quantity))
        return False, chosen

    def add_domain_error(self, error: DomainError) -> None:
        if (error.field or "").startswith("items"):
            self.add_error("items", error.message)
            return
        super().add_domain_error(error)
