"""How a campaign's makers talk to its backers: updates (public or backers-only, optionally to chosen tiers),
comments (backers and editors; editors answer; editors and operators hide and unhide them; read newest first, a page
at a time), and messages to a filtered group of backers.

Owns Update, UpdateDelivery, Comment, BackerMessage and MessageDelivery. The backers an update or a message
addresses are recorded with it, one delivery per (update or message, backer), in the transaction that posts it;
a task enqueued after commit e-mails exactly them (`funding.backer_mail`), and a rerun finds them sent. Who may
read a backers-only update is decided by the same rule as who is e-mailed it; who may read a hidden comment (its
author and the moderators) by `comments_page`, which the pages and the API share. Never touches money or pledges.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.safestring import SafeString

from crowdmaker.core.errors import Conflict, Forbidden, Invalid, NotFound
from crowdmaker.core.markdown import markdown_html
from crowdmaker.core.text import clean_text
from crowdmaker.funding import selectors
from crowdmaker.funding.backers import (
    backed_tier_ids,
    backer_ids,
    campaign_editor_ids,
    editor_required,
    pledges_to_ship,
    published_required,
)
from crowdmaker.funding.models import (
    COMMENT_MAX_LENGTH,
    MESSAGE_BODY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    UPDATE_BODY_MAX_LENGTH,
    BackerMessage,
    Campaign,
    CampaignStatus,
    Comment,
    FulfilmentStatus,
    MessageAudience,
    MessageDelivery,
    Survey,
    Tier,
    Update,
    UpdateAudience,
    UpdateDelivery,
)
from crowdmaker.people.models import User

DELIVERY_BATCH = 2_000  # delivery rows inserted per statement


def _campaign_tiers(campaign: Campaign, tiers: Iterable[Tier], field: str) -> list[Tier]:
    chosen = list(tiers)
    if any(tier.campaign_id != campaign.pk for tier in chosen):
        raise Invalid("Choose among this campaign's rewards.", code="tier_unknown", field=field)
    return chosen


# --- updates ----------------------------------------------------------------------------------------------------


def update_post(
    *,
    actor: User,
    campaign: Campaign,
    title: str,
    body: str,
    audience: str = UpdateAudience.PUBLIC,
    tiers: Iterable[Tier] = (),
    now: datetime | None = None,
) -> Update:
    """Post update number n+1 of a published campaign (Markdown `body`) and e-mail it after commit to the backers it
    addresses: every backer, or those of `tiers`. A backers-only update is readable by them and the editors only.
    Raises Forbidden (not an editor), Conflict (a draft) or Invalid (a field); nothing is recorded then."""
    from crowdmaker.funding import backer_tasks

    now = now or timezone.now()
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()  # numbers the updates one by one
        if locked is None:
            raise NotFound("No campaign has this address.")
        editor_required(campaign=locked, actor=actor, doing="post its updates")
        published_required(locked)
        title = clean_text(title, field="title", max_length=TITLE_MAX_LENGTH, required=True)
        body = clean_text(body, field="body", max_length=UPDATE_BODY_MAX_LENGTH, required=True, multiline=True)
        if audience not in UpdateAudience.values:
            raise Invalid("An update is public or for backers only.", field="audience")
        chosen = _campaign_tiers(locked, tiers, "tiers")
        number = (Update.objects.filter(campaign=locked).aggregate(last=Max("number"))["last"] or 0) + 1
        update = Update.objects.create(campaign=locked, number=number, author=actor, title=title, body=body,
                                       audience=audience, created_at=now)  # fmt: skip
        update.tiers.set(chosen)
        recipients = backer_ids(campaign=locked, tiers=chosen or None)
        UpdateDelivery.objects.bulk_create(
            (UpdateDelivery(update=update, backer_id=backer_id) for backer_id in recipients), batch_size=DELIVERY_BATCH
        )
        transaction.on_commit(lambda: backer_tasks.update_email_send.enqueue(update_id=update.pk))
    return update


def update_can_read(*, update: Update, tier_ids: set[int | None] | None, is_editor: bool) -> bool:
    """Whether someone backing with `tier_ids` (None: not a backer) may read `update`: public ones anyone; a
    backers-only one its editors and the backers it addresses (of its tiers, when it has some)."""
    if update.audience == UpdateAudience.PUBLIC or is_editor:
        return True
    if tier_ids is None:
        return False
    addressed = {tier.pk for tier in update.tiers.all()}
    return not addressed or bool(addressed & tier_ids)


@dataclass(frozen=True)
class UpdateView:
    update: Update
    readable: bool
    body_html: SafeString
    tiers: list[Tier]


def updates_for(*, campaign: Campaign, viewer: User | None, limit: int | None = None) -> list[UpdateView]:
    """The campaign's updates, newest first, each with whether `viewer` may read it (and then its body as HTML).
    Three queries whatever the number of updates."""
    updates = (
        Update.objects.filter(campaign=campaign)
        .prefetch_related(Prefetch("tiers", Tier.objects.order_by("position", "id")))
        .order_by("-number")
    )
    if limit is not None:
        updates = updates[:limit]
    tier_ids = backed_tier_ids(campaign=campaign, user=viewer)
    is_editor = selectors.campaign_can_edit(campaign=campaign, user=viewer)
    views = []
    for update in updates:
        readable = update_can_read(update=update, tier_ids=tier_ids, is_editor=is_editor)
        views.append(UpdateView(update, readable, markdown_html(update.body) if readable else SafeString(""),
                                list(update.tiers.all())))  # fmt: skip
    return views


def update_of(*, campaign: Campaign, number: int, viewer: User | None) -> UpdateView:
    """One update of the campaign by its number, as `updates_for` shows it; NotFound when there is none."""
    update = Update.objects.filter(campaign=campaign, number=number).prefetch_related("tiers").first()
    if update is None:
        raise NotFound("This campaign has no such update.")
    is_editor = selectors.campaign_can_edit(campaign=campaign, user=viewer)
    readable = update_can_read(update=update, tier_ids=backed_tier_ids(campaign=campaign, user=viewer),
                               is_editor=is_editor)  # fmt: skip
    return UpdateView(update, readable, markdown_html(update.body) if readable else SafeString(""),
                      list(update.tiers.all()))  # fmt: skip


def update_recipients_count(*, update: Update) -> int:
    return UpdateDelivery.objects.filter(update=update).count()


# --- comments ---------------------------------------------------------------------------------------------------


def comment_can_post(*, campaign: Campaign, user: User | None) -> bool:
    """Whether `user` may comment: a backer (authorized or captured pledge) or an editor, on a published campaign."""
    if user is None or not user.is_authenticated or campaign.status == CampaignStatus.DRAFT:
        return False
    return backed_tier_ids(campaign=campaign, user=user) is not None or selectors.campaign_can_edit(
        campaign=campaign, user=user
    )


@transaction.atomic
def comment_post(*, actor: User, campaign: Campaign, body: str, parent_id: int | None = None,
                 now: datetime | None = None) -> Comment:  # fmt: skip
    """A comment on a published campaign by one of its backers or editors, or (`parent_id`) an editor's reply to a
    comment. Raises Conflict (a draft), Forbidden (`backers_only`, `editors_reply`), NotFound (no such comment),
    Invalid (the text, a reply to a reply); nothing is recorded then."""
    now = now or timezone.now()
    published_required(campaign)
    body = clean_text(body, field="body", max_length=COMMENT_MAX_LENGTH, required=True, multiline=True)
    is_editor = selectors.campaign_can_edit(campaign=campaign, user=actor)
    parent = None
    if parent_id is not None:
        parent = Comment.objects.filter(pk=parent_id, campaign=campaign).first()
        if parent is None:
            raise NotFound("This campaign has no such comment.", field="parent")
        if parent.parent_id is not None:
            raise Invalid("Answer the comment itself, not a reply.", field="parent")
        if not is_editor:
            raise Forbidden("Only the campaign's owners and maintainers answer comments.", code="editors_reply")
    elif not is_editor and backed_tier_ids(campaign=campaign, user=actor) is None:
        raise Forbidden("Comments are open to the campaign's backers.", code="backers_only")
    return Comment.objects.create(campaign=campaign, author=actor, parent=parent, body=body, created_at=now)


COMMENTS_PER_PAGE = 20  # top-level comments a page (the campaign page, the comments page, the API), replies under
COMMENT_REASON_MAX_LENGTH = 200  # Comment.hidden_reason


def comment_can_moderate(*, campaign: Campaign, user: User | None) -> bool:
    """Whether `user` may hide and unhide the campaign's comments (and read hidden ones): its editors and the
    platform's operators (active staff)."""
    if user is None or not user.is_authenticated:
        return False
    return (user.is_active and user.is_staff) or selectors.campaign_can_edit(campaign=campaign, user=user)


