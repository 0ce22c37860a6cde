"""Pages of crowdfunding: the campaigns (public), pledging and a backer's pledges, and the maker's campaign pages.

Views parse input with `funding.forms`, read through `funding.selectors` and write through one service of
`funding.services` or `funding.pledges`; they never write themselves. A pledge is reviewed before it is made: the
review shows the total and the platform's fee (MONEY.md) and carries a fresh Idempotency-Key, so a double click
on "Confirm" makes one pledge. Every refusal is shown next to the field it concerns and changes nothing.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from crowdmaker.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from crowdmaker.core.markdown import markdown_html
from crowdmaker.funding import images, pledges, referrals, selectors, services
from crowdmaker.funding.countries import COUNTRY_NAMES
from crowdmaker.funding.forms import (
    AddOnForm,
    CampaignForm,
    PledgeForm,
    StretchGoalForm,
    TierForm,
    TierShippingForm,
    faq_text,
    pledge_initial,
    shipping_text,
    uses_sandbox,
)
from crowdmaker.funding.models import AddOn, Campaign, CampaignStatus, FundingModel, Pledge, PledgeStatus
from crowdmaker.funding.views_access import me as _me
from crowdmaker.funding.views_access import viewer as _viewer
from crowdmaker.ledger.money import Money, fee_rate
from crowdmaker.ledger.payments import GatewayDown, PaymentDeclined
from crowdmaker.people.models import User

REQUEST_KEY = re.compile(r"^[0-9a-f]{32}$")  # the review step's Idempotency-Key: uuid4().hex
DECLINE_REASONS = {
    "card_declined": "the card was declined",
    "insufficient_funds": "the card has not enough money",
}


def _campaign(request: HttpRequest, slug: str) -> Campaign:
    """The campaign at `slug`; a draft exists only for its editors (anyone else gets the 404 page)."""
    try:
        campaign = selectors.campaign_by_slug(slug=slug)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if campaign.status == CampaignStatus.DRAFT and not selectors.campaign_can_edit(
        campaign=campaign, user=_viewer(request)
    ):
        raise Http404("No campaign has this address.")
    return campaign


def _ledger_url(campaign: Campaign) -> str | None:
    if campaign.status == CampaignStatus.DRAFT:
        return None
    try:
        return reverse("ledger:owner_ledger", kwargs={"kind": "campaign", "owner_id": str(campaign.pk)})
    except NoReverseMatch:
        return None


def _fee_rate_text() -> str:
    """The configured platform fee rate as people read it: "10 %"."""
    rate = fee_rate(settings.CROWDMAKER_PLATFORM_FEE_RATE) * 100
    return f"{(Decimal(rate.numerator) / Decimal(rate.denominator)).normalize():f} %"


# --- public pages -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignCard:
    campaign: Campaign
    owner: str
    pledged: Money
    goal: Money
    percent: int
    backers: int


def _card(campaign: Campaign) -> CampaignCard:
    pledged = int(getattr(campaign, "pledged", 0))
    return CampaignCard(
        campaign=campaign,
        owner=selectors.campaign_owner_name(campaign),
        pledged=Money(pledged, campaign.currency),
        goal=Money(campaign.goal, campaign.currency),
        percent=pledged * 100 // campaign.goal,
        backers=int(getattr(campaign, "backers", 0)),
    )


@require_safe
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = (
        selectors.campaigns_public()
        .select_related("owner_user__profile", "owner_team")
        .prefetch_related(images.cover_prefetch())
    )
    me = _viewer(request)
    mine = (
        list(
            selectors.campaigns_editable_by(user=me)
            .select_related("owner_user__profile", "owner_team")
            .prefetch_related(images.cover_prefetch())
        )
        if me
        else []
    )
    return render(
        request,
        "funding/campaign_list.html",
        {
            "live": [_card(c) for c in campaigns if c.status == CampaignStatus.LIVE],
            "ended": [_card(c) for c in campaigns if c.status != CampaignStatus.LIVE],
            "mine": [_card(c) for c in mine],
            "now": timezone.now(),
        },
    )


@dataclass(frozen=True)
class TierView:
    tier: Any
    price: Money
    unit_cost: Money
    places_left: int | None
    available: bool
    items: list[Any]
    shipping: str  # "Ships to Europe 8.00 EUR, …"; "" when nothing ships


def _tier_views(campaign: Campaign) -> list[TierView]:
    now = timezone.now()
    return [
        TierView(
            tier=tier,
            price=Money(tier.price, campaign.currency),
            unit_cost=Money(tier.unit_cost, campaign.currency),
            places_left=selectors.tier_places_left(tier),
            available=selectors.tier_available(tier, now),
            items=list(tier.items.all()),
            shipping=shipping_text(tier.shipping_rates.all(), campaign.currency),
        )
        for tier in selectors.campaign_tiers(campaign=campaign)
    ]


@dataclass(frozen=True)
class AddOnView:
    addon: AddOn
    price: Money
    unit_cost: Money


def _addon_views(campaign: Campaign) -> list[AddOnView]:
    return [
        AddOnView(addon, Money(addon.price, campaign.currency), Money(addon.unit_cost, campaign.currency))
        for addon in AddOn.objects.filter(campaign=campaign).order_by("position", "id")
    ]


def _campaign_context(request: HttpRequest, campaign: Campaign) -> dict[str, Any]:
    now = timezone.now()
    return {
        "campaign": campaign,
        "owner_name": selectors.campaign_owner_name(campaign),
        "progress": selectors.campaign_progress(campaign=campaign),
        "tiers": _tier_views(campaign),
        "addons": _addon_views(campaign),
        "versions": selectors.campaign_design_versions(campaign=campaign),
        "shares": selectors.campaign_shares(campaign=campaign),
        "is_open": selectors.campaign_is_open(campaign=campaign, now=now),
        "not_started": campaign.status == CampaignStatus.LIVE and now < campaign.starts_at,
        "ended": campaign.status != CampaignStatus.DRAFT and now >= campaign.deadline,
        "can_edit": selectors.campaign_can_edit(campaign=campaign, user=_viewer(request)),
        "ledger_url": _ledger_url(campaign),
        "fee_rate": _fee_rate_text(),
    }


@require_safe
def campaign_detail(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(request, slug)
    viewer = _viewer(request)
    # ?ref=<handle>: the first share link followed to this campaign is credited with the pledge made from here.
    referrals.referral_remember(session=request.session, campaign=campaign, ref=request.GET.get("ref"), viewer=viewer)
    context = _campaign_context(request, campaign)
    context.update(story_html=markdown_html(campaign.story), risks_html=markdown_html(campaign.risks))
    context["faq"] = [{"question": e["question"], "answer_html": markdown_html(e["answer"])} for e in campaign.faq]
    if viewer is not None and campaign.status == CampaignStatus.LIVE:
        context["share_url"] = request.build_absolute_uri(referrals.share_path(campaign=campaign, member=viewer))
    return render(request, "funding/campaign_detail.html", context)


# --- pledging: form, review, confirm ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuoteView:
    """A pledge's amounts as the review shows them, each as Money."""

    tier: Any
    reward: Money
    addons: list[tuple[AddOn, int, Money]]
    extra: Money
    shipping: Money
    shipping_country: str  # the country's name; "" when nothing ships
    total: Money
    unit_cost: Money
    fee: Money
    to_campaign: Money
    flexible: bool


