"""Opening calls, entering designs, voting and buy-intents: what is accepted, and every abuse refused with a clear
error and nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError
from django.test import Client, override_settings
from django.utils import timezone

from crowdmaker.commons.models import DesignVersion
from crowdmaker.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from crowdmaker.people import services as people
from crowdmaker.people.models import Role, User
from crowdmaker.selection import selectors, services
from crowdmaker.selection.models import BuyIntent, OpenCall, Submission, ThresholdKind, Vote
from crowdmaker.selection.tests.conftest import set_period


def state() -> tuple[Any, ...]:
    """Everything the services write, to assert that a refusal changed nothing."""
    return (
        list(OpenCall.objects.order_by("pk").values()),
        list(Submission.objects.order_by("pk").values()),
        list(Vote.objects.order_by("pk").values()),
        list(BuyIntent.objects.order_by("pk").values()),
    )


def refused(error: type[DomainError], code: str, action: Callable[[], object]) -> DomainError:
    before = state()
    with pytest.raises(error) as caught:
        action()
    assert caught.value.code == code
    assert caught.value.message
    assert state() == before
    return caught.value


def aggregates(submission: Submission) -> tuple[int, int, int, int]:
    submission.refresh_from_db()
    return submission.vote_count, submission.vote_sum, submission.intent_count, submission.intent_value


# --- calls -----------------------------------------------------------------------------------------------------


def test_staff_opens_a_platform_call(call: OpenCall, staff: User) -> None:
    assert call.organizer_team is None
    assert call.created_by == staff
    assert (call.slug, call.required_family, call.prior_weight, call.top_n) == ("sensors", "smart-home", 10, 3)


def test_a_team_maintainer_opens_a_call_for_the_team(
    make_call: Callable[..., OpenCall], make_member: Callable[..., User]
) -> None:
    owner = make_member("owner")
    team = people.team_create(actor=owner, slug="lamp-guild", name="Lamp guild")
    opened = make_call("lamps", actor=owner, team=team, threshold_kind=ThresholdKind.INTENTS_VALUE, threshold=500_000)
    assert (opened.organizer_team, opened.threshold_kind, opened.threshold) == (team, "intents-value", 500_000)


def test_call_refusals(make_call: Callable[..., OpenCall], make_member: Callable[..., User]) -> None:
    member = make_member("nobody")
    refused(Forbidden, "staff_only", lambda: make_call("mine", actor=member))
    refused(Invalid, "period_invalid", lambda: make_call("backwards", closes_at=timezone.now() - timedelta(hours=2)))
    refused(Invalid, "invalid", lambda: make_call("no-threshold", threshold=0))
    refused(Invalid, "invalid", lambda: make_call("odd-money", currency="XYZ"))
    refused(Invalid, "invalid", lambda: make_call("no-prior", prior_weight=0))
    make_call("taken")
    refused(Conflict, "slug_taken", lambda: make_call("taken"))


# --- submissions -----------------------------------------------------------------------------------------------


def test_a_maker_enters_a_version_with_a_pitch(submission: Submission, maker: User, call: OpenCall) -> None:
    assert (submission.call, submission.entered_by, submission.pitch) == (call, maker, "A sensor that sleeps.")
    assert aggregates(submission) == (0, 0, 0, 0)


def test_an_entry_without_the_required_family_is_refused_with_the_reason(
    call: OpenCall, maker: User, make_version: Callable[..., DesignVersion]
) -> None:
    lamp = make_version(maker, family=("lighting",))
    error = refused(Invalid, "family_required",
                    lambda: services.submission_enter(actor=maker, call=call, design_version=lamp, pitch="Light."))  # fmt: skip
    assert error.field == "design_version"
    assert error.message == (
        f"This call takes designs of the family 'smart-home'; the manifest of {lamp} claims 'lighting' (cm:family)."
    )
    bare = make_version(maker, family=())
    error = refused(Invalid, "family_required",
                    lambda: services.submission_enter(actor=maker, call=call, design_version=bare, pitch="Bare."))  # fmt: skip
    assert "claims no family" in error.message


def test_entry_refusals(
    call: OpenCall, submission: Submission, maker: User, make_member: Callable[..., User],
    make_version: Callable[..., DesignVersion],
) -> None:  # fmt: skip
    version = submission.design_version
    refused(Conflict, "already_entered",
            lambda: services.submission_enter(actor=maker, call=call, design_version=version, pitch="Again."))  # fmt: skip
    stranger = make_member("stranger")
    refused(Forbidden, "not_owner",
            lambda: services.submission_enter(actor=stranger, call=call, design_version=version, pitch="Mine."))  # fmt: skip
    fresh = make_version(maker)
    refused(
        Invalid, "invalid", lambda: services.submission_enter(actor=maker, call=call, design_version=fresh, pitch=" ")
    )
    set_period(call, opens_in=timedelta(hours=-2), closes_in=timedelta(seconds=-1))
    refused(Conflict, "call_closed",
            lambda: services.submission_enter(actor=maker, call=call, design_version=fresh, pitch="Late."))  # fmt: skip


def test_a_team_design_is_entered_by_its_owners_and_maintainers_only(
    call: OpenCall, make_member: Callable[..., User], make_version: Callable[..., DesignVersion]
) -> None:
    owner, maintainer, member = make_member("owner"), make_member("keeper"), make_member("member")
    team = people.team_create(actor=owner, slug="sensor-team", name="Sensor team")
    people.team_member_add(team=team, user=maintainer, role=Role.MAINTAINER)
    people.team_member_add(team=team, user=member, role=Role.MEMBER)
    version = make_version(owner, team=team)
    refused(Forbidden, "role_required",
            lambda: services.submission_enter(actor=member, call=call, design_version=version, pitch="Ours."))  # fmt: skip
    entry = services.submission_enter(actor=maintainer, call=call, design_version=version, pitch="Ours.")
    assert entry.entered_by == maintainer


def test_the_database_refuses_a_second_entry_of_a_version(submission: Submission) -> None:
    with pytest.raises(IntegrityError):
        Submission.objects.create(call=submission.call, design_version=submission.design_version,
                                  entered_by=submission.entered_by, pitch="Twice.")  # fmt: skip


# --- votes -----------------------------------------------------------------------------------------------------


def test_votes_add_to_the_aggregates_and_a_change_moves_the_sum_by_the_difference(
    submission: Submission, make_member: Callable[..., User]
) -> None:
    ann, ben = make_member("ann"), make_member("ben")
    services.vote_cast(voter=ann, submission=submission, score=4)
    services.vote_cast(voter=ben, submission=submission, score=2)
    assert aggregates(submission)[:2] == (2, 6)
    vote = services.vote_change(voter=ben, submission=submission, score=5)
    assert (vote.score, aggregates(submission)[:2]) == (5, (2, 9))
    services.vote_change(voter=ann, submission=submission, score=1)
    assert aggregates(submission)[:2] == (2, 6)
    assert selectors.aggregates_check() == []


def test_a_double_vote_is_refused(submission: Submission, make_member: Callable[..., User]) -> None:
    ann = make_member("ann")
    services.vote_cast(voter=ann, submission=submission, score=4)
    refused(Conflict, "already_voted", lambda: services.vote_cast(voter=ann, submission=submission, score=5))
    assert aggregates(submission)[:2] == (1, 4)


def test_a_self_vote_is_refused(submission: Submission, maker: User) -> None:
    refused(Forbidden, "own_submission", lambda: services.vote_cast(voter=maker, submission=submission, score=5))


def test_a_vote_by_a_member_of_the_owning_team_is_refused(
    call: OpenCall, make_member: Callable[..., User], make_version: Callable[..., DesignVersion]
) -> None:
    owner, teammate = make_member("owner"), make_member("teammate")
    team = people.team_create(actor=owner, slug="sensor-team", name="Sensor team")
    people.team_member_add(team=team, user=teammate, role=Role.MEMBER)
    entry = services.submission_enter(actor=owner, call=call, design_version=make_version(owner, team=team),
                                      pitch="Ours.")  # fmt: skip
    refused(Forbidden, "own_submission", lambda: services.vote_cast(voter=teammate, submission=entry, score=5))
    refused(Forbidden, "own_submission", lambda: services.intent_state(member=teammate, submission=entry, price=900))


def test_a_vote_after_the_close_or_before_the_opening_is_refused(
    call: OpenCall, submission: Submission, make_member: Callable[..., User]
) -> None:
    ann = make_member("ann")
    services.vote_cast(voter=ann, submission=submission, score=3)
    set_period(call, opens_in=timedelta(hours=-2), closes_in=timedelta(0))  # closes_at == now: closed
    refused(Conflict, "call_closed", lambda: services.vote_cast(voter=make_member(), submission=submission, score=5))
    refused(Conflict, "call_closed", lambda: services.vote_change(voter=ann, submission=submission, score=5))
    set_period(call, opens_in=timedelta(hours=1), closes_in=timedelta(days=1))
    refused(Conflict, "call_not_open", lambda: services.vote_cast(voter=make_member(), submission=submission, score=5))
    assert aggregates(submission)[:2] == (1, 3)


def test_a_vote_by_a_too_new_account_is_refused(submission: Submission, make_member: Callable[..., User]) -> None:
    newcomer = make_member("newcomer", age_days=6)
    error = refused(Forbidden, "account_too_new",
                    lambda: services.vote_cast(voter=newcomer, submission=submission, score=5))  # fmt: skip
    assert "7 days" in error.message
    with override_settings(CROWDMAKER_SELECTION_MIN_ACCOUNT_AGE_DAYS=5):
        services.vote_cast(voter=newcomer, submission=submission, score=5)
    assert aggregates(submission)[:2] == (1, 5)


def test_a_vote_without_a_verified_email_is_refused(submission: Submission, make_member: Callable[..., User]) -> None:
    unverified = make_member("unverified", verified=False)
    refused(Forbidden, "email_unverified",
            lambda: services.vote_cast(voter=unverified, submission=submission, score=5))  # fmt: skip


@pytest.mark.parametrize("score", [0, 6, -1, True, "5", 4.0])
def test_a_score_outside_1_to_5_is_refused(
    submission: Submission, make_member: Callable[..., User], score: Any
) -> None:
    error = refused(Invalid, "score_invalid",
                    lambda: services.vote_cast(voter=make_member(), submission=submission, score=score))  # fmt: skip
    assert error.field == "score"


def test_changing_a_vote_one_never_cast_is_refused(submission: Submission, make_member: Callable[..., User]) -> None:
    refused(NotFound, "no_vote", lambda: services.vote_change(voter=make_member(), submission=submission, score=3))


def test_the_database_refuses_a_second_vote_row_and_a_score_out_of_range(
    submission: Submission, make_member: Callable[..., User]
) -> None:
    ann = make_member("ann")
    Vote.objects.create(submission=submission, voter=ann, score=3)
    with pytest.raises(IntegrityError):
        Vote.objects.create(submission=submission, voter=ann, score=4)


def test_the_database_refuses_aggregates_no_votes_can_add_up_to(submission: Submission) -> None:
    with pytest.raises(IntegrityError):
        Submission.objects.filter(pk=submission.pk).update(vote_count=1, vote_sum=6)


def test_the_aggregates_check_names_what_differs_from_the_rows(
    submission: Submission, make_member: Callable[..., User]
) -> None:
    services.vote_cast(voter=make_member(), submission=submission, score=4)
    Submission.objects.filter(pk=submission.pk).update(vote_count=2, vote_sum=8, intent_count=1, intent_value=5)
    assert selectors.aggregates_check(call=submission.call) == [
        selectors.AggregateMismatch(submission_id=submission.pk, field=field, stored=stored, counted=counted)
        for field, stored, counted in [("vote_count", 2, 1), ("vote_sum", 8, 4), ("intent_count", 1, 0),
                                       ("intent_value", 5, 0)]
    ]  # fmt: skip


# --- buy-intents -----------------------------------------------------------------------------------------------


def test_intents_add_up_and_a_withdrawal_takes_its_price_back(
    submission: Submission, make_member: Callable[..., User]
) -> None:
    ann, ben = make_member("ann"), make_member("ben")
    intent = services.intent_state(member=ann, submission=submission, price=4_900)
    services.intent_state(member=ben, submission=submission, price=6_000, currency="EUR")
    assert (intent.currency, aggregates(submission)[2:]) == ("EUR", (2, 10_900))
    withdrawn = services.intent_withdraw(member=ann, submission=submission)
    assert withdrawn.withdrawn_at is not None
    assert aggregates(submission)[2:] == (1, 6_000)
    again = services.intent_state(member=ann, submission=submission, price=5_500)  # a new one after withdrawing
    assert again.pk != intent.pk
    assert aggregates(submission)[2:] == (2, 11_500)
    assert selectors.aggregates_check() == []


def test_intent_refusals(call: OpenCall, submission: Submission, maker: User, make_member: Callable[..., User]) -> None:
    ann = make_member("ann")
    services.intent_state(member=ann, submission=submission, price=4_900)
    refused(Conflict, "intent_exists", lambda: services.intent_state(member=ann, submission=submission, price=100))
    refused(Forbidden, "own_submission", lambda: services.intent_state(member=maker, submission=submission, price=1))
    refused(Invalid, "price_invalid", lambda: services.intent_state(member=make_member(), submission=submission,
                                                                  price=0))  # fmt: skip
    refused(Invalid, "currency_mismatch", lambda: services.intent_state(member=make_member(), submission=submission,
                                                                      price=100, currency="USD"))  # fmt: skip
    refused(NotFound, "no_intent", lambda: services.intent_withdraw(member=make_member(), submission=submission))
    set_period(call, opens_in=timedelta(hours=-2), closes_in=timedelta(seconds=-1))
    refused(Conflict, "call_closed", lambda: services.intent_state(member=make_member(), submission=submission,
                                                                 price=100))  # fmt: skip
    refused(Conflict, "call_closed", lambda: services.intent_withdraw(member=ann, submission=submission))
    assert aggregates(submission)[2:] == (1, 4_900)


def test_the_database_allows_one_live_intent_per_member(
    submission: Submission, make_member: Callable[..., User]
) -> None:
    ann = make_member("ann")
    BuyIntent.objects.create(submission=submission, member=ann, price=100, currency="EUR")
    with pytest.raises(IntegrityError):
        BuyIntent.objects.create(submission=submission, member=ann, price=200, currency="EUR")


# --- threshold and ranking from the stored aggregates ----------------------------------------------------------


def test_threshold_reached_by_count_or_by_value(
    make_call: Callable[..., OpenCall], maker: User, make_member: Callable[..., User],
    make_version: Callable[..., DesignVersion],
) -> None:  # fmt: skip
    by_count = make_call("by-count", threshold=2)
    by_value = make_call("by-value", threshold_kind=ThresholdKind.INTENTS_VALUE, threshold=10_000)
    a = services.submission_enter(actor=maker, call=by_count, design_version=make_version(maker), pitch="A.")
    b = services.submission_enter(actor=maker, call=by_value, design_version=make_version(maker), pitch="B.")
    ann, ben = make_member("ann"), make_member("ben")
    for entry in (a, b):
        services.intent_state(member=ann, submission=entry, price=5_000)
    a.refresh_from_db()
    b.refresh_from_db()
    assert not selectors.threshold_reached(call=by_count, submission=a)
    assert selectors.threshold_reached(call=by_value, submission=b) is False
    for entry in (a, b):
        services.intent_state(member=ben, submission=entry, price=5_000)
        entry.refresh_from_db()
    assert selectors.threshold_reached(call=by_count, submission=a)
    assert selectors.threshold_reached(call=by_value, submission=b)


def test_three_fives_do_not_beat_many_votes_near_five(
    call: OpenCall, maker: User, make_member: Callable[..., User], make_version: Callable[..., DesignVersion],
    django_assert_num_queries: Any,
) -> None:  # fmt: skip
    few = services.submission_enter(actor=maker, call=call, design_version=make_version(maker), pitch="Few.")
    many = services.submission_enter(actor=maker, call=call, design_version=make_version(maker), pitch="Many.")
    low = services.submission_enter(actor=maker, call=call, design_version=make_version(maker), pitch="Low.")
    voters = [make_member() for _ in range(30)]
    for voter in voters[:3]:
        services.vote_cast(voter=voter, submission=few, score=5)
    for n, voter in enumerate(voters):
        services.vote_cast(voter=voter, submission=many, score=4 if n % 5 == 0 else 5)  # mean 4.8
        services.vote_cast(voter=voter, submission=low, score=2)
    with django_assert_num_queries(1):  # the submissions' aggregates (the call's mean is their sum); no vote is read
        ranking = selectors.call_ranking(call=call)
    assert [r.tally.submission_id for r in ranking] == [many.pk, few.pk, low.pk]
    assert [r.position for r in ranking] == [1, 2, 3]
    # m = (15 + 144 + 60) / 63 = 219/63; many: (10m + 144) / 40
    assert ranking[0].score == (10 * selectors.call_prior_mean(call=call) + 144) / 40
    assert [r.tally.submission_id for r in selectors.call_top(call=call)] == [many.pk, few.pk, low.pk][: call.top_n]


def test_a_deactivated_account_may_neither_vote_nor_state_an_intent(
    submission: Submission, make_member: Callable[..., User]
) -> None:
    gone = make_member("gone")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    refused(Forbidden, "account_inactive", lambda: services.vote_cast(voter=gone, submission=submission, score=5))
    refused(Forbidden, "account_inactive", lambda: services.intent_state(member=gone, submission=submission, price=1))
    newcomer, unverified = make_member("newcomer", age_days=1), make_member("unverified", verified=False)
    refused(Forbidden, "account_too_new", lambda: services.intent_state(member=newcomer, submission=submission,
                                                                      price=100))  # fmt: skip
    refused(Forbidden, "email_unverified", lambda: services.intent_state(member=unverified, submission=submission,
                                                                       price=100))  # fmt: skip


def test_operators_see_calls_and_submissions_in_the_admin_read_only(submission: Submission, staff: User) -> None:
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    client = Client()
    client.force_login(staff)
    for name in ("opencall", "submission"):
        assert client.get(f"/admin/selection/{name}/").status_code == 200
        assert client.get(f"/admin/selection/{name}/add/").status_code == 403
    page = client.get(f"/admin/selection/submission/{submission.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
