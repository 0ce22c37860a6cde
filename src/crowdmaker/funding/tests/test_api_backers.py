"""The JSON API of updates, comments, the backer's survey, fulfilment and the backer report: reads as each caller may
see them, writes through the services with their refusals in the API's one error shape, nothing recorded then."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from crowdmaker.conftest import ApiClient
from crowdmaker.funding import surveys
from crowdmaker.funding.models import Campaign, Comment, Fulfilment, SurveyResponse, Update
from crowdmaker.funding.reports import BOM
from crowdmaker.funding.tests.backer_world import World, build_world
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db


def put(client: ApiClient, path: str, body: Any) -> Any:
    return client.request("PUT", path, body)


@pytest.fixture
def world(make_campaign: Callable[..., Campaign], make_user: Callable[..., User]) -> World:
    return build_world(make_campaign, make_user)


def test_updates_are_posted_by_editors_and_read_as_each_caller_may(
    world: World, api_for: Callable[..., ApiClient], django_capture_on_commit_callbacks: Any
) -> None:
    base = f"/api/v1/campaigns/{world.campaign.slug}/updates"
    maker = api_for(world.maker)

    refused = api_for(world.ben).post(base, {"title": "Hi", "body": "Text"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_editor"
    unknown = maker.post(base, {"title": "Hi", "body": "Text", "tiers": [world.lamp.pk, 999_999]})
    assert unknown.status_code == 422
    assert unknown.json()["error"] == {"code": "tier_unknown", "message": "This campaign has no tier 999999.",
                                       "field": "tiers.1"}  # fmt: skip
    assert Update.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        posted = maker.post(base, {"title": "Lamp news", "body": "For **lamps**.", "audience": "backers",
                                   "tiers": [world.lamp.pk]})  # fmt: skip
    assert posted.status_code == 201
    body = posted.json()
    assert (body["number"], body["audience"], body["tiers"], body["readable"], body["body"]) == (
        1, "backers", [world.lamp.pk], True, "For **lamps**.",
    )  # fmt: skip
    assert [m.to for m in mail.outbox] == [["ben@example.org"]]

    anonymous = api_for(None).get(base).json()
    assert [(u["title"], u["readable"], u["body"], u["body_html"]) for u in anonymous] == [
        ("Lamp news", False, None, None)
    ]
    ben = api_for(world.ben).get(f"{base}/1").json()
    assert (ben["readable"], ben["body_html"]) == (True, "<p>For <strong>lamps</strong>.</p>")
    assert api_for(None).get(f"{base}/2").status_code == 404


def test_comments_and_answers(world: World, api_for: Callable[..., ApiClient]) -> None:
    base = f"/api/v1/campaigns/{world.campaign.slug}/comments"
    stranger = api_for(world.stranger).post(base, {"body": "Hello"})
    assert (stranger.status_code, stranger.json()["error"]["code"]) == (403, "backers_only")
    question = api_for(world.ben).post(base, {"body": "Does it dim?"})
    assert question.status_code == 201
    asked = question.json()["id"]
    answer = api_for(world.maker).post(base, {"body": "Yes.", "parent": asked})
    assert answer.status_code == 201
    assert Comment.objects.count() == 2

    listed = api_for(None).get(base).json()["results"]
    assert [(c["author"]["handle"], c["author"]["editor"], c["body"],
             [(r["author"]["handle"], r["author"]["editor"], r["body"]) for r in c["replies"]]) for c in listed] == [
        ("ben", False, "Does it dim?", [("ada", True, "Yes.")]),
    ]  # fmt: skip


def test_a_backer_answers_the_survey_and_the_editors_ship_and_report(
    world: World, api_for: Callable[..., ApiClient], django_capture_on_commit_callbacks: Any
) -> None:
    world.settle()
    with django_capture_on_commit_callbacks(execute=True):
        survey = surveys.survey_open(actor=world.maker, campaign=world.campaign,
                                     address_lock_at=timezone.now() + timedelta(days=14),
                                     questions=[surveys.QuestionIn(world.lamp, "Colour", ["black", "white"])])  # fmt: skip
    (colour,) = surveys.survey_questions(survey=survey)
    ben = api_for(world.ben)
    url = f"/api/v1/pledges/{world.pledges['ben'].pk}/survey"

    before = ben.get(url).json()
    assert (before["tier"], before["open"], before["answer"]) == ("Lamp", True, None)
    assert before["questions"] == [{"id": colour.pk, "label": "Colour", "choices": ["black", "white"]}]

    address = {"ship_to": "Ben Backer", "address_line1": "2 Elm Road", "city": "Bristol", "country": "GB"}
    wrong = put(ben, url, {**address, "answers": {str(colour.pk): "green"}})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == f"answers.{colour.pk}"
    assert SurveyResponse.objects.filter(answered_at__isnull=False).count() == 0
    assert put(api_for(world.ana), url, {**address, "answers": {}}).status_code == 404  # not her pledge

    answered = put(ben, url, {**address, "answers": {str(colour.pk): "white"}})
    assert answered.status_code == 200
    answer = answered.json()["answer"]
    assert (answer["city"], answer["country"], answer["answers"]) == ("Bristol", "GB", {str(colour.pk): "white"})

    fulfil = f"/api/v1/campaigns/{world.campaign.slug}/pledges/{world.pledges['ben'].pk}/fulfilment"
    assert put(ben, fulfil, {"status": "sent"}).status_code == 403
    sent = put(api_for(world.maker), fulfil, {"status": "sent", "carrier": "DHL", "tracking": "JD1"})
    assert sent.status_code == 200
    assert (sent.json()["pledge"], sent.json()["status"], sent.json()["tracking"]) == (
        world.pledges["ben"].pk, "sent", "JD1",
    )  # fmt: skip
    assert Fulfilment.objects.get().tracking == "JD1"

    report = f"/api/v1/campaigns/{world.campaign.slug}/backers/report.csv"
    assert ben.get(report).status_code == 403
    response = api_for(world.maker).get(report)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text.removeprefix(BOM))))
    assert [(r["tier"], r["city"], r["Lamp: Colour"], r["fulfilment_status"]) for r in rows] == [
        ("Early bird", "", "", "not-sent"), ("Lamp", "Bristol", "white", "sent"), ("No reward", "", "", ""),
    ]  # fmt: skip