def _quote_view(campaign: Campaign, form: PledgeForm, quote: pledges.PledgeQuote) -> QuoteView:
    currency = quote.currency
    tier = form.cleaned_data["tier"]
    return QuoteView(
        tier=tier,
        reward=Money(tier.price if tier else 0, currency),
        addons=[(addon, quantity, Money(addon.price * quantity, currency)) for addon, quantity in quote.addons],
        extra=Money(quote.extra_amount, currency),
        shipping=Money(quote.shipping_amount, currency),
        shipping_country=COUNTRY_NAMES.get(quote.shipping_country, ""),
        total=Money(quote.amount, currency),
        unit_cost=Money(quote.unit_cost, currency),
        fee=Money(quote.fee, currency),
        to_campaign=Money(quote.amount - quote.fee, currency),
        flexible=campaign.funding_model == FundingModel.FLEXIBLE,
    )


def _pledge_form(campaign: Campaign, data: Any = None, initial: dict[str, Any] | None = None) -> PledgeForm:
    tiers = list(selectors.campaign_tiers(campaign=campaign))
    addons = list(AddOn.objects.filter(campaign=campaign).order_by("position", "id"))
    return PledgeForm(
        data, initial=initial, campaign=campaign, tiers=tiers, addons=addons, sandbox_cards=uses_sandbox()
    )


