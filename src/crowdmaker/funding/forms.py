"""Forms of the funding pages: a pledge (tier, add-ons, shipping country, extra amount, card), a new campaign, a tier
(with its shipping rates), a tier's shipping rates, an add-on and a stretch goal.

A form parses what a browser sends into what `funding.services` and `funding.pledges` take: amounts typed as
decimals ("12.50") become integer minor units of the campaign's currency without a float (the commons' parser),
dates typed in UTC become aware datetimes. Rules of the domain stay in the services; a form shows their refusals
next to the field they name.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from django import forms
from django.utils import timezone

from crowdmaker.commons.forms import BomLineError, OwnerMixin, amount_to_minor, minor_to_amount
from crowdmaker.core.errors import DomainError
from crowdmaker.funding.countries import COUNTRIES, REGIONS, WORLD, destination_name, shipping_order
from crowdmaker.funding.models import (
    STORY_MAX_LENGTH,
    SUMMARY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    AddOn,
    Campaign,
    FundingModel,
    Tier,
)
from crowdmaker.funding.pledges import MAX_ADDON_QUANTITY
from crowdmaker.funding.selectors import tier_places_left
from crowdmaker.funding.services import (
    MAX_CAMPAIGN_DAYS,
    MAX_FAQ_ENTRIES,
    MAX_TIER_LIMIT,
    MIN_CAMPAIGN_HOURS,
    ShippingRateIn,
)
from crowdmaker.ledger.gateways import payment_gateway, sandbox
from crowdmaker.ledger.money import CURRENCIES, Money
from crowdmaker.people.forms import ServiceForm
from crowdmaker.people.models import SLUG_HELP, User

NO_REWARD = "none"  # the tier choice of a pledge without a reward
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows
MONTH_FORMAT = "%Y-%m"  # what <input type="month"> sends and shows
MAX_ITEM_QUANTITY = 10_000
SANDBOX_CARDS = [
    (sandbox.CARD_OK, "Test card that works (sandbox-card-ok)"),
    (sandbox.CARD_DECLINED, "Test card that is declined (sandbox-card-declined)"),
    (sandbox.CARD_INSUFFICIENT_FUNDS, "Test card without enough money (sandbox-card-insufficient-funds)"),
    (
        sandbox.CARD_NETWORK_ERROR_ONCE,
        "Test card whose first try meets a network error (sandbox-card-network-error-once)",
    ),
    (sandbox.CARD_CAPTURE_FAILS, "Test card that fails when the money is taken (sandbox-card-capture-fails)"),
    (
        sandbox.CARD_REFUND_FAILS_ONCE,
        "Test card whose first refund is declined (sandbox-card-refund-fails-once)",
    ),
]


def uses_sandbox() -> bool:
    return isinstance(payment_gateway(), sandbox.SandboxGateway)


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


class FundingForm(ServiceForm):
    """Shows a service's refusal by the field it names, through `field_aliases` (service name -> form field)."""

    field_aliases: dict[str, str] = {}

    def add_domain_error(self, error: DomainError) -> None:
        name = (error.field or "").split(".", 1)[0]
        name = self.field_aliases.get(name, name)
        self.add_error(name if name in self.fields else None, error.message)


class AmountField(forms.CharField):
    """A decimal amount such as "12.50" typed in `currency`; cleans to integer minor units (None when empty)."""

    def __init__(self, *, currency: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)
        self.currency = currency

    def clean(self, value: Any) -> Any:
        text = super().clean(value).strip()
        if not text or self.currency is None:  # no currency yet: the form's clean() parses it
            return text or None
        return parse_amount(text, self.currency)


def parse_amount(text: str, currency: str) -> int:
    try:
        return amount_to_minor(text.strip(), currency)
    except BomLineError as error:
        raise forms.ValidationError(str(error), code="amount") from error


def _datetime_field(label: str, *, required: bool = True, help_text: str = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=required,
        help_text=help_text or "Date and time in UTC.",
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
    )


# --- pledges ---------------------------------------------------------------------------------------------------


