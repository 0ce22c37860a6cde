"""Pages of refunds for a campaign's editors: the form that refunds a captured pledge (everything left or chosen
items, a reason, a message to the backer) and the campaign's refunds with their status, a failed one with a Retry
button. The backer sees their pledge's refunds on its page (`templatetags.funding_refunds`).

Views parse input with `funding.forms_refunds`, read through the selectors of `funding.refunds` and write through
one of its services; a refusal is shown next to the field it concerns and changes nothing. Editors only (403 to
anyone else); a draft is 404 to all but its editors.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from crowdmaker.core.errors import DomainError, Forbidden, NotFound
from crowdmaker.core.text import positive_int
from crowdmaker.funding import refunds
from crowdmaker.funding.forms_refunds import TOKEN, RefundForm
from crowdmaker.funding.models import Campaign, Pledge, Refund, RefundStatus
from crowdmaker.funding.views_access import editor_campaign, me
from crowdmaker.ledger.money import Money

REFUNDS_PER_PAGE = 50


def _pledge(campaign: Campaign, pledge_id: int) -> Pledge:
    try:
        return refunds.pledge_of_campaign(campaign=campaign, pledge_id=pledge_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _render_form(request: HttpRequest, campaign: Campaign, pledge: Pledge, form: RefundForm,
                 status: int = 200) -> HttpResponse:  # fmt: skip
    context = {
        "campaign": campaign,
        "pledge": pledge,
        "form": form,
        "pledged": Money(pledge.amount, campaign.currency),
        "left": bool(form.left),
        "earlier": [
            (refund, Money(refund.amount, campaign.currency)) for refund in refunds.refunds_of_pledge(pledge=pledge)
        ],
    }
    return render(request, "funding/refund_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def refund_new(request: HttpRequest, slug: str, pledge_id: int) -> HttpResponse:
    campaign = editor_campaign(request, slug, may="refund its backers")
    pledge = _pledge(campaign, pledge_id)
    left = refunds.refundable_items(pledge=pledge)
    if request.method == "GET":
        return _render_form(request, campaign, pledge, RefundForm(left=left, currency=campaign.currency))
    form = RefundForm(request.POST, left=left, currency=campaign.currency)
    token = request.POST.get("token", "")
    sent = refunds.refund_made_with(pledge=pledge, reference=f"refund-form-{token}") if TOKEN.fullmatch(token) else None
    if sent is not None:  # the form sent again (a double click, a reload): the refund it made, not another
        return _refunded(request, campaign, refunds.refund_resume(refund=sent))
    if not form.is_valid():
        return _render_form(request, campaign, pledge, form, status=400)
    full, items = form.choices()
    try:
        refund = refunds.refund_create(actor=me(request), pledge=pledge, full=full, items=items,
                                       reason=form.cleaned_data["reason"], message=form.cleaned_data["message"],
                                       reference=f"refund-form-{form.cleaned_data['token']}")  # fmt: skip
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        form.add_domain_error(exc)
        return _render_form(request, campaign, pledge, form, status=exc.status)
    return _refunded(request, campaign, refund)


def _refunded(request: HttpRequest, campaign: Campaign, refund: Refund) -> HttpResponse:
    amount = Money(refund.amount, campaign.currency)
    if refund.status == RefundStatus.FAILED:
        messages.error(request, f"The refund of {amount} on pledge #{refund.pledge_id} failed: {refund.failure} "
                                "Retry it.")  # fmt: skip
    elif refund.status == RefundStatus.PENDING:
        messages.warning(request, f"The refund of {amount} on pledge #{refund.pledge_id} is waiting for the payment "
                                  "gateway; it is finished within minutes.")  # fmt: skip
    else:
        messages.success(request, f"{amount} of pledge #{refund.pledge_id} is refunded; the backer is told by e-mail.")
    return redirect(reverse("funding:refund_list", args=[campaign.slug]) + f"#refund-{refund.pk}")


@login_required
@require_safe
def refund_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The campaign's refunds; `?pledge=<number>` opens the refund form of that pledge (how a pledge without a reward,
    which the backers page does not list, is refunded from the pages)."""
    campaign = editor_campaign(request, slug, may="refund its backers")
    status, asked = 200, request.GET.get("pledge", "").strip().lstrip("#")
    if asked:
        number = positive_int(asked)
        try:
            pledge = refunds.pledge_of_campaign(campaign=campaign, pledge_id=number) if number is not None else None
        except NotFound:
            pledge = None
        if pledge is not None:
            return redirect("funding:refund_new", slug=campaign.slug, pledge_id=pledge.pk)
        status = 404
        messages.error(request, f"This campaign has no pledge #{asked[:20]}: give the number shown on the backers "
                                "page or in the backer report.")  # fmt: skip
    page = Paginator(refunds.refunds_of_campaign(campaign=campaign), REFUNDS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [(refund, Money(refund.amount, campaign.currency)) for refund in page]
    return render(request, "funding/refund_list.html", {"campaign": campaign, "page": page, "rows": rows},
                  status=status)  # fmt: skip


@login_required
@require_POST
def refund_retry(request: HttpRequest, slug: str, refund_id: int) -> HttpResponse:
    campaign = editor_campaign(request, slug, may="refund its backers")
    try:
        refund = refunds.refund_of_campaign(campaign=campaign, refund_id=refund_id)
        refund = refunds.refund_retry(actor=me(request), refund=refund)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, f"Refund #{refund_id} was not retried: {exc.message}")
        return redirect(reverse("funding:refund_list", args=[campaign.slug]) + f"#refund-{refund_id}")
    if refund.status == RefundStatus.FAILED:
        messages.error(request, f"Refund #{refund.pk} failed again: {refund.failure}")
    else:
        messages.success(request, f"Refund #{refund.pk} went through; the backer is told by e-mail.")
    return redirect(reverse("funding:refund_list", args=[campaign.slug]) + f"#refund-{refund.pk}")