def _moderated_comment(*, actor: User, campaign: Campaign, comment_id: int) -> Comment:
    if not comment_can_moderate(campaign=campaign, user=actor):
        raise Forbidden("Only the campaign's owners and maintainers, or an operator, hide comments.",
                        code="moderators_only")  # fmt: skip
    comment = Comment.objects.select_for_update().filter(pk=comment_id, campaign=campaign).first()
    if comment is None:
        raise NotFound("This campaign has no such comment.", field="comment")
    return comment


@transaction.atomic
def comment_hide(*, actor: User, campaign: Campaign, comment_id: int, reason: str = "",
                 now: datetime | None = None) -> Comment:  # fmt: skip
    """Hide a comment or a reply (editors and operators), with an optional `reason` its author and the moderators
    read. Everyone else sees that it was hidden, not what it said; the replies under it stay. Raises Forbidden
    (`moderators_only`), NotFound, Conflict (`comment_hidden`: already hidden) or Invalid (the reason); nothing
    changes then."""
    comment = _moderated_comment(actor=actor, campaign=campaign, comment_id=comment_id)
    reason = clean_text(reason, field="reason", max_length=COMMENT_REASON_MAX_LENGTH)
    if comment.hidden_at is not None:
        raise Conflict("This comment is already hidden.", code="comment_hidden")
    comment.hidden_at, comment.hidden_by, comment.hidden_reason = now or timezone.now(), actor, reason
    comment.save(update_fields=["hidden_at", "hidden_by", "hidden_reason"])
    return comment


