"""Pages of community selection: the calls, a call with its ranked submissions, a submission with voting and
buy-intents (htmx swaps the section; without JavaScript a plain POST redirects back), and entering a design.

Views parse input with `selection.forms`, read through `selection.selectors` and write through one service of
`selection.services`; a refusal is shown in the section it concerns, with its 4xx status, having changed nothing.
Staff open calls for the platform, team owners and maintainers for their team (`call_new`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from crowdmaker.commons.selectors import owner_name
from crowdmaker.core.errors import Conflict, DomainError
from crowdmaker.core.markdown import markdown_html
from crowdmaker.funding.selectors import editable_design_versions
from crowdmaker.ledger.money import Money
from crowdmaker.people.auth import signed_in_user as _me
from crowdmaker.people.auth import viewer as _viewer
from crowdmaker.people.models import User
from crowdmaker.selection import selectors, services
from crowdmaker.selection.forms import CallForm, EntryForm, IntentForm, VoteForm, organizer_teams
from crowdmaker.selection.models import BuyIntent, OpenCall, Submission, ThresholdKind, Vote
from crowdmaker.selection.ranking import Ranked


def _display(value: Fraction) -> Decimal:
    """An exact score rounded to two decimals, for display only (the order was decided exactly)."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _call(slug: str) -> OpenCall:
    call = OpenCall.objects.select_related("organizer_team").filter(slug=slug).first()
    if call is None:
        raise Http404("No call has this address.")
    return call


def _submission(call: OpenCall, submission_id: int) -> Submission:
    found = (
        Submission.objects.select_related(
            "call", "design_version__design__owner_user__profile", "design_version__design__owner_team", "campaign"
        )
        .filter(call=call, pk=submission_id)
        .first()
    )
    if found is None:
        raise Http404("No submission has this address.")
    return found


def _phase(call: OpenCall, now: Any) -> str:
    if now < call.opens_at:
        return "upcoming"
    return "open" if now < call.closes_at else "closed"


def _threshold_text(call: OpenCall) -> str:
    if call.threshold_kind == ThresholdKind.INTENTS_COUNT:
        return f"{call.threshold} buy-intent{'s' if call.threshold != 1 else ''}"
    return f"{Money(call.threshold, call.currency)} of buy-intents"


@dataclass(frozen=True)
class Progress:
    reached: str  # "12 buy-intents" or "120.00 EUR"
    percent: int  # capped at 100 for the bar
    done: bool