class PledgeForm(FundingForm):
    """A pledge to one of `tiers` (or no reward), with add-ons, an extra amount and the card that pays.

    The add-ons are fields `addon_<id>` (a quantity, 0 for none); `addons()` gives them as the service takes them."""

    field_aliases = {"request_key": "tier"}

    tier = forms.ChoiceField(
        label="Reward",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a reward, or “No reward”.", "invalid_choice": "Choose one of the rewards."},
    )
    extra = AmountField(
        label="Extra amount",
        required=False,
        help_text="Optional: anything you add on top, e.g. 5 or 12.50. Not part of a reward.",
    )
    card = forms.ChoiceField(label="Card", error_messages={"required": "Choose the card that pays."})

    def __init__(
        self, *args: Any, campaign: Campaign, tiers: list[Tier], addons: list[AddOn], sandbox_cards: bool = True,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        self.tiers = {str(tier.pk): tier for tier in tiers}
        currency = campaign.currency
        _choice_field(self, "tier").choices = [
            *((str(tier.pk), tier_label(tier, currency, tier_places_left(tier))) for tier in tiers),
            (NO_REWARD, "No reward: I just want to back it"),
        ]
        extra = self.fields["extra"]
        assert isinstance(extra, AmountField)
        extra.currency = currency
        extra.label = f"Extra amount ({currency})"
        self.addon_fields: list[tuple[str, AddOn]] = []
        for addon in addons:
            name = f"addon_{addon.pk}"
            self.fields[name] = forms.IntegerField(
                label=f"{addon.title} ({Money(addon.price, currency)} each)",
                required=False,
                min_value=0,
                max_value=MAX_ADDON_QUANTITY,
                initial=0,
                help_text="How many; 0 for none. Add-ons come on top of a reward.",
                widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "quantity-input"}),
            )
            self.addon_fields.append((name, addon))
        shipped = [tier for tier in tiers if tier.shipping_rates.all()]  # prefetched by selectors.campaign_tiers
        if shipped:  # asked only where a reward ships; the service says when the chosen one needs it
            self.fields["shipping_country"] = forms.ChoiceField(
                label="Ship to",
                required=False,
                choices=[("", "Choose the country…"), *COUNTRIES],
                help_text="The country your reward ships to, for "
                + ", ".join(f"“{tier.title}”" for tier in shipped)
                + ": its shipping is added to the total.",
                widget=forms.Select(attrs={"autocomplete": "country"}),
            )
        if sandbox_cards:
            card = _choice_field(self, "card")
            card.choices = SANDBOX_CARDS
            card.initial = sandbox.CARD_OK
            card.help_text = "The platform runs on its sandbox gateway: these test cards move no real money."
        else:
            self.fields["card"] = forms.CharField(
                label="Payment method", max_length=100, help_text="The payment method token from the payment form."
            )
        self.order_fields(["tier", *(name for name, _ in self.addon_fields), "shipping_country", "extra", "card"])

    def clean_tier(self) -> Tier | None:
        value = self.cleaned_data["tier"]
        return None if value == NO_REWARD else self.tiers[value]

    def clean_extra(self) -> int:
        return self.cleaned_data["extra"] or 0

    def shipping_country(self) -> str:
        """The country chosen to ship to ("" when none or when no reward ships)."""
        return str(self.cleaned_data.get("shipping_country") or "")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("tier", "") is None and any(data.get(name) for name, _ in self.addon_fields):
            first = self.addon_fields[0][0]
            self.add_error(first, "Add-ons come on top of a reward: choose a reward tier, or set the add-ons to 0.")
        return data

    def addons(self) -> dict[int, int]:
        """{add-on id: quantity} of the add-ons chosen (quantity above 0)."""
        return {addon.pk: self.cleaned_data[name] for name, addon in self.addon_fields if self.cleaned_data.get(name)}

    def add_domain_error(self, error: DomainError) -> None:
        if (error.field or "").startswith("addons") and self.addon_fields:
            self.add_error(self.addon_fields[0][0], error.message)
            return
        super().add_domain_error(error)


def tier_label(tier: Tier, currency: str, places_left: int | None) -> str:
    label = f"{tier.title} — {Money(tier.price, currency)}"
    if tier.shipping_rates.all():
        label += " + shipping"
    if places_left == 0:
        label += " (sold out)"
    elif places_left is not None:
        label += f" ({places_left} of {tier.limit} left)"
    return label


def pledge_initial(pledge: Any) -> dict[str, Any]:
    """The pledge form filled with what `pledge` holds (to change it)."""
    initial: dict[str, Any] = {
        "tier": str(pledge.tier_id) if pledge.tier_id else NO_REWARD,
        "extra": minor_to_amount(pledge.extra_amount, pledge.campaign.currency) if pledge.extra_amount else "",
    }
    if pledge.shipping_country:
        initial["shipping_country"] = pledge.shipping_country
    for item in pledge.addons.all():
        initial[f"addon_{item.addon_id}"] = item.quantity
    if pledge.payment is not None:
        initial["card"] = pledge.payment.payment_method
    return initial


