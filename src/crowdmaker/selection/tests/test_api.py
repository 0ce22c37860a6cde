"""The selection API: public reads of calls and ranked submissions, members' entries, votes and buy-intents, and
every refusal answered with its status and code and nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from crowdmaker.commons.models import DesignVersion
from crowdmaker.conftest import ApiClient
from crowdmaker.people.models import User
from crowdmaker.selection import services
from crowdmaker.selection.models import OpenCall, Submission
from crowdmaker.selection.tests.conftest import set_period
from crowdmaker.selection.tests.test_services import state

Api = Callable[..., ApiClient]


def refused(response: Any, before: tuple[Any, ...], status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert state() == before


def put(client: ApiClient, path: str, body: Any) -> Any:
    return client.request("PUT", path, body)


# --- calls -----------------------------------------------------------------------------------------------------


def test_anyone_reads_calls_and_a_call(api_for: Api, call: OpenCall, make_call: Callable[..., OpenCall]) -> None:
    closed = make_call("closed-one")
    set_period(closed, opens_in=timedelta(days=-9), closes_in=timedelta(days=-1))
    upcoming = make_call("later")
    set_period(upcoming, opens_in=timedelta(days=1), closes_in=timedelta(days=8))
    anonymous = api_for(None)

    listed = anonymous.get("/api/v1/calls")
    assert listed.status_code == 200
    assert [(c["slug"], c["status"]) for c in listed.json()["results"]] == [
        ("later", "upcoming"), ("closed-one", "closed"), ("sensors", "open"),
    ]  # fmt: skip
    only_open = anonymous.get("/api/v1/calls?status=open").json()["results"]
    assert [c["slug"] for c in only_open] == ["sensors"]
    assert anonymous.get("/api/v1/calls?status=nonsense").status_code == 422

    detail = anonymous.get("/api/v1/calls/sensors")
    assert detail.status_code == 200
    body = detail.json()
    assert body["brief"] == "Small, **quiet** sensors."
    assert "<strong>quiet</strong>" in body["brief_html"]
    assert (body["status"], body["required_family"], body["threshold_kind"], body["threshold"]) == (
        "open", "smart-home", "intents-count", 200,
    )  # fmt: skip
    assert (body["prior_weight"], body["prior_mean"], body["prior_mean_display"]) == (10, "3", "3.000")
    assert body["organizer_team"] is None
    assert anonymous.get("/api/v1/calls/nothing-here").json()["error"]["code"] == "not_found"


def test_staff_opens_a_call_and_a_member_is_refused(
    api_for: Api, staff: User, make_member: Callable[..., User]
) -> None:
    now = timezone.now()
    body = {
        "slug": "lamps", "title": "Lamps", "opens_at": now.isoformat(), "closes_at": (now + timedelta(days=3)).isoformat(),
        "threshold_kind": "intents-value", "threshold": 500_000, "currency": "EUR", "prior_weight": 5,
    }  # fmt: skip
    before = state()
    refused(api_for(make_member("someone")).post("/api/v1/calls", body), before, 403, "staff_only")
    refused(api_for(staff, "read").post("/api/v1/calls", body), before, 403, "token_read_only")
    refused(api_for(None).post("/api/v1/calls", body), before, 401, "not_authenticated")
    refused(api_for(staff).post("/api/v1/calls", {**body, "team": "no-such-team"}), before, 422, "team_unknown")

    created = api_for(staff).post("/api/v1/calls", body)
    assert created.status_code == 201, created.content
    assert (created.json()["slug"], created.json()["status"], created.json()["prior_weight"]) == ("lamps", "open", 5)
    assert OpenCall.objects.get(slug="lamps").threshold == 500_000

    before = state()
    refused(api_for(staff).post("/api/v1/calls", body), before, 409, "slug_taken")


# --- submissions -----------------------------------------------------------------------------------------------


def test_a_maker_enters_a_version(
    api_for: Api, call: OpenCall, maker: User, make_version: Callable[..., DesignVersion]
) -> None:
    version = make_version(maker)
    entered = api_for(maker).post(
        "/api/v1/calls/sensors/submissions", {"design": version.design.slug, "version": 1, "pitch": "It *sleeps*."}
    )
    assert entered.status_code == 201, entered.content
    body = entered.json()
    assert (body["call"], body["design"], body["version"], body["entered_by"]) == ("sensors", version.design.slug, 1,
                                                                                  "maker")  # fmt: skip
    assert (body["rank"], body["score"], body["vote_count"], body["mean"], body["threshold_reached"]) == (
        1, "3", 0, None, False,
    )  # fmt: skip
    assert api_for(None).get(f"/api/v1/submissions/{body['id']}").json() == body


def test_entries_refused(
    api_for: Api, call: OpenCall, maker: User, make_member: Callable[..., User],
    make_version: Callable[..., DesignVersion],
) -> None:  # fmt: skip
    wrong_family = make_version(maker, family=("furniture",))
    own = make_version(maker)
    path = "/api/v1/calls/sensors/submissions"
    before = state()
    refused(api_for(maker).post(path, {"design": wrong_family.design.slug, "version": 1, "pitch": "x"}), before, 422,
            "family_required")  # fmt: skip
    refused(api_for(make_member("thief")).post(path, {"design": own.design.slug, "version": 1, "pitch": "x"}), before,
            403, "not_owner")  # fmt: skip
    refused(api_for(maker).post(path, {"design": "no-such", "version": 1, "pitch": "x"}), before, 422, "design_unknown")
    refused(api_for(maker).post(path, {"design": own.design.slug, "version": 1, "pitch": "x", "extra": 1}), before, 422,
            "validation_error")  # fmt: skip
    refused(api_for(None).post(path, {"design": own.design.slug, "version": 1, "pitch": "x"}), before, 401,
            "not_authenticated")  # fmt: skip
    set_period(call, opens_in=timedelta(days=-9), closes_in=timedelta(days=-1))
    before = state()
    refused(api_for(maker).post(path, {"design": own.design.slug, "version": 1, "pitch": "x"}), before, 409,
            "call_closed")  # fmt: skip


def test_ranking_order_in_the_output(
    api_for: Api, call: OpenCall, make_member: Callable[..., User], make_version: Callable[..., DesignVersion]
) -> None:
    makers = [make_member(f"maker-{n}") for n in range(3)]
    entries = [
        services.submission_enter(actor=m, call=call, design_version=make_version(m), pitch="Mine.") for m in makers
    ]
    voters = [make_member(f"voter-{n}") for n in range(3)]
    for voter in voters:  # the second entry gets three 5s, the third three 4s, the first three 1s
        for entry, score in zip(entries, (1, 5, 4), strict=True):
            services.vote_cast(voter=voter, submission=entry, score=score)

    answer = api_for(None).get("/api/v1/calls/sensors/submissions")
    assert answer.status_code == 200
    ranked = answer.json()
    assert [r["id"] for r in ranked] == [entries[1].pk, entries[2].pk, entries[0].pk]
    assert [r["rank"] for r in ranked] == [1, 2, 3]
    # m = 30/9 = 10/3; C = 10: the best scores (10·10/3 + 15) / 13 = 145/39
    assert (ranked[0]["score"], ranked[0]["score_display"], ranked[0]["mean"]) == ("145/39", "3.718", "5")
    assert (ranked[2]["score"], ranked[2]["vote_count"]) == ("109/39", 3)
    assert api_for(None).get("/api/v1/calls/sensors").json()["prior_mean"] == "10/3"

    page = api_for(None).get("/api/v1/calls/sensors/submissions?offset=1&limit=1").json()
    assert [(r["id"], r["rank"]) for r in page] == [(entries[2].pk, 2)]
    assert api_for(None).get("/api/v1/calls/sensors/submissions?limit=0").status_code == 422
    assert api_for(None).get(f"/api/v1/submissions/{entries[0].pk}").json()["rank"] == 3


# --- votes and buy-intents -------------------------------------------------------------------------------------


def test_a_member_votes_changes_states_and_withdraws(
    api_for: Api, submission: Submission, make_member: Callable[..., User]
) -> None:
    member = api_for(make_member("fan"))
    base = f"/api/v1/submissions/{submission.pk}"
    assert member.get(f"{base}/mine").json() == {"score": None, "intent": None}

    assert put(member, f"{base}/vote", {"score": 4}).json() == {"score": 4, "intent": None}
    assert put(member, f"{base}/vote", {"score": 2}).json() == {"score": 2, "intent": None}
    submission.refresh_from_db()
    assert (submission.vote_count, submission.vote_sum) == (1, 2)

    stated = put(member, f"{base}/intent", {"price": 4_500})
    assert stated.status_code == 200, stated.content
    assert (stated.json()["intent"]["price"], stated.json()["intent"]["currency"]) == (4_500, "EUR")
    shown = api_for(None).get(base).json()
    assert (shown["intent_count"], shown["intent_value"], shown["vote_count"], shown["mean"]) == (1, 4_500, 1, "2")

    withdrawn = member.delete(f"{base}/intent")
    assert withdrawn.json() == {"score": 2, "intent": None}
    submission.refresh_from_db()
    assert (submission.intent_count, submission.intent_value) == (0, 0)


def test_threshold_reached_shows(api_for: Api, make_call: Callable[..., OpenCall], make_member: Callable[..., User],
                                 make_version: Callable[..., DesignVersion]) -> None:  # fmt: skip
    small = make_call("small", threshold=1)
    maker = make_member("small-maker")
    entry = services.submission_enter(actor=maker, call=small, design_version=make_version(maker), pitch="Tiny.")
    assert (
        put(api_for(make_member("buyer")), f"/api/v1/submissions/{entry.pk}/intent", {"price": 100}).status_code == 200
    )
    assert api_for(None).get(f"/api/v1/submissions/{entry.pk}").json()["threshold_reached"] is True


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("unverified", 403, "email_unverified"),
        ("new", 403, "account_too_new"),
        ("maker", 403, "own_submission"),
        ("read-token", 403, "token_read_only"),
        ("anonymous", 401, "not_authenticated"),
    ],
)
def test_votes_and_intents_refused_to(
    api_for: Api, submission: Submission, maker: User, make_member: Callable[..., User], who: str, status: int,
    code: str,
) -> None:  # fmt: skip
    client = {
        "unverified": lambda: api_for(make_member("u", verified=False)),
        "new": lambda: api_for(make_member("n", age_days=0)),
        "maker": lambda: api_for(maker),
        "read-token": lambda: api_for(make_member("r"), "read"),
        "anonymous": lambda: api_for(None),
    }[who]()
    base = f"/api/v1/submissions/{submission.pk}"
    before = state()
    refused(put(client, f"{base}/vote", {"score": 3}), before, status, code)
    refused(put(client, f"{base}/intent", {"price": 100}), before, status, code)
    if who in ("read-token", "anonymous"):  # a withdrawal is a write too
        refused(client.delete(f"{base}/intent"), before, status, code)


@pytest.mark.parametrize(("score", "code"), [(6, "score_invalid"), (0, "score_invalid"), ("5", "validation_error"),
                                             (4.5, "validation_error")])  # fmt: skip
def test_bad_scores_refused(
    api_for: Api, submission: Submission, make_member: Callable[..., User], score: object, code: str
) -> None:
    client = api_for(make_member("m"))
    before = state()
    refused(put(client, f"/api/v1/submissions/{submission.pk}/vote", {"score": score}), before, 422, code)


def test_a_changed_score_out_of_range_keeps_the_old_one(
    api_for: Api, submission: Submission, make_member: Callable[..., User]
) -> None:
    client = api_for(make_member("m"))
    put(client, f"/api/v1/submissions/{submission.pk}/vote", {"score": 3})
    before = state()
    refused(put(client, f"/api/v1/submissions/{submission.pk}/vote", {"score": 9}), before, 422, "score_invalid")
    assert client.get(f"/api/v1/submissions/{submission.pk}/mine").json()["score"] == 3


def test_votes_and_intents_refused_once_the_call_closed(
    api_for: Api, submission: Submission, call: OpenCall, make_member: Callable[..., User]
) -> None:
    fan = make_member("fan")
    services.vote_cast(voter=fan, submission=submission, score=4)
    services.intent_state(member=fan, submission=submission, price=1_000)
    set_period(call, opens_in=timedelta(days=-9), closes_in=timedelta(days=-1))
    client, base = api_for(fan), f"/api/v1/submissions/{submission.pk}"
    before = state()
    refused(put(client, f"{base}/vote", {"score": 1}), before, 409, "call_closed")
    refused(put(client, f"{base}/intent", {"price": 5}), before, 409, "call_closed")
    refused(client.delete(f"{base}/intent"), before, 409, "call_closed")
    assert client.get(f"{base}/mine").json()["score"] == 4


def test_intent_refusals(api_for: Api, submission: Submission, make_member: Callable[..., User]) -> None:
    fan = make_member("fan")
    client, base = api_for(fan), f"/api/v1/submissions/{submission.pk}"
    before = state()
    refused(put(client, f"{base}/intent", {"price": 0}), before, 422, "price_invalid")
    refused(put(client, f"{base}/intent", {"price": 10, "currency": "USD"}), before, 422, "currency_mismatch")
    refused(client.delete(f"{base}/intent"), before, 404, "no_intent")
    refused(put(client, "/api/v1/submissions/999999/intent", {"price": 10}), before, 404, "not_found")
    assert put(client, f"{base}/intent", {"price": 10}).status_code == 200
    before = state()
    refused(put(client, f"{base}/intent", {"price": 20}), before, 409, "intent_exists")


def test_the_ranking_page_takes_three_queries_whatever_the_size(
    api_for: Api, call: OpenCall, make_member: Callable[..., User], make_version: Callable[..., DesignVersion],
    django_assert_num_queries: Any,
) -> None:  # fmt: skip
    for n in range(5):
        entrant = make_member(f"entrant-{n}")
        services.submission_enter(actor=entrant, call=call, design_version=make_version(entrant), pitch="Mine.")
    anonymous = api_for(None)
    with django_assert_num_queries(3):  # the call, the ranking's aggregates, the page's rows
        answer = anonymous.get("/api/v1/calls/sensors/submissions")
    assert len(answer.json()) == 5


def test_a_read_token_reads_my_vote_and_intent(
    api_for: Api, submission: Submission, make_member: Callable[..., User]
) -> None:
    fan = make_member("fan")
    services.vote_cast(voter=fan, submission=submission, score=5)
    mine = api_for(fan, "read").get(f"/api/v1/submissions/{submission.pk}/mine")
    assert mine.json() == {"score": 5, "intent": None}
    assert api_for(None).get(f"/api/v1/submissions/{submission.pk}/mine").status_code == 401
    assert api_for(fan).get("/api/v1/submissions/999999/mine").json()["error"]["code"] == "not_found"