def _quote(campaign: Campaign, form: PledgeForm) -> pledges.PledgeQuote | None:
    """The quote of a valid form, or None with the refusal added to the form."""
    try:
        return pledges.pledge_quote(
            campaign=campaign, tier=form.cleaned_data["tier"], addons=form.addons(), extra=form.cleaned_data["extra"],
            shipping_country=form.shipping_country(),
        )  # fmt: skip
    except DomainError as exc:
        form.add_domain_error(exc)
        return None


def _declined_message(backer: User, request_key: str) -> str:
    declined = selectors.pledge_by_request(backer=backer, request_key=request_key)
    code = declined.payment.failure_code if declined is not None and declined.payment is not None else ""
    reason = DECLINE_REASONS.get(code, "the card was declined")
    return f"The pledge was not made: {reason}. Nothing is held on your card; choose another card and try again."


@dataclass
class PledgeStep:
    """Where a pledge form posts and what it changes: a new pledge of `campaign`, or `replacing` one."""

    campaign: Campaign
    action_url: str
    replacing: Pledge | None = None


def _render_form(request: HttpRequest, step: PledgeStep, form: PledgeForm, status: int = 200) -> HttpResponse:
    if step.replacing is not None:
        return _render_pledge_detail(request, step.replacing, form, status=status)
    context = _campaign_context(request, step.campaign)
    context.update(form=form, step=step)
    return render(request, "funding/pledge_form.html", context, status=status)


def _render_review(
    request: HttpRequest, step: PledgeStep, form: PledgeForm, quote: pledges.PledgeQuote, request_key: str,
    status: int = 200,
) -> HttpResponse:  # fmt: skip
    context = {
        "campaign": step.campaign,
        "step": step,
        "form": form,
        "quote": _quote_view(step.campaign, form, quote),
        "request_key": request_key,
        "fee_rate": _fee_rate_text(),
    }
    return render(request, "funding/pledge_review.html", context, status=status)


