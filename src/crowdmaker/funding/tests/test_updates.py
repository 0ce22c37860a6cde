"""Updates, comments and messages to backers: an update is e-mailed once to exactly the backers it addresses (all,
or chosen tiers), a backers-only one is readable by them and the editors only; comments are open to backers and
editors, replies to editors; messages reach a filtered group; every refusal records and mails nothing. With the
pages that post them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crowdmaker.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from crowdmaker.funding import backer_mail, fulfilment, surveys, updates
from crowdmaker.funding.models import (
    BackerMessage,
    Campaign,
    Comment,
    MessageDelivery,
    Update,
    UpdateAudience,
    UpdateDelivery,
)
from crowdmaker.funding.tests.backer_world import World, build_world
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_campaign: Callable[..., Campaign], make_user: Callable[..., User]) -> World:
    return build_world(make_campaign, make_user)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Run what a service leaves for after commit (the e-mail tasks), as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


class DownMailServer(BaseEmailBackend):
    """A mail server that does not answer (outside the project, so faked)."""

    def send_messages(self, email_messages: Any) -> int:
        raise ConnectionRefusedError("mail server down")


# --- updates ------------------------------------------------------------------------------------------------


def test_a_public_update_is_numbered_and_mailed_once_to_every_backer(world: World, on_commit: Any) -> None:
    with on_commit():
        first = updates.update_post(actor=world.maker, campaign=world.campaign, title="Tooling is ordered",
                                    body="The **moulds** arrive in May.")  # fmt: skip

    assert (first.number, first.audience, list(first.tiers.all())) == (1, UpdateAudience.PUBLIC, [])
    # Ana, Ben and Cai (no reward) back it; Dee cancelled, Eve never pledged, the maker is not a backer.
    assert recipients() == ["ana@example.org", "ben@example.org", "cai@example.org"]
    message = mail.outbox[0]
    assert message.subject == "First run of the desk lamp: Tooling is ordered"
    assert "The **moulds** arrive in May." in message.body
    assert f"/campaigns/{world.campaign.slug}/updates/1/" in message.body
    html, mimetype = message.alternatives[0]  # type: ignore[attr-defined]
    assert mimetype == "text/html"
    assert "<strong>moulds</strong>" in str(html)
    assert UpdateDelivery.objects.filter(update=first, sent_at__isnull=False).count() == 3

    # A rerun of the task (or the periodic job later) finds every delivery sent: nobody gets it twice.
    assert backer_mail.update_email_send(update_id=first.pk) == 0
    assert backer_mail.deliveries_resume(now=timezone.now() + timedelta(hours=1)) == {"updates": 0, "messages": 0}
    assert len(mail.outbox) == 3

    with on_commit():
        second = updates.update_post(actor=world.maker, campaign=world.campaign, title="Samples", body="Photos.")
    assert second.number == 2


def test_a_backers_only_update_to_one_tier_reaches_and_shows_to_its_backers_only(world: World, on_commit: Any) -> None:
    with on_commit():
        update = updates.update_post(actor=world.maker, campaign=world.campaign, title="Early birds first",
                                     body="Yours ship in **April**.", audience=UpdateAudience.BACKERS,
                                     tiers=[world.early])  # fmt: skip

    assert recipients() == ["ana@example.org"]
    assert list(UpdateDelivery.objects.values_list("backer__handle", flat=True)) == ["ana"]

    def readable(viewer: User | None) -> bool:
        return updates.update_of(campaign=world.campaign, number=update.number, viewer=viewer).readable

    assert (readable(world.ana), readable(world.maker)) == (True, True)
    assert (readable(world.ben), readable(world.cai), readable(world.dee), readable(world.stranger)) == (
        False, False, False, False,
    )  # fmt: skip
    assert readable(None) is False
    shown = updates.updates_for(campaign=world.campaign, viewer=world.ben)
    assert [(view.update.title, view.readable, str(view.body_html)) for view in shown] == [
        ("Early birds first", False, "")
    ]


def test_a_backers_only_update_to_every_tier_is_read_by_every_backer(world: World, on_commit: Any) -> None:
    with on_commit():
        update = updates.update_post(actor=world.maker, campaign=world.campaign, title="Thanks",
                                     body="For backers.", audience=UpdateAudience.BACKERS)  # fmt: skip

    assert len(mail.outbox) == 3
    views = {user.handle: updates.update_of(campaign=world.campaign, number=update.number, viewer=user).readable
             for user in (world.ana, world.cai, world.dee, world.stranger)}  # fmt: skip
    assert views == {"ana": True, "cai": True, "dee": False, "eve": False}


@pytest.mark.parametrize(
    ("change", "error", "code"),
    [
        ({"actor": "ana"}, Forbidden, "not_editor"),
        ({"title": "  "}, Invalid, "invalid"),
        ({"body": ""}, Invalid, "invalid"),
        ({"title": "Two\nlines"}, Invalid, "invalid"),
        ({"audience": "friends"}, Invalid, "invalid"),
        ({"tiers": "other"}, Invalid, "tier_unknown"),
    ],
)
def test_a_refused_update_records_and_mails_nothing(
    world: World, on_commit: Any, make_campaign: Callable[..., Campaign], change: dict[str, str], error: type[DomainError],
    code: str,
) -> None:  # fmt: skip
    arguments: dict[str, Any] = {"actor": world.maker, "campaign": world.campaign, "title": "News", "body": "Text."}
    if change.pop("actor", None):
        arguments["actor"] = world.ana
    if change.pop("tiers", None):
        arguments["tiers"] = [make_campaign("another-lamp").tier]  # type: ignore[attr-defined]
    arguments.update(change)

    with on_commit(), pytest.raises(error) as refused:
        updates.update_post(**arguments)

    assert refused.value.code == code
    assert (Update.objects.count(), UpdateDelivery.objects.count(), len(mail.outbox)) == (0, 0, 0)


def test_a_draft_has_no_updates(make_campaign: Callable[..., Campaign], user: User) -> None:
    draft = make_campaign("draft-lamp", publish=False)
    with pytest.raises(Conflict) as refused:
        updates.update_post(actor=user, campaign=draft, title="News", body="Text.")
    assert refused.value.code == "campaign_draft"
    assert Update.objects.count() == 0


@override_settings(EMAIL_BACKEND=f"{__name__}.DownMailServer")
def test_when_the_mail_server_is_down_the_update_is_mailed_later_once(world: World, on_commit: Any) -> None:
    with on_commit():
        update = updates.update_post(actor=world.maker, campaign=world.campaign, title="News", body="Text.")

    assert mail.outbox == []
    assert UpdateDelivery.objects.filter(update=update, sent_at__isnull=True).count() == 3  # given back

    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        too_soon = backer_mail.deliveries_resume(now=update.created_at + timedelta(minutes=1))
        later = backer_mail.deliveries_resume(now=update.created_at + backer_mail.RESUME_AFTER)
        again = backer_mail.deliveries_resume(now=update.created_at + 2 * backer_mail.RESUME_AFTER)

    assert (too_soon, later, again) == ({"updates": 0, "messages": 0}, {"updates": 3, "messages": 0},
                                        {"updates": 0, "messages": 0})  # fmt: skip
    assert recipients() == ["ana@example.org", "ben@example.org", "cai@example.org"]


# --- comments ---------------------------------------------------------------------------------------------------


def test_backers_comment_and_editors_answer(world: World) -> None:
    question = updates.comment_post(actor=world.ben, campaign=world.campaign, body="Does it dim?\nAsking for a desk.")
    editor_note = updates.comment_post(actor=world.maker, campaign=world.campaign, body="Pledges close Friday.")
    answer = updates.comment_post(actor=world.maker, campaign=world.campaign, body="Yes, in 8 steps.",
                                  parent_id=question.pk)  # fmt: skip

    shown = updates.comments_page(campaign=world.campaign, viewer=None).comments  # newest first
    assert [(c.comment.author.handle, c.comment.body, [(r.comment.author.handle, r.comment.body) for r in c.replies])
            for c in shown] == [
        ("ada", "Pledges close Friday.", []),
        ("ben", "Does it dim?\nAsking for a desk.", [("ada", "Yes, in 8 steps.")]),
    ]  # fmt: skip
    assert answer.parent == question
    assert editor_note.parent is None


@pytest.mark.parametrize(
    ("who", "body", "reply", "error", "code"),
    [
        ("stranger", "Hello", False, Forbidden, "backers_only"),
        ("dee", "I cancelled", False, Forbidden, "backers_only"),
        ("ana", "I answer Ben", True, Forbidden, "editors_reply"),
        ("maker", "   ", False, Invalid, "invalid"),
        ("maker", "x" * 5_001, False, Invalid, "invalid"),
        ("maker", "reply to a reply", "nested", Invalid, "invalid"),
        ("maker", "to nothing", "missing", NotFound, "not_found"),
    ],
)
def test_a_refused_comment_records_nothing(
    world: World, who: str, body: str, reply: bool | str, error: type[DomainError], code: str
) -> None:
    question = updates.comment_post(actor=world.ben, campaign=world.campaign, body="Does it dim?")
    answer = updates.comment_post(actor=world.maker, campaign=world.campaign, body="Yes.", parent_id=question.pk)
    parent_id = {True: question.pk, "nested": answer.pk, "missing": answer.pk + 100, False: None}[reply]
    actor = world.maker if who == "maker" else getattr(world, who)

    with pytest.raises(error) as refused:
        updates.comment_post(actor=actor, campaign=world.campaign, body=body, parent_id=parent_id)

    assert refused.value.code == code
    assert Comment.objects.count() == 2


# --- messages ---------------------------------------------------------------------------------------------------


def test_a_message_reaches_the_group_it_is_for(world: World, on_commit: Any) -> None:
    with on_commit():
        to_lamps = updates.message_send(actor=world.maker, campaign=world.campaign, subject="Lamp colours",
                                        body="Tell us your colour.", audience="tier", tier=world.lamp)  # fmt: skip
    assert recipients() == ["ben@example.org"]
    assert mail.outbox[0].subject == "First run of the desk lamp: Lamp colours"
    assert "Tell us your colour." in mail.outbox[0].body

    mail.outbox.clear()
    with on_commit():
        updates.message_send(actor=world.maker, campaign=world.campaign, subject="Thanks", body="All of you.",
                             audience="all")  # fmt: skip
    assert recipients() == ["ana@example.org", "ben@example.org", "cai@example.org"]
    assert backer_mail.message_email_send(message_id=to_lamps.pk) == 0  # a rerun mails nobody twice
    assert MessageDelivery.objects.filter(sent_at__isnull=True).count() == 0


def test_messages_to_those_without_an_answer_or_a_sent_reward(world: World, on_commit: Any) -> None:
    with pytest.raises(Conflict) as no_survey:  # before the survey, nobody can have answered it
        updates.message_send(actor=world.maker, campaign=world.campaign, subject="Survey", body="Answer it.",
                             audience="survey-unanswered")  # fmt: skip
    assert no_survey.value.code == "no_survey"

    now = world.settle()
    with on_commit():
        surveys.survey_open(actor=world.maker, campaign=world.campaign, address_lock_at=now + timedelta(days=14),
                            now=now)  # fmt: skip
    surveys.survey_answer(backer=world.ana, pledge_id=world.pledges["ana"].pk, answers={},
                          address=surveys.AddressIn("Ana Backer", "1 Lamp Street", "Lund", "SE"), now=now)  # fmt: skip
    fulfilment.fulfilment_set(actor=world.maker, campaign=world.campaign, pledge_id=world.pledges["ben"].pk,
                              status="sent", tracking="RR123456785SE")  # fmt: skip

    assert updates.message_recipients(campaign=world.campaign, audience="survey-unanswered") == [world.ben.pk]
    assert updates.message_recipients(campaign=world.campaign, audience="not-sent") == [world.ana.pk]
    mail.outbox.clear()
    with on_commit():
        updates.message_send(actor=world.maker, campaign=world.campaign, subject="Your address?",
                             body="Please answer the survey.", audience="survey-unanswered")  # fmt: skip
    assert recipients() == ["ben@example.org"]


@pytest.mark.parametrize(
    ("change", "error", "code"),
    [
        ({"actor": "ben"}, Forbidden, "not_editor"),
        ({"audience": "tier"}, Invalid, "invalid"),  # no tier chosen
        ({"audience": "all", "tier": "early"}, Invalid, "invalid"),
        ({"audience": "everybody"}, Invalid, "invalid"),
        ({"subject": ""}, Invalid, "invalid"),
        ({"body": " "}, Invalid, "invalid"),
        ({"audience": "not-sent"}, Invalid, "nobody"),  # nothing is captured before the deadline
    ],
)
def test_a_refused_message_records_and_mails_nothing(
    world: World, on_commit: Any, change: dict[str, str], error: type[DomainError], code: str
) -> None:
    arguments: dict[str, Any] = {"actor": world.maker, "campaign": world.campaign, "subject": "Hello",
                                 "body": "Text.", "audience": "all"}  # fmt: skip
    if change.pop("actor", None):
        arguments["actor"] = world.ben
    if change.pop("tier", None):
        arguments["tier"] = world.early
    arguments.update(change)

    with on_commit(), pytest.raises(error) as refused:
        updates.message_send(**arguments)

    assert refused.value.code == code
    assert (BackerMessage.objects.count(), MessageDelivery.objects.count(), len(mail.outbox)) == (0, 0, 0)


# --- pages ------------------------------------------------------------------------------------------------------


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_campaign_page_shows_updates_as_their_readers_may_see_them(world: World) -> None:
    updates.update_post(actor=world.maker, campaign=world.campaign, title="Tooling", body="The *moulds* are here.")
    updates.update_post(actor=world.maker, campaign=world.campaign, title="Lamp news", body="Secret **lamp** plan.",
                        audience="backers", tiers=[world.lamp])  # fmt: skip
    url = f"/campaigns/{world.campaign.slug}/"

    anonymous = Client().get(url).content.decode()
    ben = client_of(world.ben).get(url).content.decode()
    ana = client_of(world.ana).get(url).content.decode()

    for page in (anonymous, ben, ana):
        assert "<em>moulds</em>" in page
        assert "Lamp news" in page
    assert "Secret <strong>lamp</strong> plan." in ben
    assert "Secret" not in anonymous
    assert "Secret" not in ana
    assert "This update is for the backers of Lamp only." in ana
    assert "Post an update" not in ben
    assert "Post an update" in client_of(world.maker).get(url).content.decode()


def test_an_editor_posts_an_update_from_its_page(world: World, on_commit: Any) -> None:
    maker = client_of(world.maker)
    url = f"/campaigns/{world.campaign.slug}/updates/new/"
    form = maker.get(url)
    assert form.status_code == 200
    assert 'name="tiers"' in form.content.decode()

    refused = maker.post(url, {"title": "", "body": "Text", "audience": "public"})
    assert refused.status_code == 400
    assert "This field is required." in refused.content.decode()
    assert Update.objects.count() == 0

    with on_commit():
        posted = maker.post(url, {"title": "Moulds", "body": "They are *here*.", "audience": "backers",
                                  "tiers": [str(world.early.pk)]}, follow=True)  # fmt: skip
    update = Update.objects.get()
    assert posted.redirect_chain[-1][0] == f"/campaigns/{world.campaign.slug}/updates/1/"
    page = posted.content.decode()
    assert "Update #1 is posted and being e-mailed to 1 backer." in page
    assert "They are <em>here</em>." in page
    assert (update.audience, list(update.tiers.all())) == ("backers", [world.early])
    assert recipients() == ["ana@example.org"]


def test_only_editors_may_open_the_update_form(world: World) -> None:
    url = f"/campaigns/{world.campaign.slug}/updates/new/"
    assert client_of(world.ben).get(url).status_code == 403
    assert client_of(world.ben).post(url, {"title": "Hi", "body": "x", "audience": "public"}).status_code == 403
    assert Client().get(url).status_code == 302  # to log in
    assert Update.objects.count() == 0


def test_comments_and_answers_from_the_pages(world: World) -> None:
    url = f"/campaigns/{world.campaign.slug}/comments/"
    posted = client_of(world.ben).post(url, {"body": "Does it dim?"})
    comment = Comment.objects.get()
    assert posted.status_code == 302
    assert posted["Location"].endswith(f"#comment-{comment.pk}")

    stranger = client_of(world.stranger).post(url, {"body": "Hello"})
    assert stranger.status_code == 403
    empty = client_of(world.ben).post(url, {"body": ""})
    assert empty.status_code == 400
    assert "This field is required." in empty.content.decode()
    backer_reply = client_of(world.ana).post(url, {"parent": str(comment.pk), f"reply-{comment.pk}-body": "Yes"})
    assert backer_reply.status_code == 403
    assert Comment.objects.count() == 1

    answered = client_of(world.maker).post(url, {"parent": str(comment.pk), f"reply-{comment.pk}-body": "Yes."})
    assert answered.status_code == 302
    page = Client().get(f"/campaigns/{world.campaign.slug}/").content.decode()
    assert "Does it dim?" in page
    assert "Yes." in page
    assert "maker</span> answered" in page
    assert "log in</a> to comment" in page
    assert 'name="parent"' not in client_of(world.ben).get(url).content.decode()  # no answer form for backers
    assert f'value="{comment.pk}"' in client_of(world.maker).get(url).content.decode()


def test_a_backers_only_update_page_tells_others_it_is_for_backers(world: World) -> None:
    updates.update_post(actor=world.maker, campaign=world.campaign, title="Backers", body="Inside **news**.",
                        audience="backers")  # fmt: skip
    url = f"/campaigns/{world.campaign.slug}/updates/1/"
    assert "Inside <strong>news</strong>." in client_of(world.cai).get(url).content.decode()
    anonymous = Client().get(url)
    assert anonymous.status_code == 200
    assert "Inside" not in anonymous.content.decode()
    assert "for the campaign's backers only" in anonymous.content.decode()
    assert Client().get(f"/campaigns/{world.campaign.slug}/updates/2/").status_code == 404


def test_the_campaign_page_costs_the_same_queries_for_more_updates_and_comments(world: World) -> None:
    def post(n: int) -> None:
        updates.update_post(actor=world.maker, campaign=world.campaign, title=f"News {n}", body="Text.",
                            audience="backers" if n % 2 else "public", tiers=[world.lamp] if n % 3 else [])  # fmt: skip
        comment = updates.comment_post(actor=world.ben, campaign=world.campaign, body=f"Question {n}")
        updates.comment_post(actor=world.maker, campaign=world.campaign, body=f"Answer {n}", parent_id=comment.pk)

    client = client_of(world.ben)
    url = f"/campaigns/{world.campaign.slug}/"
    post(1)
    client.get(url)  # warm caches that are not per request
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for n in range(2, 8):
        post(n)
    with CaptureQueriesContext(connection) as many:
        page = client.get(url)
    assert "Question 7" in page.content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)
