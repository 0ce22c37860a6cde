"""Promotion: a submission that reaches its call's threshold while the call is open, or is in the call's top N at
the close, becomes a draft campaign of its author; once the maker publishes that campaign, every member with a live
buy-intent is invited once by e-mail to pledge.

`calls_promote_due` is the periodic job (`selection.apps`); it is idempotent: a rerun promotes and mails no one twice.
A submission's row is locked while it is promoted, so two workers create one campaign; an invitation is claimed
(its row created) before its e-mail is sent, so a member is mailed at most once per intent (a mail server's failure
loses that mail: the campaign's page and the submission's page say the same).

The draft's terms are a starting point the maker edits before publishing:
- goal: the call's threshold when it is a value; otherwise the total of the live intents' prices, or
  DEFAULT_GOAL when there are none;
- currency: the call's; starts now, deadline PROMOTED_CAMPAIGN_DAYS later;
- title from the design, summary from the design's summary (or the pitch's first line), story the pitch.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse

from crowdmaker.core.errors import DomainError
from crowdmaker.funding import services as funding
from crowdmaker.funding.models import SUMMARY_MAX_LENGTH, TITLE_MAX_LENGTH, Campaign, CampaignStatus
from crowdmaker.people.models import Membership, Role, Team, User
from crowdmaker.selection.models import BuyIntent, IntentInvitation, OpenCall, Submission, ThresholdKind
from crowdmaker.selection.selectors import call_top

logger = logging.getLogger(__name__)

PROMOTED_CAMPAIGN_DAYS = 30
DEFAULT_GOAL = 100_000  # minor units (1,000.00 in the call's currency) when no intent says what the crowd would pay
# Calls closed longer ago than this are not looked at again (their top N were promoted at the first run after).
CLOSED_CATCH_UP = timedelta(days=30)


def _owner(submission: Submission) -> tuple[User, Team | None]:
    """Who creates the draft (actor, team): the design's owner; for a team's design the member who entered it if
    they may start the team's campaigns, else the team's first owner."""
    design = submission.design_version.design
    if design.owner_team_id is None:
        return design.owner_user or submission.entered_by, None
    team = design.owner_team
    editor = Membership.objects.filter(team=team, user=submission.entered_by, role__in=funding.EDITOR_ROLES).exists()
    if editor:
        return submission.entered_by, team
    owner = Membership.objects.filter(team=team, role=Role.OWNER).select_related("user").order_by("pk").first()
    return (owner.user if owner else submission.entered_by), team


def _goal(call: OpenCall, submission: Submission) -> int:
    if call.threshold_kind == ThresholdKind.INTENTS_VALUE:
        return call.threshold
    return submission.intent_value or DEFAULT_GOAL


def _first_line(text: str, max_length: int) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= max_length else line[: max_length - 1].rstrip() + "…"


def submission_promote(*, submission: Submission, now: datetime) -> Campaign:
    """The submission's draft campaign, created on the first call (the row locked: a concurrent call waits and
    returns the same campaign). Raises campaign_create's refusals (e.g. Conflict slug_taken), having changed
    nothing."""
    return _promote(submission, now)[0]


@transaction.atomic
def _promote(submission: Submission, now: datetime) -> tuple[Campaign, bool]:
    locked = (
        Submission.objects.select_for_update(of=("self",))
        .select_related("call", "design_version__design", "entered_by")
        .get(pk=submission.pk)
    )
    if locked.campaign_id is not None:
        return Campaign.objects.get(pk=locked.campaign_id), False
    design = locked.design_version.design
    actor, team = _owner(locked)
    campaign = funding.campaign_create(
        actor=actor, team=team, slug=f"{design.slug[:40]}-s{locked.pk}".replace("--", "-"),
        title=design.title[:TITLE_MAX_LENGTH], summary=_first_line(design.summary or locked.pitch, SUMMARY_MAX_LENGTH),
        story=locked.pitch, design_versions=[locked.design_version], goal=_goal(locked.call, locked),
        currency=locked.call.currency, starts_at=now, deadline=now + timedelta(days=PROMOTED_CAMPAIGN_DAYS),
    )  # fmt: skip
    Submission.objects.filter(pk=locked.pk).update(campaign=campaign, promoted_at=now)
    submission.campaign, submission.promoted_at = campaign, now
    return campaign, True


def _due(now: datetime) -> list[Submission]:
    open_calls = Q(call__opens_at__lte=now, call__closes_at__gt=now)
    reached = Q(call__threshold_kind=ThresholdKind.INTENTS_COUNT, intent_count__gte=F("call__threshold")) | Q(
        call__threshold_kind=ThresholdKind.INTENTS_VALUE, intent_value__gte=F("call__threshold")
    )
    due = list(Submission.objects.filter(open_calls & reached, campaign__isnull=True).order_by("pk"))
    closed = OpenCall.objects.filter(closes_at__lte=now, closes_at__gt=now - CLOSED_CATCH_UP, top_n__gt=0)
    for call in closed.order_by("pk"):
        top = [ranked.tally.submission_id for ranked in call_top(call=call)]
        due += list(Submission.objects.filter(pk__in=top, campaign__isnull=True).order_by("pk"))
    return due


def _pledge_url(campaign: Campaign) -> str:
    url = settings.SITE_URL + reverse("funding:pledge_new", args=[campaign.slug])
    tiers = list(campaign.tiers.values_list("pk", flat=True)[:2])
    return f"{url}?tier={tiers[0]}" if len(tiers) == 1 else url


def _invite(intent: BuyIntent, campaign: Campaign, now: datetime) -> bool:
    """Claim the intent's invitation, then mail it; False when it was claimed already."""
    with transaction.atomic():
        _, created = IntentInvitation.objects.get_or_create(
            intent=intent, defaults={"campaign": campaign, "invited_at": now}
        )
    if not created:
        return False
    context = {"intent": intent, "campaign": campaign, "pledge_url": _pledge_url(campaign)}
    title = " ".join(campaign.title.split())
    try:
        send_mail(
            f"{title} is live: turn your buy-intent into a pledge",
            render_to_string("selection/email/promotion_invitation.txt", context),
            None,
            [intent.member.email],
        )
    except OSError:
        logger.exception("could not send the invitation of intent %s", intent.pk)
    return True


def invitations_send(*, now: datetime) -> int:
    """Invite every live intent of a promoted submission whose campaign is live, once; how many were invited."""
    intents = (
        BuyIntent.objects.filter(
            withdrawn_at__isnull=True, submission__campaign__status=CampaignStatus.LIVE, invitation__isnull=True
        )
        .select_related("member", "submission__campaign")
        .order_by("pk")
    )
    return sum(_invite(intent, intent.submission.campaign, now) for intent in intents)  # type: ignore[arg-type]


def calls_promote_due(*, now: datetime) -> dict[str, int]:
    """Promote what is due (threshold reached in an open call; top N of a call just closed), then send the
    invitations of live campaigns; how many of each."""
    promoted = 0
    for submission in _due(now):
        try:
            promoted += _promote(submission, now)[1]
        except DomainError:
            # e.g. the campaign address is taken, or the owner team has no one who may start campaigns: the others
            # are promoted; this one is tried again at the next run.
            logger.exception("could not promote submission %s", submission.pk)
    return {"promoted": promoted, "invited": invitations_send(now=now)}