@transaction.atomic
def comment_unhide(*, actor: User, campaign: Campaign, comment_id: int) -> Comment:
    """Show a hidden comment to everyone again (editors and operators). Raises Forbidden (`moderators_only`),
    NotFound or Conflict (`comment_not_hidden`); nothing changes then."""
    comment = _moderated_comment(actor=actor, campaign=campaign, comment_id=comment_id)
    if comment.hidden_at is None:
        raise Conflict("This comment is not hidden.", code="comment_not_hidden")
    comment.hidden_at, comment.hidden_by, comment.hidden_reason = None, None, ""
    comment.save(update_fields=["hidden_at", "hidden_by", "hidden_reason"])
    return comment


@dataclass(frozen=True)
class CommentView:
    """A comment as one viewer sees it: `readable` says whether they may read its body (it is not hidden, or they
    wrote it, or they moderate the campaign); `replies` are its answers, oldest first."""

    comment: Comment
    readable: bool
    by_editor: bool
    replies: list[CommentView]

    @property
    def hidden(self) -> bool:
        return self.comment.hidden_at is not None


@dataclass(frozen=True)
class CommentPage:
    """One page of a campaign's comments, newest first; `older` is the `before` of the next page (None: the last)."""

    comments: list[CommentView]
    older: int | None
    can_moderate: bool


def comments_page(*, campaign: Campaign, viewer: User | None, before: int | None = None,
                  per_page: int = COMMENTS_PER_PAGE, hidden_as_placeholders: bool = True) -> CommentPage:  # fmt: skip
    """The campaign's top-level comments older than comment `before` (None: the newest), at most `per_page`, each
    with its replies, as `viewer` may see them. Four queries whatever the number of comments and replies.

    A hidden comment's body is for its author and the moderators only. With `hidden_as_placeholders` (the pages)
    everyone else gets it as a placeholder; without (the API) a hidden reply is left out for them, and so is a
    hidden comment unless replies they may see hang under it (then it stays as the thread's empty head).
    Raises Invalid (`cursor_invalid`: `before` is no top-level comment of the campaign)."""
    viewer = viewer if viewer is not None and viewer.is_authenticated else None
    moderator = comment_can_moderate(campaign=campaign, user=viewer)
    own = Q(author=viewer) if viewer is not None else Q(pk__in=[])
    replies = Comment.objects.select_related("author__profile").order_by("created_at", "id")
    top = Comment.objects.filter(campaign=campaign, parent__isnull=True)
    if not (moderator or hidden_as_placeholders):
        replies = replies.filter(Q(hidden_at__isnull=True) | own)
        shown_replies = Comment.objects.filter(parent=OuterRef("pk"), hidden_at__isnull=True)
        top = top.filter(Q(hidden_at__isnull=True) | own | Exists(shown_replies))
    if before is not None:
        anchor = Comment.objects.filter(campaign=campaign, parent__isnull=True, pk=before).first()
        if anchor is None:
            raise Invalid("This is not a page of this campaign's comments: start again from the newest.",
                          code="cursor_invalid", field="before")  # fmt: skip
        top = top.filter(Q(created_at__lt=anchor.created_at) | Q(created_at=anchor.created_at, pk__lt=anchor.pk))
    rows = list(
        top.select_related("author__profile")
        .prefetch_related(Prefetch("replies", replies))
        .order_by("-created_at", "-id")[: per_page + 1]
    )
    editors = campaign_editor_ids(campaign=campaign)

    def view(comment: Comment, replies: list[CommentView]) -> CommentView:
        readable = comment.hidden_at is None or moderator or (viewer is not None and comment.author_id == viewer.pk)
        return CommentView(comment, readable, comment.author_id in editors, replies)

    views = [view(c, [view(r, []) for r in c.replies.all()]) for c in rows[:per_page]]
    return CommentPage(views, rows[per_page - 1].pk if len(rows) > per_page else None, moderator)


