"""Referral capture, kept simple and replaceable (issue #6 builds full referral links): a campaign page opened with
`?ref=<handle>` of a member remembers that member in the visitor's session, per campaign, for REFERRAL_DAYS; the
first touch wins. The pledge the visitor then makes through the pages records them as its `referrer`.

Only the session is written here, never the database. A share link must never break pledging: an unknown handle,
an inactive member or the visitor's own handle is ignored, here and again when the pledge is made.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.urls import reverse
from django.utils import timezone

from crowdmaker.funding.models import Campaign
from crowdmaker.people.models import HANDLE_PATTERN, User

# How long the first share link a visitor followed to a campaign is credited: the session's own lifetime (Django's
# SESSION_COOKIE_AGE, two weeks), since the session is where the touch is kept; a longer window needs a store of
# its own (issue #6's referral links).
REFERRAL_DAYS = settings.SESSION_COOKIE_AGE // 86_400
MAX_REMEMBERED = 50  # campaigns remembered per session (the oldest touches go first): a session stays small
SESSION_KEY = "funding_referrals"  # {"<campaign id>": [<referrer's user id>, "<ISO time of the touch>"]}


def _remembered(session: SessionBase, now: datetime) -> dict[str, list[Any]]:
    """The session's referrals still within REFERRAL_DAYS (anything malformed is dropped)."""
    cutoff = now - timedelta(days=REFERRAL_DAYS)
    kept: dict[str, list[Any]] = {}
    stored = session.get(SESSION_KEY)
    for campaign_id, entry in (stored if isinstance(stored, dict) else {}).items():
        try:
            user_id, touched = int(entry[0]), datetime.fromisoformat(entry[1])
        except (TypeError, ValueError, IndexError, KeyError):
            continue
        if touched > cutoff:
            kept[str(campaign_id)] = [user_id, touched.isoformat()]
    return kept


def referral_remember(
    *, session: SessionBase, campaign: Campaign, ref: str | None, viewer: User | None,
    now: datetime | None = None,
) -> User | None:  # fmt: skip
    """Remember `ref` (a member's handle, from the page's address) as the referrer of `campaign` for this visitor,
    unless one is remembered already (first touch wins). Returns the member remembered now, or None when nothing
    changed: no ref, an unknown or inactive member, the viewer themselves, or an earlier touch."""
    if not ref:
        return None
    now = now or timezone.now()
    handle = ref.strip().lower()
    if not re.fullmatch(HANDLE_PATTERN, handle):  # cannot be a handle: never reaches the database
        return None
    remembered = _remembered(session, now)
    if str(campaign.pk) in remembered:
        return None
    if viewer is not None and viewer.handle == handle:
        return None
    referrer = User.objects.filter(handle=handle, is_active=True).first()
    if referrer is None:
        return None
    remembered[str(campaign.pk)] = [referrer.pk, now.isoformat()]
    if len(remembered) > MAX_REMEMBERED:
        oldest = sorted(remembered, key=lambda key: remembered[key][1])[: len(remembered) - MAX_REMEMBERED]
        for key in oldest:
            del remembered[key]
    session[SESSION_KEY] = remembered
    return referrer


def referral_for(*, session: SessionBase, campaign: Campaign, backer: User, now: datetime | None = None) -> User | None:
    """The member this visitor's session credits for a pledge of `backer` to `campaign`, if any: still active, and
    never the backer themselves (who may have followed their own link before signing in)."""
    entry = _remembered(session, now or timezone.now()).get(str(campaign.pk))
    if entry is None or entry[0] == backer.pk:
        return None
    return User.objects.filter(pk=entry[0], is_active=True).first()


def share_path(*, campaign: Campaign, member: User) -> str:
    """The address of the campaign's page that credits `member` with the pledges it brings."""
    return f"{reverse('funding:campaign_detail', kwargs={'slug': campaign.slug})}?ref={member.handle}"
