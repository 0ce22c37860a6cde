"""JSON API of talking to backers and shipping: a campaign's updates (read as the caller may, posted by its editors),
its comments (paged, hidden ones for their author and the moderators only, hidden and shown again by the
moderators), a backer's survey answer, the editors' fulfilment status and the backer report as CSV.

A router of its own, mounted beside `funding.api`'s; handlers parse input and call one service of
`funding.updates`, `funding.surveys`, `funding.fulfilment` or `funding.reports`, never write themselves. A
backers-only update is listed to everyone with `readable: false` and no body, unless the caller may read it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Field, Query, Router, Schema, Status

from crowdmaker.core.api import ErrorOut, InputSchema
from crowdmaker.core.errors import Invalid
from crowdmaker.funding import fulfilment, reports, selectors, surveys, updates
from crowdmaker.funding.api import ERRORS, PUBLIC_ERRORS
from crowdmaker.funding.models import Campaign, Fulfilment, Tier
from crowdmaker.people.auth import PUBLIC_AUTH, signed_in_user
from crowdmaker.people.auth import viewer as _viewer

router = Router(tags=["funding"])


MAX_UPDATE_TIERS = 100


def _visible(request: HttpRequest, slug: str) -> Campaign:
    return selectors.campaign_visible(slug=slug, viewer=_viewer(request))


# --- updates ----------------------------------------------------------------------------------------------------


class UpdateIn(InputSchema):
    title: str
    body: str = Field(..., description="Markdown.")
    audience: Literal["public", "backers"] = "public"
    tiers: list[int] = Field(
        default_factory=list, max_length=MAX_UPDATE_TIERS,
        description="Ids of the tiers whose backers it addresses (they are e-mailed it); empty: every backer.",
    )  # fmt: skip


class UpdateOut(Schema):
    number: int
    title: str
    audience: str = Field(..., description="public or backers.")
    tiers: list[int] = Field(..., description="The tiers whose backers it addresses; empty: every backer.")
    created_at: datetime
    readable: bool = Field(..., description="Whether the caller may read it; when not, `body` is null.")
    body: str | None = Field(None, description="Markdown.")
    body_html: str | None = Field(None, description="The body as sanitised HTML.")


def _update_out(view: updates.UpdateView) -> dict[str, Any]:
    update = view.update
    return {
        "number": update.number, "title": update.title, "audience": update.audience,
        "tiers": [tier.pk for tier in view.tiers], "created_at": update.created_at, "readable": view.readable,
        "body": update.body if view.readable else None, "body_html": str(view.body_html) if view.readable else None,
    }  # fmt: skip


@router.get("/campaigns/{slug}/updates", auth=PUBLIC_AUTH, response={200: list[UpdateOut], **PUBLIC_ERRORS},
            summary="A campaign's updates, newest first")  # fmt: skip
def updates_list(request: HttpRequest, slug: str) -> list[dict[str, Any]]:
    campaign = _visible(request, slug)
    return [_update_out(view) for view in updates.updates_for(campaign=campaign, viewer=_viewer(request))]


@router.get("/campaigns/{slug}/updates/{number}", auth=PUBLIC_AUTH, response={200: UpdateOut, **PUBLIC_ERRORS},
            summary="One update of a campaign")  # fmt: skip
def update_detail(request: HttpRequest, slug: str, number: int) -> dict[str, Any]:
    campaign = _visible(request, slug)
    return _update_out(updates.update_of(campaign=campaign, number=number, viewer=_viewer(request)))


@router.post("/campaigns/{slug}/updates", response={201: UpdateOut, **ERRORS},
             summary="Post an update (editors); it is e-mailed to the backers it addresses")  # fmt: skip
def update_post(request: HttpRequest, slug: str, payload: UpdateIn) -> Status:
    campaign = _visible(request, slug)
    found = {tier.pk: tier for tier in Tier.objects.filter(campaign=campaign, pk__in=payload.tiers)}
    for position, tier_id in enumerate(payload.tiers):
        if tier_id not in found:
            raise Invalid(f"This campaign has no tier {tier_id}.", code="tier_unknown", field=f"tiers.{position}")
    update = updates.update_post(actor=signed_in_user(request), campaign=campaign, title=payload.title, body=payload.body,
                                 audience=payload.audience, tiers=[found[pk] for pk in payload.tiers])  # fmt: skip
    return Status(
        201, _update_out(updates.update_of(campaign=campaign, number=update.number, viewer=signed_in_user(request)))
    )


# --- comments ---------------------------------------------------------------------------------------------------


class CommentIn(InputSchema):
    body: str
    parent: int | None = Field(None, description="The comment an editor answers.")


class CommentAuthorOut(Schema):
    handle: str
    name: str
    editor: bool = Field(..., description="One of the campaign's owners or maintainers.")


class ReplyOut(Schema):
    id: int
    author: CommentAuthorOut | None = Field(..., description="null: a hidden comment shown to someone else.")
    body: str | None = Field(..., description="Plain text; null: a hidden comment shown to someone else.")
    created_at: datetime
    hidden: bool = Field(
        ..., description="Hidden by the campaign's makers or an operator. Only its author and the moderators get "
        "its body; anyone else gets no hidden reply, and a hidden comment only as the empty head of answers.",
    )  # fmt: skip
    hidden_reason: str | None = Field(None, description="Why it was hidden, for its author and the moderators.")


class CommentOut(ReplyOut):
    replies: list[ReplyOut] = Field(..., description="The editors' answers, oldest first.")


class CommentPageOut(Schema):
    results: list[CommentOut] = Field(..., description=f"At most {updates.COMMENTS_PER_PAGE}, newest first.")
    next: str | None = Field(..., description="The next (older) page; null: this is the last.")


class HideIn(InputSchema):
    reason: str = Field("", max_length=updates.COMMENT_REASON_MAX_LENGTH, description="For its author; optional.")


def _reply_out(view: updates.CommentView) -> dict[str, Any]:
    comment = view.comment
    out: dict[str, Any] = {"id": comment.pk, "created_at": comment.created_at, "hidden": view.hidden,
                           "author": None, "body": None, "hidden_reason": None}  # fmt: skip
    if view.readable:
        author = comment.author
        out.update(author={"handle": author.handle, "name": author.profile.display_name, "editor": view.by_editor},
                   body=comment.body, hidden_reason=comment.hidden_reason if view.hidden else None)  # fmt: skip
    return out


def _comment_out(view: updates.CommentView) -> dict[str, Any]:
    return {**_reply_out(view), "replies": [_reply_out(reply) for reply in view.replies]}


@router.get("/campaigns/{slug}/comments", auth=PUBLIC_AUTH, response={200: CommentPageOut, **PUBLIC_ERRORS},
            summary=f"A campaign's comments, newest first, {updates.COMMENTS_PER_PAGE} a page, with the editors' "
                    "answers")  # fmt: skip
def comments_list(
    request: HttpRequest, slug: str,
    before: int | None = Query(None, ge=1, description="Cursor: the id of the last comment of the previous page "
                               "(what `next` carries); omitted: the newest comments."),
) -> dict[str, Any]:  # fmt: skip
    campaign = _visible(request, slug)
    page = updates.comments_page(campaign=campaign, viewer=_viewer(request), before=before,
                                 hidden_as_placeholders=False)  # fmt: skip
    url = request.build_absolute_uri(request.path)
    return {
        "results": [_comment_out(view) for view in page.comments],
        "next": f"{url}?{urlencode({'before': page.older})}" if page.older is not None else None,
    }


@router.post("/campaigns/{slug}/comments", response={201: CommentOut, **ERRORS},
             summary="Comment (backers and editors), or answer a comment (editors)")  # fmt: skip
def comment_post(request: HttpRequest, slug: str, payload: CommentIn) -> Status:
    campaign = _visible(request, slug)
    comment = updates.comment_post(actor=signed_in_user(request), campaign=campaign, body=payload.body,
                                   parent_id=payload.parent)  # fmt: skip
    return Status(201, _comment_out(updates.comment_view_of(campaign=campaign, viewer=signed_in_user(request),
                                                            comment_id=comment.pk)))  # fmt: skip


@router.post("/campaigns/{slug}/comments/{comment_id}/hide", response={200: CommentOut, **ERRORS},
             summary="Hide a comment or an answer, with an optional reason (editors and operators)")  # fmt: skip
def comment_hide(request: HttpRequest, slug: str, comment_id: int, payload: HideIn) -> dict[str, Any]:
    campaign, me = _visible(request, slug), signed_in_user(request)
    updates.comment_hide(actor=me, campaign=campaign, comment_id=comment_id, reason=payload.reason)
    return _comment_out(updates.comment_view_of(campaign=campaign, viewer=me, comment_id=comment_id))


@router.post("/campaigns/{slug}/comments/{comment_id}/unhide", response={200: CommentOut, **ERRORS},
             summary="Show a hidden comment or answer to everyone again (editors and operators)")  # fmt: skip
def comment_unhide(request: HttpRequest, slug: str, comment_id: int) -> dict[str, Any]:
    campaign, me = _visible(request, slug), signed_in_user(request)
    updates.comment_unhide(actor=me, campaign=campaign, comment_id=comment_id)
    return _comment_out(updates.comment_view_of(campaign=campaign, viewer=me, comment_id=comment_id))


# --- the backer's survey ----------------------------------------------------------------------------------------


class SurveyQuestionOut(Schema):
    id: int
    label: str
    choices: list[str]


class SurveyAnswerOut(Schema):
    ship_to: str
    address_line1: str
    address_line2: str
    postal_code: str
    city: str
    region: str
    country: str = Field(..., description="ISO 3166-1 alpha-2.")
    phone: str
    answers: dict[str, str] = Field(..., description="Question id: the choice.")
    answered_at: datetime
    updated_at: datetime


class SurveyOut(Schema):
    pledge: int
    campaign: str = Field(..., description="The campaign's slug.")
    tier: str
    intro: str
    address_lock_at: datetime
    open: bool = Field(..., description="Whether the answer may still be given or changed.")
    questions: list[SurveyQuestionOut]
    answer: SurveyAnswerOut | None = Field(None, description="Null until answered.")


class SurveyAnswerIn(InputSchema):
    ship_to: str
    address_line1: str
    address_line2: str = ""
    postal_code: str = ""
    city: str
    region: str = ""
    country: str = Field(..., description="ISO 3166-1 alpha-2, e.g. DE.")
    phone: str = ""
    answers: dict[str, str] = Field(default_factory=dict, description="Question id: one of its choices.")


def _survey_out(page: surveys.SurveyPage) -> dict[str, Any]:
    response = page.response
    answered = response is not None and response.answered_at is not None
    return {
        "pledge": page.pledge.pk, "campaign": page.pledge.campaign.slug,
        "tier": page.pledge.tier.title if page.pledge.tier is not None else "", "intro": page.survey.intro,
        "address_lock_at": page.survey.address_lock_at, "open": page.open,
        "questions": [{"id": q.pk, "label": q.label, "choices": q.choices} for q in page.questions],
        "answer": response if answered else None,
    }  # fmt: skip


@router.get("/pledges/{pledge_id}/survey", response={200: SurveyOut, **ERRORS},
            summary="The survey of my pledge (after the campaign succeeded) and my answer")  # fmt: skip
def survey_detail(request: HttpRequest, pledge_id: int) -> dict[str, Any]:
    return _survey_out(surveys.survey_for_pledge(backer=signed_in_user(request), pledge_id=pledge_id))


@router.put("/pledges/{pledge_id}/survey", response={200: SurveyOut, **ERRORS},
            summary="Answer, or change my answer to, the survey of my pledge until the address lock date")  # fmt: skip
def survey_answer(request: HttpRequest, pledge_id: int, payload: SurveyAnswerIn) -> dict[str, Any]:
    backer = signed_in_user(request)
    address = surveys.AddressIn(**payload.model_dump(exclude={"answers"}))
    surveys.survey_answer(backer=backer, pledge_id=pledge_id, address=address, answers=payload.answers)
    return _survey_out(surveys.survey_for_pledge(backer=backer, pledge_id=pledge_id))


# --- the editors' fulfilment and report -------------------------------------------------------------------------


class FulfilmentIn(InputSchema):
    status: Literal["not-sent", "sent", "delivered"]
    carrier: str = ""
    tracking: str = Field("", description="The carrier's tracking number.")


class FulfilmentOut(Schema):
    pledge: int = Field(..., alias="pledge_id")
    status: str
    carrier: str
    tracking: str
    sent_at: datetime | None
    delivered_at: datetime | None


@router.put("/campaigns/{slug}/pledges/{pledge_id}/fulfilment", response={200: FulfilmentOut, **ERRORS},
            summary="Record where a pledge's reward is: not sent, sent (with tracking) or delivered (editors)")  # fmt: skip
def fulfilment_set(request: HttpRequest, slug: str, pledge_id: int, payload: FulfilmentIn) -> Fulfilment:
    return fulfilment.fulfilment_set(actor=signed_in_user(request), campaign=_visible(request, slug), pledge_id=pledge_id,
                                     status=payload.status, carrier=payload.carrier,
                                     tracking=payload.tracking)  # fmt: skip


@router.get(
    "/campaigns/{slug}/backers/report.csv",
    response={401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="The backer report as CSV (editors)",
    openapi_extra={"responses": {200: {
        "description": "One row per pledge; see the page's notes on privacy and formula escaping.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }}},
)  # fmt: skip
def backer_report(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    campaign = _visible(request, slug)
    response = StreamingHttpResponse(reports.backer_report_csv(actor=signed_in_user(request), campaign=campaign),
                                     content_type="text/csv; charset=utf-8")  # fmt: skip
    response["Content-Disposition"] = f'attachment; filename="{reports.report_filename(campaign)}"'
    response["Cache-Control"] = "private, no-store"
    return response
