"""The selection pages: the calls, a call's ranking, a submission with voting and buy-intents (htmx and plain
POST), entering a design; every refusal answers 4xx in its section with nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crowdmaker.commons.models import DesignVersion
from crowdmaker.people import services as people
from crowdmaker.people.models import User
from crowdmaker.selection import services
from crowdmaker.selection.models import BuyIntent, OpenCall, Submission, ThresholdKind, Vote
from crowdmaker.selection.tests.conftest import set_period
from crowdmaker.selection.tests.test_services import state

HTMX = {"HX-Request": "true"}


def client_of(member: User) -> Client:
    client = Client()
    client.force_login(member)
    return client


def page_url(submission: Submission) -> str:
    return reverse("selection:submission_detail", args=[submission.call.slug, submission.pk])


def vote_url(submission: Submission) -> str:
    return reverse("selection:vote", args=[submission.call.slug, submission.pk])


def intent_url(submission: Submission) -> str:
    return reverse("selection:intent", args=[submission.call.slug, submission.pk])


def refused(client: Client, url: str, data: dict[str, Any], status: int, text: str, *, htmx: bool = True) -> str:
    before = state()
    response = client.post(url, data, headers=HTMX if htmx else {})
    assert response.status_code == status
    body = response.content.decode()
    assert text in body
    assert state() == before
    return body


@pytest.fixture
def voter(make_member: Callable[..., User]) -> User:
    return make_member("voter")


@pytest.fixture
def ranked(
    call: OpenCall, make_member: Callable[..., User], make_version: Callable[..., DesignVersion]
) -> list[Submission]:
    """Three entries: 'Few fives' (2 votes of 5), 'Many fours' (12 votes of 4), 'No votes'."""
    entries = []
    for handle in ("few", "many", "none"):
        author = make_member(f"author-{handle}")
        version = make_version(author)
        entries.append(services.submission_enter(actor=author, call=call, design_version=version,
                                                 pitch=f"Pitch of {handle}."))  # fmt: skip
    few, many, _ = entries
    for index in range(12):
        member = make_member(f"judge{index}")
        services.vote_cast(voter=member, submission=many, score=4)
        if index < 2:
            services.vote_cast(voter=member, submission=few, score=5)
    return entries


# --- the calls ----------------------------------------------------------------------------------------------------


def test_the_call_list_shows_open_then_upcoming_then_closed(make_call: Callable[..., OpenCall]) -> None:
    closed, upcoming, opened = make_call("old-one", title="Old call"), make_call("soon", title="Soon call"), None
    set_period(closed, opens_in=timedelta(days=-9), closes_in=timedelta(days=-2))
    set_period(upcoming, opens_in=timedelta(days=2), closes_in=timedelta(days=9))
    opened = make_call("now", title="Open call")
    response = Client().get(reverse("selection:call_list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.index("Open now") < body.index(opened.title) < body.index("Upcoming") < body.index(upcoming.title)
    assert body.index(upcoming.title) < body.index("Closed") < body.index(closed.title)


def test_the_call_page_ranks_submissions_with_their_figures(call: OpenCall, ranked: list[Submission]) -> None:
    few, many, none = ranked
    response = Client().get(reverse("selection:call_detail", args=[call.slug]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<strong>quiet</strong>" in body  # the brief as Markdown
    # m = (10 + 48) / 14 = 4.142857…; few: (10m + 10) / 12 = 4.2857…; none: m; many: (10m + 48) / 22 = 4.0649…
    assert "m = 4.14" in body
    assert "C = 10" in body
    rows = response.context["rows"]
    assert [row.submission.pk for row in rows] == [few.pk, none.pk, many.pk]
    assert [(row.ranked.position, str(row.score), row.submission.vote_count) for row in rows] == [
        (1, "4.29", 2), (2, "4.14", 0), (3, "4.06", 12)
    ]  # fmt: skip
    titles = [row.submission.design_version.design.title for row in rows]
    assert body.index(titles[0]) < body.index(titles[1]) < body.index(titles[2])
    assert reverse("commons:design_detail", args=[few.design_version.design.slug]) in body
    assert "200 buy-intents for a submission" in body


def test_a_missing_call_or_submission_is_404(call: OpenCall, submission: Submission) -> None:
    assert Client().get(reverse("selection:call_detail", args=["nope"])).status_code == 404
    assert Client().get(reverse("selection:submission_detail", args=[call.slug, submission.pk + 1])).status_code == 404


# --- a submission -------------------------------------------------------------------------------------------------


def test_anonymous_sees_the_submission_and_no_forms(submission: Submission) -> None:
    response = Client().get(page_url(submission))
    assert response.status_code == 200
    body = response.content.decode()
    assert "A sensor that sleeps." in body
    assert "Rank <strong>1</strong> of 1" in body
    assert 'name="score"' not in body
    assert 'name="price"' not in body
    assert "Log in</a> to score it." in body


def test_anonymous_posts_go_to_the_login_page(submission: Submission) -> None:
    before = state()
    response = Client().post(vote_url(submission), {"score": "5"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("people:login"))
    assert state() == before


def test_a_member_sees_both_forms(submission: Submission, voter: User) -> None:
    body = client_of(voter).get(page_url(submission)).content.decode()
    assert f'hx-post="{vote_url(submission)}"' in body
    assert f'hx-post="{intent_url(submission)}"' in body
    assert "In EUR, e.g. 49.90." in body


def test_htmx_vote_swaps_the_section_and_a_second_vote_changes_it(submission: Submission, voter: User) -> None:
    client = client_of(voter)
    response = client.post(vote_url(submission), {"score": "4"}, headers=HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="panel" id="vote-section"')
    assert "<html" not in body
    assert "Your score: <strong>4</strong>." in body
    assert "<strong>1</strong> vote" in body
    response = client.post(vote_url(submission), {"score": "2"}, headers=HTMX)
    assert response.status_code == 200
    assert "Your score: <strong>2</strong>." in response.content.decode()
    submission.refresh_from_db()
    assert (submission.vote_count, submission.vote_sum) == (1, 2)
    assert Vote.objects.get(submission=submission, voter=voter).score == 2


def test_a_plain_post_votes_and_redirects(submission: Submission, voter: User) -> None:
    client = client_of(voter)
    response = client.post(vote_url(submission), {"score": "5"})
    assert response.status_code == 302
    assert response["Location"] == page_url(submission)
    body = client.get(page_url(submission)).content.decode()
    assert "Your score: <strong>5</strong>." in body
    submission.refresh_from_db()
    assert (submission.vote_count, submission.vote_sum) == (1, 5)


def test_htmx_intent_swaps_the_section_with_an_exact_price_then_withdraws(submission: Submission, voter: User) -> None:
    client = client_of(voter)
    response = client.post(intent_url(submission), {"price": "49.90"}, headers=HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="panel" id="intent-section"')
    assert "You would buy it at <strong>49.90 EUR</strong>." in body
    intent = BuyIntent.objects.get(submission=submission, member=voter)
    assert (intent.price, intent.currency, intent.withdrawn_at) == (4990, "EUR", None)
    submission.refresh_from_db()
    assert (submission.intent_count, submission.intent_value) == (1, 4990)
    response = client.post(intent_url(submission), {"action": "withdraw"}, headers=HTMX)
    assert response.status_code == 200
    assert 'name="price"' in response.content.decode()
    intent.refresh_from_db()
    assert intent.withdrawn_at is not None
    submission.refresh_from_db()
    assert (submission.intent_count, submission.intent_value) == (0, 0)


def test_a_plain_post_states_an_intent_and_redirects(submission: Submission, voter: User) -> None:
    response = client_of(voter).post(intent_url(submission), {"price": "0.01"})
    assert response.status_code == 302
    assert response["Location"] == page_url(submission)
    assert BuyIntent.objects.get(submission=submission, member=voter).price == 1


# --- refusals -----------------------------------------------------------------------------------------------------


def test_an_unverified_member_is_refused_with_a_link_to_verify(
    submission: Submission, make_member: Callable[..., User]
) -> None:
    client = client_of(make_member("unverified", verified=False))
    body = refused(client, vote_url(submission), {"score": "5"}, 403, "Verify your e-mail address before you vote.")
    assert reverse("people:email_verification_resend") in body
    body = refused(client, intent_url(submission), {"price": "10"}, 403, "Verify your e-mail address")
    assert reverse("people:email_verification_resend") in body


def test_a_new_account_is_refused(submission: Submission, make_member: Callable[..., User]) -> None:
    client = client_of(make_member("fresh", age_days=1))
    refused(client, vote_url(submission), {"score": "5"}, 403, "days old")
    refused(client, intent_url(submission), {"price": "10"}, 403, "days old")


def test_the_author_is_refused_on_their_own_work(submission: Submission, maker: User) -> None:
    client = client_of(maker)
    refused(client, vote_url(submission), {"score": "5"}, 403, "You may not vote on your own work.")
    refused(client, intent_url(submission), {"price": "10"}, 403, "on your own work")


def test_a_closed_call_refuses_votes_and_intents(submission: Submission, voter: User) -> None:
    services.intent_state(member=voter, submission=submission, price=500)
    set_period(submission.call, opens_in=timedelta(days=-9), closes_in=timedelta(days=-1))
    client = client_of(voter)
    refused(client, vote_url(submission), {"score": "5"}, 409, "This call is closed.")
    refused(client, intent_url(submission), {"price": "10"}, 409, "This call is closed.")
    refused(client, intent_url(submission), {"action": "withdraw"}, 409, "This call is closed.")
    # Without htmx, the whole page with the refusal in its section.
    body = refused(client, vote_url(submission), {"score": "5"}, 409, "This call is closed.", htmx=False)
    assert "<html" in body
    assert body.count("This call is closed.") == 1  # in the vote's section only
    assert 'name="score"' not in client.get(page_url(submission)).content.decode()


def test_bad_input_is_refused(submission: Submission, voter: User) -> None:
    client = client_of(voter)
    refused(client, vote_url(submission), {"score": "6"}, 400, "Choose a score from 1 to 5.")
    refused(client, vote_url(submission), {}, 400, "Choose a score from 1 to 5.")
    refused(client, intent_url(submission), {"price": "12.345"}, 400, "EUR amounts have 2 decimal places")
    refused(client, intent_url(submission), {"price": "1e3"}, 400, "is not an amount")
    refused(client, intent_url(submission), {"price": "0"}, 422, "The price is a whole number")
    refused(client, intent_url(submission), {"action": "withdraw"}, 404, "You have no buy-intent")


def test_a_second_intent_is_refused(submission: Submission, voter: User) -> None:
    services.intent_state(member=voter, submission=submission, price=500)
    refused(client_of(voter), intent_url(submission), {"price": "10"}, 409, "already")


# --- escaping -----------------------------------------------------------------------------------------------------


def test_html_in_the_brief_and_the_pitch_is_escaped(
    make_call: Callable[..., OpenCall], maker: User, make_version: Callable[..., DesignVersion]
) -> None:
    attack = '<script>alert("x")</script> [link](javascript:alert(1))'
    call = make_call("xss", brief=attack, title="<b>Bold</b> call")
    entry = services.submission_enter(actor=maker, call=call, design_version=make_version(maker), pitch=attack)
    for url in (reverse("selection:call_detail", args=[call.slug]), page_url(entry), reverse("selection:call_list")):
        body = Client().get(url).content.decode()
        assert "<script>alert" not in body
        assert 'href="javascript:' not in body
        assert "<b>Bold</b>" not in body
        assert "&lt;b&gt;Bold&lt;/b&gt;" in body


# --- entering a design --------------------------------------------------------------------------------------------


def test_a_member_enters_one_of_their_versions(
    call: OpenCall, maker: User, make_version: Callable[..., DesignVersion], make_member: Callable[..., User]
) -> None:
    mine = make_version(maker)
    theirs = make_version(make_member("someone"))
    client = client_of(maker)
    body = client.get(reverse("selection:submission_new", args=[call.slug])).content.decode()
    assert f'value="{mine.pk}"' in body
    assert f'value="{theirs.pk}"' not in body
    response = client.post(reverse("selection:submission_new", args=[call.slug]),
                           {"design_version": mine.pk, "pitch": "Quiet and small."})  # fmt: skip
    entry = Submission.objects.get(call=call, design_version=mine)
    assert response.status_code == 302
    assert response["Location"] == page_url(entry)
    assert entry.pitch == "Quiet and small."


def test_entering_refusals(
    call: OpenCall, maker: User, make_version: Callable[..., DesignVersion], make_member: Callable[..., User]
) -> None:
    url = reverse("selection:submission_new", args=[call.slug])
    client = client_of(maker)
    lamp = make_version(maker, family=("lighting",))
    theirs = make_version(make_member("someone"))
    refused(client, url, {"design_version": theirs.pk, "pitch": "Mine now."}, 400, "Select a valid choice")
    refused(client, url, {"design_version": lamp.pk, "pitch": "A lamp."}, 422, "This call takes designs of the family")
    refused(client, url, {"design_version": lamp.pk, "pitch": ""}, 400, "This field is required")
    set_period(call, opens_in=timedelta(days=1), closes_in=timedelta(days=3))
    refused(client, url, {"design_version": make_version(maker).pk, "pitch": "Early."}, 409, "not open yet")


def test_anonymous_cannot_enter(call: OpenCall) -> None:
    response = Client().get(reverse("selection:submission_new", args=[call.slug]))
    assert response.status_code == 302
    body = Client().get(reverse("selection:call_detail", args=[call.slug])).content.decode()
    assert "Enter a design" not in body


def test_the_threshold_by_value_shows_money(
    make_call: Callable[..., OpenCall], maker: User, make_version: Callable[..., DesignVersion], voter: User
) -> None:
    call = make_call("by-value", threshold_kind=ThresholdKind.INTENTS_VALUE, threshold=10_000)
    entry = services.submission_enter(actor=maker, call=call, design_version=make_version(maker), pitch="P.")
    services.intent_state(member=voter, submission=entry, price=2_500)
    body = Client().get(page_url(entry)).content.decode()
    assert "<strong>2.50 EUR</strong>" not in body
    assert "worth <strong>25.00 EUR</strong>" in body
    assert "25 % of the threshold of 100.00 EUR of buy-intents" in body


# --- opening a call -----------------------------------------------------------------------------------------------


def call_data(**extra: Any) -> dict[str, Any]:
    now = timezone.now()
    data = {
        "organizer": "", "slug": "chairs", "title": "Chairs", "brief": "Stackable.", "currency": "EUR",
        "opens_at": (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": (now + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M"),
        "required_family": "", "threshold_kind": ThresholdKind.INTENTS_VALUE, "threshold": "5000.50",
        "prior_weight": "10", "top_n": "3",
    }  # fmt: skip
    data.update(extra)
    return data


def test_staff_opens_a_platform_call_with_an_exact_threshold(staff: User) -> None:
    client = client_of(staff)
    assert 'href="/calls/new/"' in client.get(reverse("selection:call_list")).content.decode()
    response = client.post(reverse("selection:call_new"), call_data())
    assert response.status_code == 302
    opened = OpenCall.objects.get(slug="chairs")
    assert response["Location"] == reverse("selection:call_detail", args=["chairs"])
    assert (opened.organizer_team, opened.threshold, opened.currency, opened.created_by) == (
        None,
        500_050,
        "EUR",
        staff,
    )


def test_a_team_owner_opens_a_call_for_the_team(make_member: Callable[..., User]) -> None:
    owner = make_member("owner")
    team = people.team_create(actor=owner, slug="chair-guild", name="Chair guild")
    client = client_of(owner)
    body = client.get(reverse("selection:call_new")).content.decode()
    assert "Crowdmaker (the platform)" not in body
    refused(client, reverse("selection:call_new"), call_data(organizer=""), 403, "in the platform&#x27;s name")
    response = client.post(reverse("selection:call_new"), call_data(organizer="chair-guild",
                                                                    threshold_kind=ThresholdKind.INTENTS_COUNT,
                                                                    threshold="150"))  # fmt: skip
    assert response.status_code == 302
    opened = OpenCall.objects.get(slug="chairs")
    assert (opened.organizer_team, opened.threshold_kind, opened.threshold) == (team, "intents-count", 150)


def test_opening_a_call_refusals(staff: User, make_member: Callable[..., User], call: OpenCall) -> None:
    url = reverse("selection:call_new")
    refused(client_of(make_member("nobody")), url, call_data(), 403, "Not allowed")
    client = client_of(staff)
    refused(client, url, call_data(threshold="12.345"), 400, "EUR amounts have 2 decimal places")
    refused(client, url, call_data(threshold_kind=ThresholdKind.INTENTS_COUNT, threshold="1.5"), 400, "whole number")
    refused(client, url, call_data(slug=call.slug), 409, "A call with this address exists already.")
    past = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    refused(client, url, call_data(closes_at=past), 422, "A call closes after it opens.")
    refused(client, url, call_data(organizer="someone-elses"), 400, "Select a valid choice")
    assert Client().get(url).status_code == 302


def test_the_call_page_reads_the_same_number_of_queries_whatever_its_size(
    call: OpenCall, submission: Submission, make_member: Callable[..., User], make_version: Callable[..., DesignVersion]
) -> None:
    url = reverse("selection:call_detail", args=[call.slug])
    with CaptureQueriesContext(connection) as one:
        assert Client().get(url).status_code == 200
    for handle in ("second", "third", "fourth"):
        author = make_member(handle)
        services.submission_enter(actor=author, call=call, design_version=make_version(author), pitch="P.")
    with CaptureQueriesContext(connection) as four:
        response = Client().get(url)
    assert len(response.context["rows"]) == 4
    assert len(four.captured_queries) == len(one.captured_queries)