def shipping_text(rates: Any, currency: str) -> str:
    """A tier's rates as backers read them: "Ships to Europe 8.00 EUR, Germany 5.00 EUR, elsewhere 20.00 EUR";
    "" for a tier without rates (nothing ships)."""
    ordered = sorted(rates, key=shipping_order)
    if not ordered:
        return ""

    def price(amount: int) -> str:
        return str(Money(amount, currency)) if amount else "free"

    if len(ordered) == 1 and ordered[0].region == WORLD:
        return f"Ships worldwide: {price(ordered[0].amount)}"
    parts = [
        f"elsewhere {price(rate.amount)}" if rate.region == WORLD else f"{destination_name(rate)} {price(rate.amount)}"
        for rate in ordered
    ]
    text = "Ships to " + ", ".join(parts)
    return text if ordered[-1].region == WORLD else text + "; nowhere else"


# A destination typed by name: "Europe", "North America", "Germany", "everywhere".
_DESTINATIONS = {
    **{name.casefold(): ("", code) for code, name in COUNTRIES},
    **{region.name.casefold(): (code, "") for code, region in REGIONS.items()},
    **{code.replace("-", " "): (code, "") for code in REGIONS},
    "everywhere": (WORLD, ""),
    "elsewhere": (WORLD, ""),
    "worldwide": (WORLD, ""),
}
SHIPPING_LINE = re.compile(r"^(?P<to>.+?)(?:\s*[:=]\s*|\s+)(?P<amount>\S+)$")


def shipping_from_text(text: str, currency: str) -> list[ShippingRateIn]:
    """One rate a line, a destination then an amount: `europe 8.00`, `DE 5`, `Germany: 4.50`, `world 20`. A
    destination is a region code or name, a country code or name, or world (everywhere)."""
    rates = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        match = SHIPPING_LINE.fullmatch(line)
        if match is None:
            raise forms.ValidationError(f"Line {number}: write a region or a country, then the amount, e.g. "
                                        "“europe 8.00”.", code="shipping")  # fmt: skip
        to, amount_text = match["to"].strip(), match["amount"]
        try:
            amount = parse_amount(amount_text, currency)
        except forms.ValidationError as error:
            raise forms.ValidationError(f"Line {number}: {error.messages[0]}", code="shipping") from error
        if len(to) == 2 and to.isalpha():
            region, country = "", to.upper()
        else:
            region, country = _DESTINATIONS.get(" ".join(to.casefold().split()), (to.casefold(), ""))
        rates.append(ShippingRateIn(amount=amount, region=region, country=country))
    return rates


SHIPPING_HELP = (
    "One a line, where then what shipping costs: a region ("
    + ", ".join(code for code in REGIONS if code != WORLD)
    + ") or a country code (DE, US…), which overrides its region, and “world” for everywhere else, e.g. "
    "“europe 8.00”, “DE 5.00”, “world 20.00”. Leave it empty if the reward is not shipped; without “world” it ships "
    "only where you list."
)


class ShippingField(forms.CharField):
    """Shipping rates typed one a line (`shipping_from_text`) in `currency`; cleans to the rates the services take."""

    def __init__(self, *, rows: int = 3, **kwargs: Any) -> None:
        kwargs.update(label="Shipping", required=False, max_length=20_000, help_text=SHIPPING_HELP,
                      widget=forms.Textarea(attrs={"rows": rows, "spellcheck": "false"}))  # fmt: skip
        super().__init__(**kwargs)
        self.currency = ""

    def clean(self, value: Any) -> list[ShippingRateIn]:
        return shipping_from_text(super().clean(value), self.currency)

    def priced_in(self, currency: str) -> None:
        self.currency, self.label = currency, f"Shipping ({currency})"


# --- campaigns ---------------------------------------------------------------------------------------------------


def faq_from_text(text: str) -> list[dict[str, str]]:
    """Questions and answers typed as blocks separated by a blank line: the first line is the question, the
    rest its answer."""
    entries = []
    for block in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").strip()):
        if not block.strip():
            continue
        question, _, answer = block.strip().partition("\n")
        question, answer = question.strip(), answer.strip()
        if not answer:
            raise forms.ValidationError(
                f"“{question[:60]}” has no answer: write the answer on the lines under the question.", code="faq"
            )
        entries.append({"question": question, "answer": answer})
    if len(entries) > MAX_FAQ_ENTRIES:
        raise forms.ValidationError(f"At most {MAX_FAQ_ENTRIES} questions, please.", code="faq")
    return entries


