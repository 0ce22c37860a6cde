"""Promotion: a submission at its call's threshold, or in a closed call's top N, becomes one draft campaign of its
author (once, also under concurrency); its live buy-intents are invited once, after the campaign is published."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from crowdmaker.commons.models import DesignVersion
from crowdmaker.core.errors import Conflict
from crowdmaker.funding import services as funding
from crowdmaker.funding.models import Campaign, CampaignStatus
from crowdmaker.people.models import User
from crowdmaker.selection import promotion, services
from crowdmaker.selection.models import IntentInvitation, OpenCall, Submission, ThresholdKind
from crowdmaker.selection.tests.conftest import set_period


def _enter(call: OpenCall, author: User, make_version: Callable[..., DesignVersion], pitch: str) -> Submission:
    return services.submission_enter(actor=author, call=call, design_version=make_version(author), pitch=pitch)


def _intents(submission: Submission, members: list[User], price: int) -> None:
    for member in members:
        services.intent_state(member=member, submission=submission, price=price)


@pytest.mark.django_db
def test_threshold_by_count_promotes_once(
    make_call: Callable[..., OpenCall], maker: User, make_version: Callable[..., DesignVersion],
    make_member: Callable[..., User],
) -> None:  # fmt: skip
    call = make_call(threshold_kind=ThresholdKind.INTENTS_COUNT, threshold=2)
    submission = _enter(call, maker, make_version, "A sensor that sleeps.\nMore below.")
    _intents(submission, [make_member("ann")], 2_500)
    now = timezone.now()

    assert promotion.calls_promote_due(now=now) == {"promoted": 0, "invited": 0}
    assert not Campaign.objects.exists()
    submission.refresh_from_db()
    assert (submission.campaign, submission.promoted_at) == (None, None)

    _intents(submission, [make_member("bob")], 3_000)
    assert promotion.calls_promote_due(now=now) == {"promoted": 1, "invited": 0}
    assert promotion.calls_promote_due(now=now) == {"promoted": 0, "invited": 0}

    campaign = Campaign.objects.get()
    submission.refresh_from_db()
    assert (submission.campaign, submission.promoted_at) == (campaign, now)
    assert campaign.status == CampaignStatus.DRAFT
    assert (campaign.owner_user, campaign.owner_team) == (maker, None)
    assert campaign.title == submission.design_version.design.title
    assert campaign.story == "A sensor that sleeps.\nMore below."
    assert campaign.goal == 5_500  # count threshold: what the intents said they would pay
    assert campaign.currency == call.currency
    assert (campaign.starts_at, campaign.deadline) == (now, now + timedelta(days=promotion.PROMOTED_CAMPAIGN_DAYS))
    assert list(campaign.designs.values_list("design_version", flat=True)) == [submission.design_version_id]
    assert promotion.submission_promote(submission=submission, now=now + timedelta(hours=1)) == campaign
    assert Campaign.objects.count() == 1
    assert mail.outbox == []


@pytest.mark.django_db
def test_threshold_by_value_promotes_once_with_the_threshold_as_goal(
    make_call: Callable[..., OpenCall], maker: User, make_version: Callable[..., DesignVersion],
    make_member: Callable[..., User],
) -> None:  # fmt: skip
    call = make_call(threshold_kind=ThresholdKind.INTENTS_VALUE, threshold=5_000, currency="USD")
    submission = _enter(call, maker, make_version, "A sensor that sleeps.")
    other = _enter(call, maker, make_version, "Another one.")
    _intents(submission, [make_member("ann"), make_member("bob")], 2_500)
    _intents(other, [make_member("cy")], 4_999)
    now = timezone.now()

    assert promotion.calls_promote_due(now=now)["promoted"] == 1
    assert promotion.calls_promote_due(now=now)["promoted"] == 0
    campaign = Campaign.objects.get()
    assert Submission.objects.get(pk=submission.pk).campaign == campaign
    assert Submission.objects.get(pk=other.pk).campaign is None
    assert (campaign.goal, campaign.currency) == (5_000, "USD")


@pytest.mark.django_db
def test_top_n_promoted_at_the_close_and_only_then(
    make_call: Callable[..., OpenCall], maker: User, make_version: Callable[..., DesignVersion],
    make_member: Callable[..., User],
) -> None:  # fmt: skip
    call = make_call(top_n=2)
    best, second, third = (_enter(call, maker, make_version, f"Entry {n}.") for n in range(3))
    voters = [make_member(f"voter{n}") for n in range(3)]
    for voter in voters:
        services.vote_cast(voter=voter, submission=best, score=5)
        services.vote_cast(voter=voter, submission=second, score=4)
        services.vote_cast(voter=voter, submission=third, score=1)

    assert promotion.calls_promote_due(now=timezone.now())["promoted"] == 0  # open, nobody at the threshold
    assert not Campaign.objects.exists()

    set_period(call, opens_in=-timedelta(days=2), closes_in=-timedelta(seconds=1))
    now = timezone.now()
    assert promotion.calls_promote_due(now=now)["promoted"] == 2
    assert promotion.calls_promote_due(now=now)["promoted"] == 0
    promoted = set(Submission.objects.filter(campaign__isnull=False).values_list("pk", flat=True))
    assert promoted == {best.pk, second.pk}
    assert Campaign.objects.count() == 2
    assert Campaign.objects.filter(goal=promotion.DEFAULT_GOAL).count() == 2  # no intents: the default goal


@pytest.mark.django_db
def test_a_call_without_entries_promotes_nothing(make_call: Callable[..., OpenCall]) -> None:
    call = make_call()
    set_period(call, opens_in=-timedelta(days=2), closes_in=-timedelta(seconds=1))
    assert promotion.calls_promote_due(now=timezone.now()) == {"promoted": 0, "invited": 0}
    assert not Campaign.objects.exists()


@pytest.mark.django_db
def test_live_intents_invited_once_after_publication_none_before(
    make_call: Callable[..., OpenCall], maker: User, make_version: Callable[..., DesignVersion],
    make_member: Callable[..., User],
) -> None:  # fmt: skip
    call = make_call(threshold_kind=ThresholdKind.INTENTS_COUNT, threshold=2)
    submission = _enter(call, maker, make_version, "A sensor that sleeps.")
    ann, bob, cy = make_member("ann"), make_member("bob"), make_member("cy")
    _intents(submission, [ann, bob, cy], 2_000)
    services.intent_withdraw(member=cy, submission=submission)

    assert promotion.calls_promote_due(now=timezone.now()) == {"promoted": 1, "invited": 0}
    assert promotion.calls_promote_due(now=timezone.now()) == {"promoted": 0, "invited": 0}
    assert mail.outbox == []
    assert not IntentInvitation.objects.exists()

    campaign = Campaign.objects.get()
    tier = funding.tier_add(actor=maker, campaign=campaign, title="The sensor", price=2_000)
    funding.campaign_publish(actor=maker, campaign=campaign)

    assert promotion.calls_promote_due(now=timezone.now()) == {"promoted": 0, "invited": 2}
    assert promotion.calls_promote_due(now=timezone.now()) == {"promoted": 0, "invited": 0}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([ann.email, bob.email])
    pledge_url = reverse("funding:pledge_new", args=[campaign.slug]) + f"?tier={tier.pk}"
    assert all(pledge_url in m.body for m in mail.outbox)
    invited = IntentInvitation.objects.filter(campaign=campaign)
    assert sorted(invited.values_list("intent__member__handle", flat=True)) == ["ann", "bob"]


@pytest.mark.django_db
def test_the_pages_say_promoted(
    client: object, make_call: Callable[..., OpenCall], maker: User, make_version: Callable[..., DesignVersion],
) -> None:  # fmt: skip
    call = make_call()
    submission = _enter(call, maker, make_version, "A sensor that sleeps.")
    campaign = promotion.submission_promote(submission=submission, now=timezone.now())
    detail = reverse("selection:submission_detail", args=[call.slug, submission.pk])
    assert "Promoted: campaign" in client.get(detail).content.decode()  # type: ignore[attr-defined]
    funding.tier_add(actor=maker, campaign=campaign, title="The sensor", price=2_000)
    funding.campaign_publish(actor=maker, campaign=campaign)
    link = reverse("funding:campaign_detail", args=[campaign.slug])
    assert link in client.get(reverse("selection:call_detail", args=[call.slug])).content.decode()  # type: ignore[attr-defined]
    assert link in client.get(detail).content.decode()  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_concurrent_promotions_create_one_campaign(submission: Submission) -> None:
    clients = 8
    start = threading.Barrier(clients)

    def promote(_: int) -> int:
        try:
            start.wait(timeout=60)
            return promotion.submission_promote(submission=Submission.objects.get(pk=submission.pk),
                                                now=timezone.now()).pk  # fmt: skip
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=clients) as pool:
        campaigns = set(pool.map(promote, range(clients)))
    assert campaigns == {Campaign.objects.get().pk}
    assert Submission.objects.get(pk=submission.pk).campaign_id in campaigns


@pytest.mark.django_db
def test_a_refused_promotion_changes_nothing_and_the_others_are_promoted(
    make_call: Callable[..., OpenCall], maker: User, make_version: Callable[..., DesignVersion],
    make_member: Callable[..., User],
) -> None:  # fmt: skip
    call = make_call(threshold_kind=ThresholdKind.INTENTS_COUNT, threshold=1)
    blocked = _enter(call, maker, make_version, "Blocked.")
    fine = _enter(call, maker, make_version, "Fine.")
    _intents(blocked, [make_member("ann")], 1_000)
    _intents(fine, [make_member("bob")], 1_000)
    design = blocked.design_version.design
    squatter = funding.campaign_create(
        actor=maker, slug=f"{design.slug}-s{blocked.pk}", title="Taken", design_versions=[blocked.design_version],
        goal=1_000, currency="EUR", starts_at=timezone.now(), deadline=timezone.now() + timedelta(days=10),
    )  # fmt: skip

    with pytest.raises(Conflict) as refused:
        promotion.submission_promote(submission=blocked, now=timezone.now())
    assert refused.value.code == "slug_taken"
    assert list(Campaign.objects.all()) == [squatter]
    blocked.refresh_from_db()
    assert (blocked.campaign, blocked.promoted_at) == (None, None)

    assert promotion.calls_promote_due(now=timezone.now()) == {"promoted": 1, "invited": 0}
    assert Submission.objects.get(pk=blocked.pk).campaign is None
    assert Submission.objects.get(pk=fine.pk).campaign is not None
    assert Campaign.objects.count() == 2
