"""The backer survey: opened once a campaign succeeded, one response per captured pledge with a reward, an
invitation mailed once to each backer; answers with an address and the reward's options until the lock date;
reminders by the periodic job, at most three, never twice; refusals change nothing. With the pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from crowdmaker.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from crowdmaker.funding import pledges, surveys
from crowdmaker.funding.models import Campaign, Survey, SurveyQuestion, SurveyResponse
from crowdmaker.funding.tests.backer_world import World, build_world
from crowdmaker.ledger.gateways import sandbox
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def world(make_campaign: Callable[..., Campaign], make_user: Callable[..., User]) -> World:
    return build_world(make_campaign, make_user, settle=True)


def open_survey(world: World, on_commit: Any, now: datetime | None = None) -> Survey:
    now = now or timezone.now()
    questions = [
        surveys.QuestionIn(world.lamp, "Colour", ["black", "white"]),
        surveys.QuestionIn(world.lamp, "Plug", ["EU", "UK"]),
        surveys.QuestionIn(world.early, "Colour", ["black", "brass"]),
    ]
    with on_commit():
        return surveys.survey_open(actor=world.maker, campaign=world.campaign, address_lock_at=now + 14 * DAY,
                                   questions=questions, intro="Thanks for waiting!", now=now)  # fmt: skip


def address(**change: str) -> surveys.AddressIn:
    fields = {"ship_to": "Ben Backer", "address_line1": "2 Elm Road", "city": "Bristol", "country": "GB",
              "postal_code": "BS1 4DJ", "phone": "+44 117 496 0000"}  # fmt: skip
    fields.update(change)
    return surveys.AddressIn(**fields)


def recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


# --- opening ----------------------------------------------------------------------------------------------------


def test_opening_gives_each_reward_a_response_and_invites_its_backer_once(world: World, on_commit: Any) -> None:
    survey = open_survey(world, on_commit)

    # Ana and Ben have a reward; Cai backed without one, Dee cancelled.
    responses = SurveyResponse.objects.filter(survey=survey).order_by("pledge_id")
    assert [r.pledge for r in responses] == [world.pledges["ana"], world.pledges["ben"]]
    assert all(r.invited_at is not None and r.answered_at is None for r in responses)
    assert recipients() == ["ana@example.org", "ben@example.org"]
    invitation = next(m for m in mail.outbox if m.to == ["ben@example.org"])
    assert invitation.subject == "First run of the desk lamp: where should we send your reward?"
    assert f"/pledges/{world.pledges['ben'].pk}/survey/" in invitation.body
    assert "Thanks for waiting!" in invitation.body
    assert [(q.tier, q.label, q.choices) for q in surveys.survey_questions(survey=survey)] == [
        (world.lamp, "Colour", ["black", "white"]), (world.lamp, "Plug", ["EU", "UK"]),
        (world.early, "Colour", ["black", "brass"]),
    ]  # fmt: skip

    # The periodic job finds everybody invited: nothing more is sent.
    assert surveys.survey_reminders_run(now=survey.opened_at + timedelta(hours=1)) == {
        "added": 0, "invited": 0, "reminded": 0,
    }  # fmt: skip
    assert len(mail.outbox) == 2


def test_a_survey_waits_for_success(make_campaign: Callable[..., Campaign], make_user: Callable[..., User]) -> None:
    live = build_world(make_campaign, make_user)
    with pytest.raises(Conflict) as refused:
        surveys.survey_open(actor=live.maker, campaign=live.campaign, address_lock_at=timezone.now() + 14 * DAY)
    assert refused.value.code == "campaign_not_succeeded"
    assert (Survey.objects.count(), SurveyResponse.objects.count()) == (0, 0)


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"actor": "ben"}, Forbidden, None),
        ({"lock": timedelta(hours=12)}, Invalid, "address_lock_at"),
        ({"lock": timedelta(days=181)}, Invalid, "address_lock_at"),
        ({"questions": [("lamp", "Colour", ["black"])]}, Invalid, "questions.0.choices"),
        ({"questions": [("lamp", "Colour", ["black", "Black"])]}, Invalid, "questions.0.choices"),
        ({"questions": [("lamp", " ", ["a", "b"])]}, Invalid, "questions.0.label"),
        ({"questions": [("lamp", "Plug", ["EU", "UK"]), ("lamp", "plug", ["EU", "US"])]}, Invalid, "questions"),
        ({"questions": [("other", "Colour", ["a", "b"])]}, Invalid, "questions.0.tier"),
    ],
)
def test_a_refused_opening_records_and_mails_nothing(
    world: World, on_commit: Any, make_campaign: Callable[..., Campaign], change: dict[str, Any],
    error: type[DomainError], field: str | None,
) -> None:  # fmt: skip
    now = timezone.now()
    other = make_campaign("another-lamp").tier  # type: ignore[attr-defined]
    tiers = {"lamp": world.lamp, "other": other}
    questions = [surveys.QuestionIn(tiers[t], label, choices) for t, label, choices in change.get("questions", [])]
    actor = world.ben if change.get("actor") else world.maker

    with on_commit(), pytest.raises(error) as refused:
        surveys.survey_open(actor=actor, campaign=world.campaign, address_lock_at=now + change.get("lock", 14 * DAY),
                            questions=questions, now=now)  # fmt: skip

    assert refused.value.field == field
    assert (Survey.objects.count(), SurveyQuestion.objects.count(), SurveyResponse.objects.count()) == (0, 0, 0)
    assert mail.outbox == []


def test_a_second_survey_is_refused(world: World, on_commit: Any) -> None:
    open_survey(world, on_commit)
    with pytest.raises(Conflict) as refused:
        surveys.survey_open(actor=world.maker, campaign=world.campaign, address_lock_at=timezone.now() + 20 * DAY)
    assert refused.value.code == "survey_exists"
    assert Survey.objects.count() == 1


# --- answering --------------------------------------------------------------------------------------------------


def test_a_backer_answers_and_changes_the_answer_until_the_lock(world: World, on_commit: Any) -> None:
    survey = open_survey(world, on_commit)
    ben = world.pledges["ben"]
    colour, plug = surveys.survey_questions(survey=survey, tier_id=world.lamp.pk)
    first = survey.opened_at + DAY

    response = surveys.survey_answer(backer=world.ben, pledge_id=ben.pk, address=address(),
                                     answers={str(colour.pk): "white", str(plug.pk): "UK"}, now=first)  # fmt: skip
    assert (response.ship_to, response.city, response.country, response.postal_code, response.phone) == (
        "Ben Backer", "Bristol", "GB", "BS1 4DJ", "+44 117 496 0000",
    )  # fmt: skip
    assert response.answers == {str(colour.pk): "white", str(plug.pk): "UK"}
    assert response.answered_at == response.updated_at == first

    later = first + DAY
    changed = surveys.survey_answer(backer=world.ben, pledge_id=ben.pk, address=address(country="ie", city="Cork"),
                                    answers={str(colour.pk): "black", str(plug.pk): "UK"}, now=later)  # fmt: skip
    assert changed.pk == response.pk
    assert (changed.country, changed.city, changed.answers[str(colour.pk)]) == ("IE", "Cork", "black")
    assert (changed.answered_at, changed.updated_at) == (first, later)

    with pytest.raises(Conflict) as locked:
        surveys.survey_answer(backer=world.ben, pledge_id=ben.pk, address=address(city="Derry"),
                              answers={str(colour.pk): "black", str(plug.pk): "EU"},
                              now=survey.address_lock_at)  # fmt: skip
    assert locked.value.code == "survey_locked"
    changed.refresh_from_db()
    assert (changed.city, changed.updated_at) == ("Cork", later)


@pytest.mark.parametrize(
    ("change", "answers", "field"),
    [
        ({"country": "XX"}, None, "country"),
        ({"country": ""}, None, "country"),
        ({"city": " "}, None, "city"),
        ({"ship_to": ""}, None, "ship_to"),
        ({"address_line1": "Line\nbreak"}, None, "address_line1"),
        ({"phone": "call me"}, None, "phone"),
        ({"postal_code": "1" * 21}, None, "postal_code"),
        ({}, {"colour": "green", "plug": "UK"}, "answers.colour"),
        ({}, {"plug": "UK"}, "answers.colour"),
        ({}, {"colour": "white", "plug": "UK", "999": "x"}, "answers"),
    ],
)
def test_a_refused_answer_changes_nothing(
    world: World, on_commit: Any, change: dict[str, str], answers: dict[str, str] | None, field: str
) -> None:
    survey = open_survey(world, on_commit)
    colour, plug = surveys.survey_questions(survey=survey, tier_id=world.lamp.pk)
    keys = {"colour": str(colour.pk), "plug": str(plug.pk)}
    given = {keys.get(k, k): v for k, v in (answers or {"colour": "white", "plug": "UK"}).items()}
    before = list(SurveyResponse.objects.order_by("pk").values())

    with pytest.raises(Invalid) as refused:
        surveys.survey_answer(backer=world.ben, pledge_id=world.pledges["ben"].pk, address=address(**change),
                              answers=given)  # fmt: skip

    assert refused.value.field == field.replace("colour", keys["colour"])
    assert list(SurveyResponse.objects.order_by("pk").values()) == before


def test_only_a_backer_with_a_reward_answers_their_own_survey(world: World, on_commit: Any) -> None:
    with pytest.raises(NotFound) as before_opening:
        surveys.survey_answer(backer=world.ana, pledge_id=world.pledges["ana"].pk, address=address(),
                              answers={})  # fmt: skip
    assert before_opening.value.code == "no_survey"
    open_survey(world, on_commit)
    for backer, pledge in ((world.ana, world.pledges["ben"]), (world.cai, world.pledges["cai"]),
                           (world.dee, world.pledges["dee"])):  # fmt: skip
        with pytest.raises(NotFound):
            surveys.survey_answer(backer=backer, pledge_id=pledge.pk, address=address(), answers={})
    assert SurveyResponse.objects.filter(answered_at__isnull=False).count() == 0


# --- reminders --------------------------------------------------------------------------------------------------


def test_reminders_go_to_those_who_have_not_answered_at_most_three_times(world: World, on_commit: Any) -> None:
    survey = open_survey(world, on_commit)
    opened = survey.opened_at
    surveys.survey_answer(backer=world.ana, pledge_id=world.pledges["ana"].pk, address=address(ship_to="Ana"),
                          answers={str(surveys.survey_questions(survey=survey, tier_id=world.early.pk)[0].pk): "brass"},
                          now=opened + DAY)  # fmt: skip
    mail.outbox.clear()
    invited = SurveyResponse.objects.get(pledge=world.pledges["ben"]).invited_at
    assert invited is not None

    def run(at: timedelta) -> int:
        return surveys.survey_reminders_run(now=invited + at)["reminded"]

    assert run(2 * DAY) == 0  # not yet: SURVEY_REMINDER_EVERY after the invitation
    assert run(3 * DAY) == 1
    assert run(3 * DAY) == 0  # the same run again: nobody twice
    assert recipients() == ["ben@example.org"]  # Ana answered
    assert "Reminder" in mail.outbox[0].subject
    assert run(5 * DAY) == 0
    assert (run(6 * DAY), run(9 * DAY), run(12 * DAY)) == (1, 1, 0)  # the third was the last
    assert "This is the last reminder." in mail.outbox[-1].body
    assert SurveyResponse.objects.get(pledge=world.pledges["ben"]).reminders_sent == surveys.SURVEY_MAX_REMINDERS
    assert len(mail.outbox) == 3


def test_no_reminder_after_the_lock_date(world: World, on_commit: Any) -> None:
    survey = open_survey(world, on_commit)
    mail.outbox.clear()
    assert surveys.survey_reminders_run(now=survey.address_lock_at) == {"added": 0, "invited": 0, "reminded": 0}
    assert mail.outbox == []


def test_a_late_pledge_gets_its_survey_from_the_periodic_job(
    make_campaign: Callable[..., Campaign], make_user: Callable[..., User], on_commit: Any
) -> None:
    world = build_world(make_campaign, make_user, settle=True, late_pledges=True)
    survey = open_survey(world, on_commit)
    mail.outbox.clear()
    late = pledges.pledge_create(backer=world.stranger, campaign=world.campaign, tier=world.lamp,
                                 payment_method=sandbox.CARD_OK)  # fmt: skip
    assert late.status == "captured"

    done = surveys.survey_reminders_run(now=timezone.now())
    again = surveys.survey_reminders_run(now=timezone.now())

    assert (done, again) == ({"added": 1, "invited": 1, "reminded": 0}, {"added": 0, "invited": 0, "reminded": 0})
    assert SurveyResponse.objects.get(pledge=late).survey == survey
    assert recipients() == ["eve@example.org"]


# --- pages ------------------------------------------------------------------------------------------------------


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_maker_opens_the_survey_from_its_page(world: World, on_commit: Any) -> None:
    maker = client_of(world.maker)
    url = f"/campaigns/{world.campaign.slug}/survey/"
    page = maker.get(url).content.decode()
    assert f'name="survey-options_{world.lamp.pk}"' in page
    lock = (timezone.now() + 14 * DAY).strftime("%Y-%m-%dT%H:%M")

    refused = maker.post(url, {"survey-address_lock_at": lock, f"survey-options_{world.lamp.pk}": "Colour black"})
    assert refused.status_code == 400
    assert "Line 1: write the option, a colon and its choices" in refused.content.decode()
    single = maker.post(url, {"survey-address_lock_at": lock, f"survey-options_{world.lamp.pk}": "Colour: black"})
    assert single.status_code == 422
    assert "“Colour” needs from 2 to 20 choices." in single.content.decode()
    assert Survey.objects.count() == 0

    with on_commit():
        opened = maker.post(url, {"survey-address_lock_at": lock, "survey-intro": "Hello",
                                  f"survey-options_{world.lamp.pk}": "Colour: black, white\nPlug: EU, UK"},
                            follow=True)  # fmt: skip
    assert "The survey is open" in opened.content.decode()
    assert "0 of 2</strong> rewards have an address." in opened.content.decode()
    survey = Survey.objects.get()
    assert [(q.label, q.choices) for q in surveys.survey_questions(survey=survey)] == [
        ("Colour", ["black", "white"]), ("Plug", ["EU", "UK"]),
    ]  # fmt: skip
    assert recipients() == ["ana@example.org", "ben@example.org"]
    assert client_of(world.ben).get(url).status_code == 403


def test_a_backer_answers_on_the_survey_page_and_sees_it_on_the_campaign(world: World, on_commit: Any) -> None:
    survey = open_survey(world, on_commit)
    colour, plug = surveys.survey_questions(survey=survey, tier_id=world.lamp.pk)
    ben = client_of(world.ben)
    url = f"/pledges/{world.pledges['ben'].pk}/survey/"
    campaign_page = ben.get(f"/campaigns/{world.campaign.slug}/").content.decode()
    assert f'<a href="{url}">answer the survey</a>' in campaign_page

    form = ben.get(url).content.decode()
    assert 'autocomplete="address-line1"' in form
    assert "<legend>Your reward's options</legend>" in form
    fields = {"ship_to": "Ben Backer", "address_line1": "2 Elm Road", "city": "Bristol", "country": "GB",
              f"question_{colour.pk}": "white", f"question_{plug.pk}": "UK"}  # fmt: skip
    refused = ben.post(url, {**fields, "country": "", f"question_{plug.pk}": "US"})
    assert refused.status_code == 400
    assert "Select a valid choice." in refused.content.decode()
    assert SurveyResponse.objects.filter(answered_at__isnull=False).count() == 0

    saved = ben.post(url, fields, follow=True)
    assert "Thank you: your answer is saved." in saved.content.decode()
    response = SurveyResponse.objects.get(pledge=world.pledges["ben"])
    assert (response.city, response.answers) == ("Bristol", {str(colour.pk): "white", str(plug.pk): "UK"})
    assert 'value="Bristol"' in saved.content.decode()  # the answer is shown to change it
    assert "see or change your answer" in ben.get(f"/campaigns/{world.campaign.slug}/").content.decode()

    assert client_of(world.ana).get(url).status_code == 404  # someone else's pledge
    assert client_of(world.cai).get(f"/pledges/{world.pledges['cai'].pk}/survey/").status_code == 404  # no reward


def test_the_editors_move_the_lock_date(world: World, on_commit: Any) -> None:
    survey = open_survey(world, on_commit)
    later = survey.address_lock_at + 7 * DAY
    with pytest.raises(Forbidden):
        surveys.survey_lock_move(actor=world.ben, campaign=world.campaign, address_lock_at=later)
    with pytest.raises(Invalid) as too_soon:
        surveys.survey_lock_move(actor=world.maker, campaign=world.campaign, address_lock_at=timezone.now())
    assert too_soon.value.field == "address_lock_at"
    survey.refresh_from_db()
    assert survey.address_lock_at == later - 7 * DAY

    maker = client_of(world.maker)
    url = f"/campaigns/{world.campaign.slug}/survey/"
    shown = (survey.address_lock_at).strftime("%Y-%m-%dT%H:%M")
    assert f'value="{shown}"' in maker.get(url).content.decode()  # the current date, to change
    moved = maker.post(url, {"survey-address_lock_at": later.strftime("%Y-%m-%dT%H:%M")}, follow=True)
    assert "The lock date is moved." in moved.content.decode()
    survey.refresh_from_db()
    assert survey.address_lock_at == later.replace(second=0, microsecond=0)


def test_an_answer_sent_after_the_lock_date_is_refused_on_the_page(world: World, on_commit: Any) -> None:
    survey = open_survey(world, on_commit)
    Survey.objects.filter(pk=survey.pk).update(opened_at=timezone.now() - 30 * DAY,
                                               address_lock_at=timezone.now() - DAY)  # fmt: skip
    response = client_of(world.ben).post(f"/pledges/{world.pledges['ben'].pk}/survey/", {
        "ship_to": "Ben", "address_line1": "2 Elm Road", "city": "Bristol", "country": "GB",
    })  # fmt: skip
    assert response.status_code == 409
    assert "The addresses are locked" in response.content.decode()
    assert SurveyResponse.objects.filter(answered_at__isnull=False).count() == 0


def test_the_pledge_page_leads_to_the_survey(world: World, on_commit: Any) -> None:
    pledge_page = f"/pledges/{world.pledges['ana'].pk}/"
    assert "Answer the survey" not in client_of(world.ana).get(pledge_page).content.decode()  # not open yet
    open_survey(world, on_commit)
    page = client_of(world.ana).get(pledge_page).content.decode()
    assert f'href="/pledges/{world.pledges["ana"].pk}/survey/"' in page
    assert "Answer the survey: where to ship your reward" in page