def _progress(call: OpenCall, submission: Submission) -> Progress:
    if call.threshold_kind == ThresholdKind.INTENTS_COUNT:
        amount, text = submission.intent_count, str(submission.intent_count)
    else:
        amount, text = submission.intent_value, str(Money(submission.intent_value, call.currency))
    return Progress(text, min(100, amount * 100 // call.threshold),
                    selectors.threshold_reached(call=call, submission=submission))  # fmt: skip


# --- the calls ---------------------------------------------------------------------------------------------------


@require_safe
def call_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    calls = list(OpenCall.objects.select_related("organizer_team").order_by("closes_at", "pk"))
    return render(
        request,
        "selection/call_list.html",
        {
            "open": [c for c in calls if _phase(c, now) == "open"],
            "upcoming": sorted((c for c in calls if _phase(c, now) == "upcoming"), key=lambda c: (c.opens_at, c.pk)),
            "closed": [c for c in calls if _phase(c, now) == "closed"][::-1],
            "may_open": _may_open(_viewer(request)),
        },
    )


def _may_open(user: User | None) -> bool:
    return user is not None and (user.is_staff or bool(organizer_teams(user)))


@login_required
@require_http_methods(["GET", "POST"])
def call_new(request: HttpRequest) -> HttpResponse:
    """Open a call: staff for the platform, an owner or maintainer for their team."""
    me = _me(request)
    if not _may_open(me):
        raise PermissionDenied("Calls are opened by the platform's operators and by teams' owners and maintainers.")
    if request.method == "GET":
        return render(request, "selection/call_form.html", {"form": CallForm(user=me)})
    form = CallForm(request.POST, user=me)
    if not form.is_valid():
        return render(request, "selection/call_form.html", {"form": form}, status=400)
    data = form.cleaned_data
    try:
        call = services.call_open(
            actor=me, slug=data["slug"], title=data["title"], brief=data["brief"], team=data["organizer"],
            opens_at=data["opens_at"], closes_at=data["closes_at"], required_family=data["required_family"],
            threshold_kind=data["threshold_kind"], threshold=data["threshold"], currency=data["currency"],
            prior_weight=data["prior_weight"], top_n=data["top_n"],
        )  # fmt: skip
    except DomainError as exc:
        form.add_domain_error(exc)
        return render(request, "selection/call_form.html", {"form": form}, status=exc.status)
    messages.success(request, f"“{call.title}” is opened.")
    return redirect("selection:call_detail", slug=call.slug)


@dataclass(frozen=True)
class Row:
    ranked: Ranked
    submission: Submission
    author: str
    score: Decimal
    intent_value: Money
    progress: Progress


@require_safe
def call_detail(request: HttpRequest, slug: str) -> HttpResponse:
    call = _call(slug)
    ranking = selectors.call_ranking(call=call)
    submissions = Submission.objects.filter(call=call).select_related(
        "design_version__design__owner_user__profile", "design_version__design__owner_team", "campaign"
    )
    by_id = {s.pk: s for s in submissions}
    rows = []
    for ranked in ranking:
        entry = by_id.get(ranked.tally.submission_id)
        if entry is not None:  # entered between the two reads: shown on the next load
            rows.append(Row(ranked, entry, owner_name(entry.design_version.design), _display(ranked.score),
                            Money(entry.intent_value, call.currency), _progress(call, entry)))  # fmt: skip
    return render(
        request,
        "selection/call_detail.html",
        {
            "call": call,
            "phase": _phase(call, timezone.now()),
            "brief_html": markdown_html(call.brief),
            "threshold": _threshold_text(call),
            "prior_mean": _display(selectors.call_prior_mean(call=call)),
            "vote_total": sum(row.submission.vote_count for row in rows),
            "rows": rows,
        },
    )


# --- a submission: votes and buy-intents -------------------------------------------------------------------------


def _sections(
    request: HttpRequest, call: OpenCall, submission: Submission, *, vote_error: DomainError | None = None,
    intent_error: DomainError | None = None,
    vote_form: VoteForm | None = None, intent_form: IntentForm | None = None,
) -> dict[str, Any]:  # fmt: skip
    me = _viewer(request)
    vote = Vote.objects.filter(submission=submission, voter=me).first() if me else None
    intent = (
        BuyIntent.objects.filter(submission=submission, member=me, withdrawn_at__isnull=True).first() if me else None
    )
    return {
        "call": call,
        "submission": submission,
        "is_open": _phase(call, timezone.now()) == "open",
        "my_vote": vote,
        "my_intent": intent,
        "my_intent_price": Money(intent.price, call.currency) if intent else None,
        "vote_form": vote_form or VoteForm(initial={"score": vote.score} if vote else None),
        "intent_form": intent_form or IntentForm(currency=call.currency),
        "vote_error": vote_error,  # each refusal is shown in its own section
        "intent_error": intent_error,
    }


def _figures(call: OpenCall, submission: Submission) -> dict[str, Any]:
    ranking = selectors.call_ranking(call=call)
    ranked = next(r for r in ranking if r.tally.submission_id == submission.pk)
    return {
        "position": ranked.position,
        "entries": len(ranking),
        "score": _display(ranked.score),
        "intent_value": Money(submission.intent_value, call.currency),
        "progress": _progress(call, submission),
        "threshold": _threshold_text(call),
    }


def _page(request: HttpRequest, call: OpenCall, submission: Submission, status: int = 200, **sections: Any) -> Any:
    context = _sections(request, call, submission, **sections)
    version = submission.design_version
    context.update(_figures(call, submission), pitch_html=markdown_html(submission.pitch), version=version,
                   author=owner_name(version.design))  # fmt: skip
    return render(request, "selection/submission_detail.html", context, status=status)


@require_safe
def submission_detail(request: HttpRequest, slug: str, submission_id: int) -> HttpResponse:
    call = _call(slug)
    return _page(request, call, _submission(call, submission_id))


def _answer(
    request: HttpRequest, call: OpenCall, submission: Submission, partial: str, *, status: int = 200, **sections: Any
) -> HttpResponse:
    """htmx: the section alone (read afresh); otherwise the whole page on a refusal, a redirect on success."""
    if request.htmx:  # type: ignore[attr-defined]
        fresh = _submission(call, submission.pk)
        context = _sections(request, call, fresh, **sections)
        context.update(_figures(call, fresh))
        return render(request, partial, context, status=status)
    if status >= 400:
        return _page(request, call, submission, status=status, **sections)
    return redirect("selection:submission_detail", slug=call.slug, submission_id=submission.pk)


@login_required
@require_POST
def vote(request: HttpRequest, slug: str, submission_id: int) -> HttpResponse:
    call = _call(slug)
    submission = _submission(call, submission_id)
    me = _me(request)
    form = VoteForm(request.POST)
    if not form.is_valid():
        return _answer(request, call, submission, "selection/_vote.html", status=400, vote_form=form)
    score = form.cleaned_data["score"]
    try:
        try:
            services.vote_cast(voter=me, submission=submission, score=score)
        except Conflict as exc:  # the database said "voted already": this is a change of score
            if exc.code != "already_voted":
                raise
            services.vote_change(voter=me, submission=submission, score=score)
    except DomainError as exc:
        return _answer(
            request, call, submission, "selection/_vote.html", status=exc.status, vote_error=exc, vote_form=form
        )
    if not request.htmx:  # type: ignore[attr-defined]
        messages.success(request, f"Your score is {score}.")
    return _answer(request, call, submission, "selection/_vote.html")


@login_required
@require_POST
def intent(request: HttpRequest, slug: str, submission_id: int) -> HttpResponse:
    call = _call(slug)
    submission = _submission(call, submission_id)
    me = _me(request)
    withdraw = request.POST.get("action") == "withdraw"
    form = IntentForm(None if withdraw else request.POST, currency=call.currency)
    if not withdraw and not form.is_valid():
        return _answer(request, call, submission, "selection/_intent.html", status=400, intent_form=form)
    try:
        if withdraw:
            services.intent_withdraw(member=me, submission=submission)
        else:
            services.intent_state(member=me, submission=submission, price=form.cleaned_data["price"])
    except DomainError as exc:
        return _answer(request, call, submission, "selection/_intent.html", status=exc.status, intent_error=exc,
                       intent_form=form)  # fmt: skip
    if not request.htmx:  # type: ignore[attr-defined]
        messages.success(request, "Your buy-intent is withdrawn." if withdraw else "Your buy-intent is stated.")
    return _answer(request, call, submission, "selection/_intent.html")


# --- entering a design -------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def submission_new(request: HttpRequest, slug: str) -> HttpResponse:
    """Enter one of the member's design versions (or their teams', as owner or maintainer) into an open call."""
    call = _call(slug)
    me: User = _me(request)
    versions = list(editable_design_versions(user=me))
    context: dict[str, Any] = {
        "call": call,
        "has_versions": bool(versions),
        "is_open": _phase(call, timezone.now()) == "open",
    }
    if request.method == "GET":
        context["form"] = EntryForm(versions=versions)
        return render(request, "selection/submission_form.html", context)
    form = EntryForm(request.POST, versions=versions)
    context["form"] = form
    if not form.is_valid():
        return render(request, "selection/submission_form.html", context, status=400)
    try:
        submission = services.submission_enter(
            actor=me, call=call, design_version=form.cleaned_data["design_version"], pitch=form.cleaned_data["pitch"]
        )
    except DomainError as exc:
        form.add_domain_error(exc)
        return render(request, "selection/submission_form.html", context, status=exc.status)
    messages.success(request, f"{submission.design_version} is entered into “{call.title}”.")
    return redirect("selection:submission_detail", slug=call.slug, submission_id=submission.pk)