def faq_text(faq: list[dict[str, str]]) -> str:
    return "\n\n".join(f"{entry['question']}\n{entry['answer']}" for entry in faq)


class CampaignForm(OwnerMixin, FundingForm):
    """A new draft campaign for one or several of the maker's design versions."""

    field_aliases = {"team": "owner", "shares": "owner"}
    field_order = ["design_versions", "owner", "slug", "title", "summary", "story", "risks", "faq", "currency", "goal",
                   "funding_model", "starts_at", "deadline"]  # fmt: skip

    design_versions = forms.MultipleChoiceField(
        label="Designs to fund",
        widget=forms.CheckboxSelectMultiple,
        help_text="A version of a design of yours or of your team's; several make a bundle.",
        error_messages={"required": "Choose at least one design version to fund."},
    )
    slug = forms.CharField(
        label="Address",
        max_length=50,
        help_text="The campaign's page will be /campaigns/the-address/. " + SLUG_HELP,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    title = forms.CharField(label="Title", max_length=TITLE_MAX_LENGTH)
    summary = forms.CharField(
        label="Summary", required=False, max_length=SUMMARY_MAX_LENGTH, help_text="One or two sentences for the list."
    )
    story = forms.CharField(
        label="Story",
        required=False,
        max_length=STORY_MAX_LENGTH,
        help_text="Markdown: what you will make, why, and how. Shown sanitised.",
        widget=forms.Textarea(attrs={"rows": 10}),
    )
    risks = forms.CharField(
        label="Risks and challenges",
        required=False,
        max_length=STORY_MAX_LENGTH,
        help_text="Markdown: what could delay or stop the production, and what you will do about it.",
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    faq = forms.CharField(
        label="Questions and answers",
        required=False,
        max_length=STORY_MAX_LENGTH,
        help_text="Each question on one line with its answer on the lines below; a blank line before the next question.",
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    currency = forms.ChoiceField(
        label="Currency", choices=[(code, code) for code in CURRENCIES], initial="EUR",
        help_text="Every amount of the campaign is in this currency.",
    )  # fmt: skip
    goal = AmountField(label="Goal", help_text="What you need to make it, in the currency above, e.g. 8000.")
    funding_model = forms.ChoiceField(
        label="Funding model",
        choices=[
            (FundingModel.ALL_OR_NOTHING, "All or nothing: backers are charged only if the goal is reached"),
            (FundingModel.FLEXIBLE, "Flexible: backers are charged at once and you keep what is pledged"),
        ],
        initial=FundingModel.ALL_OR_NOTHING,
        widget=forms.RadioSelect,
    )
    starts_at = _datetime_field("Starts", help_text="Date and time in UTC; backers may pledge from then.")
    deadline = _datetime_field(
        "Deadline",
        help_text=f"Date and time in UTC; at least {MIN_CAMPAIGN_HOURS} hours and at most {MAX_CAMPAIGN_DAYS} days "
        "after the start.",
    )
    owner = forms.ChoiceField(
        label="Run by", required=False, help_text="You, or a team where you are an owner or maintainer."
    )

    def __init__(self, *args: Any, user: User, versions: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setup_owner(user)
        self.versions = {str(version.pk): version for version in versions}
        _choice_field(self, "design_versions").choices = [
            (str(version.pk), f"{version.design.title}, version {version.number}") for version in versions
        ]

    def clean_design_versions(self) -> list[Any]:
        return [self.versions[pk] for pk in self.cleaned_data["design_versions"]]

    def clean_faq(self) -> list[dict[str, str]]:
        return faq_from_text(self.cleaned_data["faq"])

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        currency, goal = data.get("currency"), data.get("goal")
        if currency and goal:
            try:
                data["goal"] = parse_amount(goal, currency)
            except forms.ValidationError as error:
                self.add_error("goal", error)
        for name in ("starts_at", "deadline"):
            if isinstance(data.get(name), datetime) and timezone.is_naive(data[name]):
                data[name] = timezone.make_aware(data[name], timezone.get_current_timezone())
        return data


class TierForm(FundingForm):
    """A reward tier of a draft campaign; `item_<version id>` says how many of each funded design it delivers."""

    field_aliases = {"items": "title"}

    title = forms.CharField(label="Title", max_length=TITLE_MAX_LENGTH)
    description = forms.CharField(
        label="Description", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    price = AmountField(label="Price")
    unit_cost = AmountField(
        label="Declared unit cost",
        required=False,
        help_text="What making one costs (materials and manufacturing), shown publicly. The platform's fee is "
        "taken on the price above it only.",
    )
    limit = forms.IntegerField(
        label="Limit",
        required=False,
        min_value=1,
        max_value=MAX_TIER_LIMIT,
        help_text="At most this many backers; leave empty for no limit.",
    )
    available_from = _datetime_field("Available from", required=False, help_text="Optional, UTC.")
    available_until = _datetime_field("Available until", required=False, help_text="Optional, UTC.")
    delivery_month = forms.DateField(
        label="Estimated delivery",
        required=False,
        input_formats=[MONTH_FORMAT],
        help_text="Month and year, e.g. 2027-03.",
        widget=forms.DateInput(attrs={"type": "month"}, format=MONTH_FORMAT),
    )
    shipping = ShippingField()

    def __init__(self, *args: Any, campaign: Campaign, versions: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        currency = campaign.currency
        _shipping_field(self).priced_in(currency)
        for name in ("price", "unit_cost"):
            field = self.fields[name]
            assert isinstance(field, AmountField)
            field.currency = currency
            field.label = f"{field.label} ({currency})"
        self.item_fields: list[tuple[str, Any]] = []
        for version in versions:
            name = f"item_{version.pk}"
            self.fields[name] = forms.IntegerField(
                label=f"{version.design.title}, version {version.number}: how many",
                required=False,
                min_value=0,
                max_value=MAX_ITEM_QUANTITY,
                initial=1,
                widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "quantity-input"}),
            )
            self.item_fields.append((name, version))

    def clean_unit_cost(self) -> int:
        return self.cleaned_data["unit_cost"] or 0

    def clean_delivery_month(self) -> date | None:
        month = self.cleaned_data["delivery_month"]
        return month.replace(day=1) if month else None

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for name in ("available_from", "available_until"):
            if isinstance(data.get(name), datetime) and timezone.is_naive(data[name]):
                data[name] = timezone.make_aware(data[name], timezone.get_current_timezone())
        return data

    def items(self) -> list[tuple[Any, int]]:
        return [(version, self.cleaned_data[name]) for name, version in self.item_fields if self.cleaned_data.get(name)]


def _shipping_field(form: forms.Form) -> ShippingField:
    field = form.fields["shipping"]
    assert isinstance(field, ShippingField)
    return field


class TierShippingForm(FundingForm):
    """The shipping rates of one of a draft's tiers; they replace the tier's rates."""

    tier = forms.ChoiceField(label="Reward", error_messages={"required": "Choose the reward."})
    shipping = ShippingField(rows=4)

    def __init__(self, *args: Any, campaign: Campaign, tiers: list[Tier], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tiers = {str(tier.pk): tier for tier in tiers}
        _choice_field(self, "tier").choices = [(str(tier.pk), tier.title) for tier in tiers]
        _shipping_field(self).priced_in(campaign.currency)

    def clean_tier(self) -> Tier:
        return self.tiers[self.cleaned_data["tier"]]


class AddOnForm(FundingForm):
    title = forms.CharField(label="Title", max_length=TITLE_MAX_LENGTH)
    description = forms.CharField(
        label="Description", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    price = AmountField(label="Price")
    unit_cost = AmountField(label="Declared unit cost", required=False, help_text="Shown publicly; the fee's basis.")

    def __init__(self, *args: Any, campaign: Campaign, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("price", "unit_cost"):
            field = self.fields[name]
            assert isinstance(field, AmountField)
            field.currency = campaign.currency
            field.label = f"{field.label} ({campaign.currency})"

    def clean_unit_cost(self) -> int:
        return self.cleaned_data["unit_cost"] or 0


class StretchGoalForm(FundingForm):
    threshold = AmountField(label="Amount", help_text="The pledged total that unlocks it; above the goal.")
    title = forms.CharField(label="Title", max_length=TITLE_MAX_LENGTH)
    description = forms.CharField(
        label="Description", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, campaign: Campaign, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["threshold"]
        assert isinstance(field, AmountField)
        field.currency = campaign.currency
        field.label = f"Amount ({campaign.currency})"
