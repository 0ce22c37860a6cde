"""Pages where makers talk to their backers and ship their rewards: updates (list, one, post), comments, the survey
(the makers' opening and the backer's answer), the makers' backers page (totals, fulfilment, messages) and the
backer report CSV.

Views parse input with `funding.forms_backers`, read through the selectors of `funding.updates`,
`funding.surveys` and `funding.fulfilment`, and write through one of their services; a refusal is shown next to
the field it concerns and changes nothing. Pages for editors answer 403 to anyone else; a draft is 404 to all but
its editors, as on the campaign's own page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.middleware import HtmxDetails

from crowdmaker.core.errors import DomainError, Forbidden, Invalid, NotFound
from crowdmaker.core.text import positive_int
from crowdmaker.funding import fulfilment, reports, selectors, surveys, updates
from crowdmaker.funding.backers import pledges_to_ship
from crowdmaker.funding.forms_backers import (
    CommentForm,
    CommentHideForm,
    FulfilmentForm,
    MessageForm,
    SurveyAnswerForm,
    SurveyOpenForm,
    UpdateForm,
    survey_initial,
)
from crowdmaker.funding.models import Campaign, CampaignStatus, FulfilmentStatus, Tier
from crowdmaker.funding.views_access import editor_campaign, me, viewer, visible_campaign

ROWS_PER_PAGE = 50  # rewards per page of the backers page
HTMX_VARY = ("HX-Request", "HX-Boosted", "HX-History-Restore-Request")  # what chooses a fragment over a page
# The backers page's filters: ?show=<key>.
FILTERS = {
    "all": "All rewards",
    "not-sent": "Not sent",
    "sent": "Sent",
    "delivered": "Delivered",
    "unanswered": "Survey not answered",
}


def _tiers(campaign: Campaign) -> list[Tier]:
    return list(Tier.objects.filter(campaign=campaign).order_by("position", "id"))


def _refused(exc: DomainError) -> None:
    """A refusal that is not about a field of the form: the actor may not do this at all."""
    if isinstance(exc, Forbidden):
        raise PermissionDenied(exc.message) from exc


# --- updates ----------------------------------------------------------------------------------------------------


@require_safe
def update_list(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = visible_campaign(request, slug)
    context = {
        "campaign": campaign,
        "updates": updates.updates_for(campaign=campaign, viewer=viewer(request)),
        "can_edit": selectors.campaign_can_edit(campaign=campaign, user=viewer(request)),
    }
    return render(request, "funding/update_list.html", context)


@require_safe
def update_detail(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    campaign = visible_campaign(request, slug)
    try:
        view = updates.update_of(campaign=campaign, number=number, viewer=viewer(request))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return render(request, "funding/update_detail.html", {"campaign": campaign, "view": view})


@login_required
@require_http_methods(["GET", "POST"])
def update_new(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = editor_campaign(request, slug, may="see this page")
    tiers = _tiers(campaign)
    form = UpdateForm(request.POST or None, tiers=tiers)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                update = updates.update_post(actor=me(request), campaign=campaign, title=data["title"],
                                             body=data["body"], audience=data["audience"],
                                             tiers=form.chosen_tiers())  # fmt: skip
            except DomainError as exc:
                _refused(exc)
                form.add_domain_error(exc)
                status = exc.status
            else:
                count = updates.update_recipients_count(update=update)
                messages.success(request, f"Update #{update.number} is posted and being e-mailed to {count} "
                                          f"backer{'s' if count != 1 else ''}.")  # fmt: skip
                return redirect("funding:update_detail", slug=campaign.slug, number=update.number)
    context = {"campaign": campaign, "form": form, "draft": campaign.status == CampaignStatus.DRAFT}
    return render(request, "funding/update_form.html", context, status=status)


# --- comments ---------------------------------------------------------------------------------------------------


def _partial(request: HttpRequest) -> bool:
    """Whether htmx asks for a fragment (not a boosted link or a history restore, which want the whole page)."""
    htmx = getattr(request, "htmx", None)
    return isinstance(htmx, HtmxDetails) and bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def _comments_context(request: HttpRequest, campaign: Campaign, page: updates.CommentPage) -> dict[str, Any]:
    member = viewer(request)
    return {
        "campaign": campaign,
        "page": page,
        "can_comment": updates.comment_can_post(campaign=campaign, user=member),
        "can_reply": selectors.campaign_can_edit(campaign=campaign, user=member),
        "can_moderate": page.can_moderate,
    }


def _render_comments(request: HttpRequest, campaign: Campaign, form: CommentForm | None = None,
                     reply_to: int | None = None, status: int = 200, before: int | None = None) -> HttpResponse:  # fmt: skip
    try:
        page = updates.comments_page(campaign=campaign, viewer=viewer(request), before=before)
    except Invalid as exc:  # a `before` that is no comment of this campaign: no such page
        raise Http404(exc.message) from exc
    context = _comments_context(request, campaign, page)
    context.update(comment_form=form if form is not None and reply_to is None else CommentForm(),
                   reply_form=form if reply_to is not None else None, reply_to=reply_to, before=before)  # fmt: skip
    # htmx's "Older comments" swaps in the next page's comments alone; the same URL is the whole page otherwise.
    template = "funding/_comment_page.html" if _partial(request) else "funding/update_comments.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, HTMX_VARY)
    return response


@require_http_methods(["GET", "POST"])
def campaign_comments(request: HttpRequest, slug: str) -> HttpResponse:
    """The comments (and the editors' answers), newest first, a page at a time (`before`: the last comment of the
    previous page); a POST comments, or answers the comment `parent` (editors)."""
    campaign = visible_campaign(request, slug)
    if request.method == "GET":
        before = request.GET.get("before", "")
        cursor = positive_int(before)
        if before and cursor is None:
            raise Http404("No such page of comments.")
        return _render_comments(request, campaign, before=cursor)
    if not request.user.is_authenticated:
        return redirect(f"{reverse('people:login')}?next={request.path}")
    parent = request.POST.get("parent", "")
    reply_to = positive_int(parent)
    if parent and reply_to is None:
        raise Http404("No such comment to answer.")
    form = CommentForm(request.POST, prefix=f"reply-{reply_to}" if reply_to else None, reply=reply_to is not None)
    if not form.is_valid():
        return _render_comments(request, campaign, form, reply_to, status=400)
    try:
        comment = updates.comment_post(actor=me(request), campaign=campaign, body=form.cleaned_data["body"],
                                       parent_id=reply_to)  # fmt: skip
    except DomainError as exc:
        _refused(exc)
        form.add_domain_error(exc)
        return _render_comments(request, campaign, form, reply_to, status=exc.status)
    messages.success(request, "Your answer is posted." if reply_to else "Your comment is posted.")
    return redirect(reverse("funding:campaign_comments", args=[campaign.slug]) + f"#comment-{comment.pk}")


def _moderated(request: HttpRequest, campaign: Campaign, comment_id: int, done: str, error: str = "",
               status: int = 200) -> HttpResponse:  # fmt: skip
    """After hiding or unhiding: htmx gets the comment again (with the refusal, if any); a plain form goes back to
    the comments page at the comment with a message (a refusal: the page, with its status)."""
    if _partial(request):
        view = updates.comment_view_of(campaign=campaign, viewer=viewer(request), comment_id=comment_id)
        page = updates.CommentPage([view], None, updates.comment_can_moderate(campaign=campaign, user=viewer(request)))
        context = _comments_context(request, campaign, page)
        context.update(view=view, reply=view, moderation_error=error, moderated=comment_id, reply_to=None,
                       reply_form=None)  # fmt: skip
        template = (
            "funding/update_comment_item.html" if view.comment.parent_id is None else "funding/_comment_reply.html"
        )
        return render(request, template, context, status=status)
    if error:
        messages.error(request, error)
        return _render_comments(request, campaign, status=status)
    messages.success(request, done)
    return redirect(reverse("funding:campaign_comments", args=[campaign.slug]) + f"#comment-{comment_id}")


def _moderation_refused(exc: DomainError) -> None:
    """A refusal that is no fault of the form: not a moderator (403 page), or no such comment (404 page)."""
    _refused(exc)
    if isinstance(exc, NotFound):
        raise Http404(exc.message) from exc


@login_required
@require_POST
def comment_hide(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    """Hide a comment or an answer (editors and operators), with an optional reason."""
    campaign = visible_campaign(request, slug)
    form = CommentHideForm(request.POST, prefix=f"hide-{comment_id}")
    if not form.is_valid():
        return _moderated(request, campaign, comment_id, "", error=str(form.errors["reason"][0]), status=400)
    try:
        updates.comment_hide(actor=me(request), campaign=campaign, comment_id=comment_id,
                             reason=form.cleaned_data["reason"])  # fmt: skip
    except DomainError as exc:
        _moderation_refused(exc)
        return _moderated(request, campaign, comment_id, "", error=exc.message, status=exc.status)
    return _moderated(
        request, campaign, comment_id, "The comment is hidden: only its author and the moderators see it."
    )


@login_required
@require_POST
def comment_unhide(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    """Show a hidden comment or answer to everyone again (editors and operators)."""
    campaign = visible_campaign(request, slug)
    try:
        updates.comment_unhide(actor=me(request), campaign=campaign, comment_id=comment_id)
    except DomainError as exc:
        _moderation_refused(exc)
        return _moderated(request, campaign, comment_id, "", error=exc.message, status=exc.status)
    return _moderated(request, campaign, comment_id, "The comment is shown to everyone again.")


# --- the survey -------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def survey_setup(request: HttpRequest, slug: str) -> HttpResponse:
    """The makers' survey page: open it once the campaign succeeded; then its answers so far and its lock date."""
    campaign = editor_campaign(request, slug, may="see this page")
    survey = surveys.survey_of(campaign=campaign)
    tiers = _tiers(campaign)
    initial = {"address_lock_at": survey.address_lock_at} if survey is not None else None
    form = SurveyOpenForm(request.POST or None, initial=initial, tiers=tiers, prefix="survey")
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                if survey is None:
                    surveys.survey_open(actor=me(request), campaign=campaign,
                                        address_lock_at=data["address_lock_at"], questions=form.questions(),
                                        intro=data["intro"])  # fmt: skip
                    messages.success(request, "The survey is open: your backers are being e-mailed.")
                else:
                    surveys.survey_lock_move(actor=me(request), campaign=campaign,
                                             address_lock_at=data["address_lock_at"])  # fmt: skip
                    messages.success(request, "The lock date is moved.")
                return redirect("funding:survey_setup", slug=campaign.slug)
            except DomainError as exc:
                _refused(exc)
                form.add_domain_error(exc)
                status = exc.status
    context: dict[str, Any] = {
        "campaign": campaign,
        "survey": survey,
        "form": form,
        "succeeded": campaign.status == CampaignStatus.SUCCEEDED,
    }
    if survey is not None:
        context.update(
            counts=surveys.survey_counts(survey=survey),
            questions=surveys.survey_questions(survey=survey),
            is_open=surveys.survey_is_open(survey),
        )
    return render(request, "funding/survey_setup.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def survey_answer(request: HttpRequest, pledge_id: int) -> HttpResponse:
    """The backer's survey for one pledge: their address and options; they may change it until the lock date."""
    try:
        page = surveys.survey_for_pledge(backer=me(request), pledge_id=pledge_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    data = request.POST if request.method == "POST" else None
    form = SurveyAnswerForm(
        data, initial=survey_initial(page.response, page.pledge.shipping_country), questions=page.questions
    )
    status, refusal = 200, ""
    if request.method == "POST":
        try:
            surveys.survey_require_open(page.survey)  # before the fields: a locked survey takes no answer at all
            if not form.is_valid():
                status = 400
            else:
                surveys.survey_answer(backer=me(request), pledge_id=pledge_id, address=form.address(),
                                      answers=form.answers())  # fmt: skip
                messages.success(request, "Thank you: your answer is saved. You can change it until "
                                          f"{page.survey.address_lock_at:%d %B %Y, %H:%M} UTC.")  # fmt: skip
                return redirect("funding:survey_answer", pledge_id=pledge_id)
        except DomainError as exc:
            if exc.code == "survey_locked":
                refusal = exc.message
            else:
                form.add_domain_error(exc)
            status = exc.status
    context = {"page": page, "pledge": page.pledge, "campaign": page.pledge.campaign, "form": form,
               "refusal": refusal}  # fmt: skip
    return render(request, "funding/survey_answer.html", context, status=status)


# --- the makers' backers page ----------------------------------------------------------------------------------


def _shown(campaign: Campaign, show: str) -> Any:
    pledges = pledges_to_ship(campaign=campaign).select_related(
        "backer__profile", "tier", "survey_response", "fulfilment"
    )
    if show == "not-sent":
        return pledges.exclude(fulfilment__status__in=[FulfilmentStatus.SENT, FulfilmentStatus.DELIVERED])
    if show in ("sent", "delivered"):
        return pledges.filter(fulfilment__status=show)
    if show == "unanswered":
        return pledges.exclude(survey_response__answered_at__isnull=False)
    if show.startswith("tier-") and (tier_id := positive_int(show[5:])) is not None:
        return pledges.filter(tier_id=tier_id)
    return pledges


def _render_backers(request: HttpRequest, campaign: Campaign, *, message_form: MessageForm | None = None,
                    row_form: tuple[int, FulfilmentForm] | None = None, status: int = 200) -> HttpResponse:  # fmt: skip
    tiers = _tiers(campaign)
    show = request.GET.get("show", "all")
    page = Paginator(_shown(campaign, show).order_by("pk"), ROWS_PER_PAGE).get_page(request.GET.get("page"))
    rows = []
    for pledge in page:
        if row_form is not None and row_form[0] == pledge.pk:
            form = row_form[1]
        else:
            current = getattr(pledge, "fulfilment", None)
            initial = {"status": fulfilment.fulfilment_status(pledge)}
            if current is not None:
                initial.update(carrier=current.carrier, tracking=current.tracking)
            form = FulfilmentForm(initial=initial, pledge_id=pledge.pk)
        rows.append((pledge, form))
    survey = surveys.survey_of(campaign=campaign)
    filters = list(FILTERS.items())
    filters += [(f"tier-{tier.pk}", tier.title) for tier in tiers]
    context = {
        "campaign": campaign,
        "totals": fulfilment.fulfilment_totals(campaign=campaign),
        "rows": rows,
        "page": page,
        "show": show,
        "filters": filters,
        "survey": survey,
        "survey_counts": surveys.survey_counts(survey=survey) if survey is not None else None,
        "message_form": message_form or MessageForm(tiers=tiers, prefix="message"),
        "sent_messages": list(updates.messages_of(campaign=campaign)[:20]),
        "succeeded": campaign.status == CampaignStatus.SUCCEEDED,
        "progress": selectors.campaign_progress(campaign=campaign),
    }
    return render(request, "funding/fulfilment.html", context, status=status)


@login_required
@require_safe
def backers_page(request: HttpRequest, slug: str) -> HttpResponse:
    return _render_backers(request, editor_campaign(request, slug, may="see this page"))


def _back_to_backers(request: HttpRequest, campaign: Campaign, anchor: str = "") -> HttpResponse:
    query = request.GET.urlencode()
    return redirect(reverse("funding:backers", args=[campaign.slug]) + (f"?{query}" if query else "") + anchor)


@login_required
@require_POST
def fulfilment_update(request: HttpRequest, slug: str, pledge_id: int) -> HttpResponse:
    campaign = editor_campaign(request, slug, may="see this page")
    form = FulfilmentForm(request.POST, pledge_id=pledge_id)
    if not form.is_valid():
        return _render_backers(request, campaign, row_form=(pledge_id, form), status=400)
    data = form.cleaned_data
    try:
        fulfilment.fulfilment_set(actor=me(request), campaign=campaign, pledge_id=pledge_id, status=data["status"],
                                  carrier=data["carrier"], tracking=data["tracking"])  # fmt: skip
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        _refused(exc)
        form.add_domain_error(exc)
        return _render_backers(request, campaign, row_form=(pledge_id, form), status=exc.status)
    label = FulfilmentStatus(data["status"]).label.lower()
    messages.success(request, f"The reward of pledge #{pledge_id} is marked {label}.")
    return _back_to_backers(request, campaign, f"#pledge-{pledge_id}")


@login_required
@require_POST
def message_new(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = editor_campaign(request, slug, may="see this page")
    form = MessageForm(request.POST, tiers=_tiers(campaign), prefix="message")
    if not form.is_valid():
        return _render_backers(request, campaign, message_form=form, status=400)
    data = form.cleaned_data
    try:
        message = updates.message_send(actor=me(request), campaign=campaign, subject=data["subject"],
                                       body=data["body"], audience=data["audience"],
                                       tier=form.chosen_tier())  # fmt: skip
    except DomainError as exc:
        _refused(exc)
        form.add_domain_error(exc)
        return _render_backers(request, campaign, message_form=form, status=exc.status)
    count = message.deliveries.count()
    messages.success(request, f"Your message is being e-mailed to {count} backer{'s' if count != 1 else ''}.")
    return _back_to_backers(request, campaign, "#message-heading")


@login_required
@require_safe
def backer_report(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    campaign = editor_campaign(request, slug, may="see this page")
    try:
        lines = reports.backer_report_csv(actor=me(request), campaign=campaign)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{reports.report_filename(campaign)}"'
    response["Cache-Control"] = "private, no-store"  # addresses and e-mails: never kept by a shared cache
    return response