def comment_view_of(*, campaign: Campaign, viewer: User | None, comment_id: int) -> CommentView:
    """One comment (a top-level one with its replies, or a reply alone) as `viewer` sees it on the pages."""
    comment = (
        Comment.objects.filter(campaign=campaign, pk=comment_id)
        .select_related("author__profile")
        .prefetch_related(
            Prefetch("replies", Comment.objects.select_related("author__profile").order_by("created_at", "id"))
        )
        .first()
    )
    if comment is None:
        raise NotFound("This campaign has no such comment.", field="comment")
    moderator = comment_can_moderate(campaign=campaign, user=viewer)
    editors = campaign_editor_ids(campaign=campaign)
    viewer_id = viewer.pk if viewer is not None and viewer.is_authenticated else None

    def view(c: Comment, replies: list[CommentView]) -> CommentView:
        return CommentView(c, c.hidden_at is None or moderator or c.author_id == viewer_id, c.author_id in editors,
                           replies)  # fmt: skip

    replies = [view(r, []) for r in comment.replies.all()] if comment.parent_id is None else []
    return view(comment, replies)


# --- messages to a group of backers -----------------------------------------------------------------------------


def message_recipients(*, campaign: Campaign, audience: str, tier: Tier | None = None) -> list[int]:
    """The people a message to `audience` reaches, in id order: every backer, a tier's backers, the backers of
    rewards whose survey is not answered, or of rewards not sent yet."""
    if audience == MessageAudience.ALL:
        return backer_ids(campaign=campaign)
    if audience == MessageAudience.TIER:
        return backer_ids(campaign=campaign, tiers=[tier] if tier is not None else [])
    if audience == MessageAudience.SURVEY_UNANSWERED:
        pledges = pledges_to_ship(campaign=campaign).exclude(survey_response__answered_at__isnull=False)
    elif audience == MessageAudience.NOT_SENT:
        pledges = pledges_to_ship(campaign=campaign).exclude(
            fulfilment__status__in=[FulfilmentStatus.SENT, FulfilmentStatus.DELIVERED]
        )
    else:
        raise Invalid("Choose whom to write to.", field="audience")
    return list(pledges.order_by("backer_id").values_list("backer_id", flat=True).distinct())


def message_send(
    *,
    actor: User,
    campaign: Campaign,
    subject: str,
    body: str,
    audience: str,
    tier: Tier | None = None,
    now: datetime | None = None,
) -> BackerMessage:
    """E-mail `subject` and `body` (plain text) after commit to a group of the campaign's backers (`audience`,
    with `tier` for one reward's). Raises Forbidden (not an editor), Conflict (a draft; `no_survey` to write to
    those who have not answered a survey not sent) or Invalid (a field, `nobody` in the group); nothing is
    recorded then."""
    from crowdmaker.funding import backer_tasks

    now = now or timezone.now()
    with transaction.atomic():
        editor_required(campaign=campaign, actor=actor, doing="write to its backers")
        published_required(campaign)
        subject = clean_text(subject, field="subject", max_length=TITLE_MAX_LENGTH, required=True)
        body = clean_text(body, field="body", max_length=MESSAGE_BODY_MAX_LENGTH, required=True, multiline=True)
        if audience not in MessageAudience.values:
            raise Invalid("Choose whom to write to.", field="audience")
        if audience == MessageAudience.TIER:
            if tier is None:
                raise Invalid("Choose the reward whose backers you write to.", field="tier")
            _campaign_tiers(campaign, [tier], "tier")
        elif tier is not None:
            raise Invalid("A reward is chosen only to write to its backers.", field="tier")
        if audience == MessageAudience.SURVEY_UNANSWERED and not Survey.objects.filter(campaign=campaign).exists():
            raise Conflict("The survey is not sent yet: nobody could have answered it.", code="no_survey",
                           field="audience")  # fmt: skip
        recipients = message_recipients(campaign=campaign, audience=audience, tier=tier)
        if not recipients:
            raise Invalid("Nobody is in this group: the message was not sent.", code="nobody", field="audience")
        message = BackerMessage.objects.create(campaign=campaign, author=actor, subject=subject, body=body,
                                               audience=audience, tier=tier, created_at=now)  # fmt: skip
        MessageDelivery.objects.bulk_create(
            (MessageDelivery(message=message, backer_id=backer_id) for backer_id in recipients),
            batch_size=DELIVERY_BATCH,
        )
        transaction.on_commit(lambda: backer_tasks.message_email_send.enqueue(message_id=message.pk))
    return message


def messages_of(*, campaign: Campaign) -> QuerySet[BackerMessage]:
    """The messages sent to the campaign's backers, newest first, each with `recipients` counted."""
    return (
        BackerMessage.objects.filter(campaign=campaign)
        .select_related("tier", "author__profile")
        .annotate(recipients=Count("deliveries"))
        .order_by("-created_at", "-id")
    )