def _pledge_post(request: HttpRequest, step: PledgeStep) -> HttpResponse:
    """The POST of a pledge form: `quote` (htmx live summary), `edit` (back to the form), `review`, `confirm`."""
    campaign, me = step.campaign, _me(request)
    action = request.POST.get("action", "review")
    form = _pledge_form(campaign, request.POST)
    if action == "quote":
        quote = _quote(campaign, form) if form.is_valid() else None
        summary = _quote_view(campaign, form, quote) if quote else None
        return render(request, "funding/_pledge_summary.html", {"quote": summary, "fee_rate": _fee_rate_text()})
    if not form.is_valid():
        return _render_form(request, step, form, status=400)
    if action == "edit":
        return _render_form(request, step, form)
    quote = _quote(campaign, form)
    if quote is None:
        return _render_form(request, step, form, status=422)
    request_key = request.POST.get("request_key", "")
    if action != "confirm" or not REQUEST_KEY.fullmatch(request_key):
        return _render_review(request, step, form, quote, uuid.uuid4().hex)
    data = form.cleaned_data
    arguments = {"payment_method": data["card"], "tier": data["tier"], "addons": form.addons(), "extra": data["extra"],
                 "shipping_country": form.shipping_country()}  # fmt: skip
    try:
        if step.replacing is None:
            referrer = referrals.referral_for(session=request.session, campaign=campaign, backer=me)
            pledge = pledges.pledge_create(backer=me, campaign=campaign, request_key=request_key, referrer=referrer,
                                           **arguments)  # fmt: skip
        else:
            pledge = pledges.pledge_change(backer=me, pledge_id=step.replacing.pk, request_key=request_key, **arguments)
    except PaymentDeclined:
        form.add_error("card", _declined_message(me, request_key))
        return _render_form(request, step, form, status=PaymentDeclined.status)
    except GatewayDown:
        form.add_error(
            None,
            "The payment service did not answer. Nothing was charged; confirm again to retry (it will not be "
            "charged twice).",
        )
        return _render_review(request, step, form, quote, request_key, status=GatewayDown.status)
    except DomainError as exc:
        if isinstance(exc, Forbidden) and exc.code != "own_campaign":
            raise PermissionDenied(exc.message) from exc
        form.add_domain_error(exc)
        return _render_form(request, step, form, status=exc.status)
    if pledge.status == PledgeStatus.DECLINED:  # the key of a declined attempt, sent again
        form.add_error("card", _declined_message(me, request_key))
        return _render_form(request, step, form, status=PaymentDeclined.status)
    if step.replacing is not None:
        messages.success(request, f"Your pledge is changed: {Money(pledge.amount, campaign.currency)} now.")
        return redirect("funding:pledge_detail", pledge_id=pledge.pk)
    return redirect("funding:pledge_thanks", pledge_id=pledge.pk)


@login_required
@require_http_methods(["GET", "POST"])
def pledge_new(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(request, slug)
    step = PledgeStep(campaign, reverse("funding:pledge_new", kwargs={"slug": campaign.slug}))
    if not selectors.campaign_is_open(campaign=campaign):
        context = _campaign_context(request, campaign)
        context.update(form=None, step=step)
        return render(request, "funding/pledge_form.html", context, status=200 if request.method == "GET" else 409)
    if request.method == "POST":
        return _pledge_post(request, step)
    tier = request.GET.get("tier", "")
    return _render_form(request, step, _pledge_form(campaign, initial={"tier": tier} if tier.isdigit() else None))


def _own_pledge(request: HttpRequest, pledge_id: int) -> Pledge:
    try:
        return selectors.pledge_of(backer=_me(request), pledge_id=pledge_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
@require_safe
def pledge_thanks(request: HttpRequest, pledge_id: int) -> HttpResponse:
    pledge = _own_pledge(request, pledge_id)
    return render(request, "funding/pledge_thanks.html", _pledge_context(pledge))


# --- a backer's pledges ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PledgeRow:
    pledge: Pledge
    amount: Money
    fee: Money | None
    shipping: Money | None = None  # None when nothing ships
    shipping_country: str = ""  # the country's name


def _row(pledge: Pledge) -> PledgeRow:
    currency = pledge.campaign.currency
    fee = Money(pledge.payment.fee_quoted, currency) if pledge.payment is not None else None
    shipping = Money(pledge.shipping_amount, currency) if pledge.shipping_country else None
    return PledgeRow(pledge, Money(pledge.amount, currency), fee, shipping,
                     COUNTRY_NAMES.get(pledge.shipping_country, pledge.shipping_country))  # fmt: skip


@login_required
@require_safe
def pledge_list(request: HttpRequest) -> HttpResponse:
    rows = [_row(pledge) for pledge in selectors.pledges_of(backer=_me(request))]
    return render(request, "funding/pledge_list.html", {"rows": rows})


def _pledge_context(pledge: Pledge) -> dict[str, Any]:
    currency = pledge.campaign.currency
    return {
        "pledge": pledge,
        "row": _row(pledge),
        "campaign": pledge.campaign,
        "reward": Money(pledge.reward_amount, currency),
        "extra": Money(pledge.extra_amount, currency),
        "addons": [(item, Money(item.price * item.quantity, currency)) for item in pledge.addons.all()],
        "replaced_by": selectors.pledge_replacement(pledge=pledge),
        "survey_response": selectors.survey_response_of(pledge=pledge),
        "can_change": selectors.pledge_can_change(pledge=pledge),
        "flexible": pledge.campaign.funding_model == FundingModel.FLEXIBLE,
    }


def _render_pledge_detail(
    request: HttpRequest, pledge: Pledge, form: PledgeForm | None, status: int = 200
) -> HttpResponse:
    context = _pledge_context(pledge)
    if context["can_change"]:
        form = form or _pledge_form(pledge.campaign, initial=pledge_initial(pledge))
        action_url = reverse("funding:pledge_detail", kwargs={"pledge_id": pledge.pk})
        context.update(form=form, step=PledgeStep(pledge.campaign, action_url, replacing=pledge))
    return render(request, "funding/pledge_detail.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def pledge_detail(request: HttpRequest, pledge_id: int) -> HttpResponse:
    """A pledge with its status; while it can change, the form to change its tier or amount (reviewed first)."""
    pledge = _own_pledge(request, pledge_id)
    if request.method == "GET":
        return _render_pledge_detail(request, pledge, None)
    if not selectors.pledge_can_change(pledge=pledge):
        messages.error(request, "This pledge can no longer be changed.")
        return _render_pledge_detail(request, pledge, None, status=409)
    step = PledgeStep(pledge.campaign, reverse("funding:pledge_detail", kwargs={"pledge_id": pledge.pk}), pledge)
    return _pledge_post(request, step)


@login_required
@require_http_methods(["GET", "POST"])
def pledge_cancel(request: HttpRequest, pledge_id: int) -> HttpResponse:
    """Asks to confirm, then cancels: the authorization is voided and the reward's place freed."""
    pledge = _own_pledge(request, pledge_id)
    context = _pledge_context(pledge)
    if request.method == "GET":
        return render(request, "funding/pledge_cancel.html", context)
    try:
        pledges.pledge_cancel(backer=_me(request), pledge_id=pledge.pk)
    except DomainError as exc:
        context["error"] = exc.message
        return render(request, "funding/pledge_cancel.html", context, status=exc.status)
    messages.success(request, "Your pledge is cancelled: nothing will be taken from your card.")
    return redirect("funding:pledge_detail", pledge_id=pledge.pk)


# --- the maker's pages -----------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    versions = list(selectors.editable_design_versions(user=me))
    if request.method == "GET":
        initial = {"design_versions": [request.GET["version"]]} if request.GET.get("version", "").isdigit() else None
        form = CampaignForm(initial=initial, user=me, versions=versions)
        return render(request, "funding/campaign_form.html", {"form": form, "has_versions": bool(versions)})
    form = CampaignForm(request.POST, user=me, versions=versions)
    if not form.is_valid():
        return render(request, "funding/campaign_form.html", {"form": form, "has_versions": bool(versions)}, status=400)
    data = form.cleaned_data
    try:
        campaign = services.campaign_create(
            actor=me, slug=data["slug"], title=data["title"], design_versions=data["design_versions"],
            goal=data["goal"], currency=data["currency"], starts_at=data["starts_at"], deadline=data["deadline"],
            summary=data["summary"], story=data["story"], risks=data["risks"], faq=data["faq"],
            funding_model=data["funding_model"], team=data["owner"],
        )  # fmt: skip
    except DomainError as exc:
        form.add_domain_error(exc)
        return render(
            request, "funding/campaign_form.html", {"form": form, "has_versions": bool(versions)}, status=exc.status
        )
    messages.success(request, f"“{campaign.title}” is saved as a draft: add its rewards, then publish it.")
    return redirect("funding:campaign_edit", slug=campaign.slug)


EDIT_FORMS: dict[str, type[Any]] = {
    "tier": TierForm,
    "shipping": TierShippingForm,
    "addon": AddOnForm,
    "stretch": StretchGoalForm,
}


def _edit_forms(campaign: Campaign, versions: list[Any], bound: tuple[str, Any] | None = None) -> dict[str, Any]:
    forms: dict[str, Any] = {}
    tiers = list(campaign.tiers.order_by("position", "id"))
    for name, form_class in EDIT_FORMS.items():
        data = bound[1] if bound and bound[0] == name else None
        extra: dict[str, Any] = {"versions": versions} if form_class is TierForm else {}
        if form_class is TierShippingForm:
            extra = {"tiers": tiers}
        forms[f"{name}_form"] = form_class(data, prefix=name, campaign=campaign, **extra)
    return forms


def _add(me: User, campaign: Campaign, name: str, form: Any) -> str:
    """Calls the service that adds what `form` holds; the message to show."""
    data = form.cleaned_data
    if name == "tier":
        tier = services.tier_add(
            actor=me, campaign=campaign, title=data["title"], price=data["price"], description=data["description"],
            unit_cost=data["unit_cost"], limit=data["limit"], items=form.items(),
            available_from=data["available_from"], available_until=data["available_until"],
            delivery_month=data["delivery_month"], shipping=data["shipping"],
        )  # fmt: skip
        return f"The reward “{tier.title}” is added."
    if name == "shipping":
        rates = services.tier_shipping_set(actor=me, tier=data["tier"], rates=data["shipping"])
        shipping = shipping_text(rates, campaign.currency) or "Not shipped"
        return f"The shipping of “{data['tier'].title}” is set: {shipping}."
    if name == "addon":
        addon = services.addon_add(actor=me, campaign=campaign, title=data["title"], price=data["price"],
                                   unit_cost=data["unit_cost"], description=data["description"])  # fmt: skip
        return f"The add-on “{addon.title}” is added."
    goal = services.stretch_goal_add(actor=me, campaign=campaign, threshold=data["threshold"], title=data["title"],
                                     description=data["description"])  # fmt: skip
    return f"The stretch goal “{goal.title}” is added."


@login_required
@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """A draft's rewards, add-ons and stretch goals, added one form at a time, and publishing; a published
    campaign's page shows its fixed terms."""
    campaign = _campaign(request, slug)
    me = _me(request)
    if not selectors.campaign_can_edit(campaign=campaign, user=me):
        raise PermissionDenied("Only the campaign's owners and maintainers may edit it.")
    versions = selectors.campaign_design_versions(campaign=campaign)
    draft = campaign.status == CampaignStatus.DRAFT
    forms = _edit_forms(campaign, versions) if draft else {}
    status, edit_error = 200, ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if not draft:
                raise Conflict("A published campaign's terms are fixed; backers pledged against them.")
            if action == "publish":
                services.campaign_publish(actor=me, campaign=campaign)
                messages.success(request, f"“{campaign.title}” is published: backers can pledge from its start.")
                return redirect("funding:campaign_detail", slug=campaign.slug)
            if action not in EDIT_FORMS:
                raise Invalid("Choose what to add: a reward, its shipping, an add-on or a stretch goal.")
            forms = _edit_forms(campaign, versions, (action, request.POST))
            form = forms[f"{action}_form"]
            if form.is_valid():
                try:
                    messages.success(request, _add(me, campaign, action, form))
                    return redirect("funding:campaign_edit", slug=campaign.slug)
                except Forbidden:
                    raise
                except DomainError as exc:
                    form.add_domain_error(exc)
                    status = exc.status
            else:
                status = 400
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            edit_error, status = exc.message, exc.status
    context = _campaign_context(request, campaign)
    context.update(draft=draft, edit_error=edit_error, faq_text=faq_text(campaign.faq), **forms)
    return render(request, "funding/campaign_edit.html", context, status=status)
