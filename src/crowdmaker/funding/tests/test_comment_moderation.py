"""Comment moderation and paging: the campaign's editors and the operators hide a comment (with a reason its author
reads) and show it again; everyone else sees only that it was hidden on the pages and nothing of it in the API,
while its author and the moderators still read it; refusals change nothing. Comments come newest first, 20
top-level ones a page, on the campaign page, the comments page (and its htmx fragment) and in the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from crowdmaker.conftest import ApiClient
from crowdmaker.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from crowdmaker.funding import updates
from crowdmaker.funding.models import Campaign, Comment
from crowdmaker.funding.tests.backer_world import World, build_world
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db

HIDDEN = "Hidden by the campaign's makers"


@pytest.fixture
def world(make_campaign: Callable[..., Campaign], make_user: Callable[..., User]) -> World:
    return build_world(make_campaign, make_user)


def client_of(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def state(comment: Comment) -> tuple[Any, ...]:
    comment.refresh_from_db()
    return comment.hidden_at, comment.hidden_by_id, comment.hidden_reason


@pytest.fixture
def thread(world: World) -> dict[str, Comment]:
    """Ben asks (the maker answers), Ana complains; the maker's own note."""
    ben = updates.comment_post(actor=world.ben, campaign=world.campaign, body="Does it dim?")
    answer = updates.comment_post(actor=world.maker, campaign=world.campaign, body="Yes, in 8 steps.", parent_id=ben.pk)
    ana = updates.comment_post(actor=world.ana, campaign=world.campaign, body="Buy my spam lamps instead")
    return {"ben": ben, "answer": answer, "ana": ana}


# --- the services -----------------------------------------------------------------------------------------------


def test_an_editor_hides_a_comment_with_a_reason_and_shows_it_again(world: World, thread: dict[str, Comment]) -> None:
    now = timezone.now()
    hidden = updates.comment_hide(actor=world.maker, campaign=world.campaign, comment_id=thread["ana"].pk,
                                  reason="  Advertising  ", now=now)  # fmt: skip

    assert state(hidden) == (now, world.maker.pk, "Advertising")
    shown = updates.comment_unhide(actor=world.maker, campaign=world.campaign, comment_id=thread["ana"].pk)
    assert state(shown) == (None, None, "")


def test_an_operator_hides_a_reply_without_a_reason(world: World, thread: dict[str, Comment], make_user: Any) -> None:
    operator = make_user("olga")
    operator.is_staff = True
    operator.save(update_fields=["is_staff"])

    updates.comment_hide(actor=operator, campaign=world.campaign, comment_id=thread["answer"].pk)

    hidden_at, hidden_by, reason = state(thread["answer"])
    assert (hidden_at is not None, hidden_by, reason) == (True, operator.pk, "")


@pytest.mark.parametrize(
    ("who", "action", "target", "reason", "error", "code"),
    [
        ("ben", "hide", "ana", "", Forbidden, "moderators_only"),  # a backer
        ("stranger", "hide", "ana", "", Forbidden, "moderators_only"),
        ("ana", "hide", "ana", "", Forbidden, "moderators_only"),  # not even one's own
        ("ben", "unhide", "ben", "", Forbidden, "moderators_only"),  # the author of a hidden comment
        ("maker", "hide", "ben", "", Conflict, "comment_hidden"),  # hidden already: reason and moderator kept
        ("maker", "unhide", "ana", "", Conflict, "comment_not_hidden"),
        ("maker", "hide", "ana", "x" * 201, Invalid, "invalid"),
        ("maker", "hide", "ana", "line\nbreak", Invalid, "invalid"),
        ("maker", "hide", "missing", "", NotFound, "not_found"),
        ("maker", "hide", "elsewhere", "", NotFound, "not_found"),  # another campaign's comment
    ],
)
def test_a_refused_moderation_changes_nothing(
    world: World, thread: dict[str, Comment], make_campaign: Callable[..., Campaign], who: str, action: str,
    target: str, reason: str, error: type[DomainError], code: str,
) -> None:  # fmt: skip
    earlier = timezone.now() - timedelta(hours=1)
    updates.comment_hide(actor=world.maker, campaign=world.campaign, comment_id=thread["ben"].pk, reason="Off topic",
                         now=earlier)  # fmt: skip
    other = make_campaign("other-run")
    elsewhere = updates.comment_post(actor=other.created_by, campaign=other, body="Elsewhere")
    ids = {**{name: c.pk for name, c in thread.items()}, "missing": thread["ana"].pk + 1000, "elsewhere": elsewhere.pk}
    before = {c.pk: state(c) for c in Comment.objects.all()}
    actor = world.maker if who == "maker" else getattr(world, who)

    moderate = partial(updates.comment_hide, reason=reason) if action == "hide" else updates.comment_unhide

    with pytest.raises(error) as refused:
        moderate(actor=actor, campaign=world.campaign, comment_id=ids[target])

    assert refused.value.code == code
    assert {c.pk: state(c) for c in Comment.objects.all()} == before
    assert before[thread["ben"].pk] == (earlier, world.maker.pk, "Off topic")


# --- what each viewer sees --------------------------------------------------------------------------------------


def test_the_pages_show_a_hidden_comment_to_its_author_and_the_moderators_only(
    world: World, thread: dict[str, Comment]
) -> None:
    updates.comment_hide(actor=world.maker, campaign=world.campaign, comment_id=thread["ben"].pk,
                         reason="Asked <b>twice</b>")  # fmt: skip
    updates.comment_hide(actor=world.maker, campaign=world.campaign, comment_id=thread["ana"].pk)
    for url in (f"/campaigns/{world.campaign.slug}/", f"/campaigns/{world.campaign.slug}/comments/"):
        for viewer in (None, world.cai, world.stranger):  # anonymous, another backer, a signed-in stranger
            page = client_of(viewer).get(url).content.decode()
            assert "Does it dim?" not in page
            assert "spam lamps" not in page
            assert "Asked" not in page  # nor the reason
            assert page.count(HIDDEN) == 2
            assert "Yes, in 8 steps." in page  # the answer under the hidden question stays
            assert "Show it again" not in page
            assert 'name="hide-' not in page

        ben = client_of(world.ben).get(url).content.decode()
        assert "Does it dim?" in ben  # his own, marked hidden, with the reason (escaped)
        assert "(reason: Asked &lt;b&gt;twice&lt;/b&gt;)" in ben
        assert "spam lamps" not in ben  # not Ana's
        assert "Show it again" not in ben

        maker = client_of(world.maker).get(url).content.decode()
        assert "Does it dim?" in maker
        assert "spam lamps" in maker
        assert maker.count("Show it again") == 2
        assert f'name="hide-{thread["answer"].pk}-reason"' in maker  # the answer can be hidden too


def test_the_api_gives_others_nothing_of_a_hidden_comment(
    world: World, thread: dict[str, Comment], api_for: Callable[..., ApiClient]
) -> None:
    updates.comment_hide(actor=world.maker, campaign=world.campaign, comment_id=thread["ben"].pk, reason="Twice")
    updates.comment_hide(actor=world.maker, campaign=world.campaign, comment_id=thread["ana"].pk)
    url = f"/api/v1/campaigns/{world.campaign.slug}/comments"

    def listed(viewer: User | None) -> list[tuple[Any, ...]]:
        response = api_for(viewer).get(url)
        assert response.status_code == 200
        body = response.json()
        assert body["next"] is None
        return [(c["id"], c["hidden"], c["author"] and c["author"]["handle"], c["body"], c["hidden_reason"],
                 [(r["id"], r["hidden"], r["body"]) for r in c["replies"]]) for c in body["results"]]  # fmt: skip

    answer = (thread["answer"].pk, False, "Yes, in 8 steps.")
    for other in (None, world.cai):
        # Ana's hidden comment is not there at all; Ben's stays only as the empty head of the maker's answer.
        assert listed(other) == [(thread["ben"].pk, True, None, None, None, [answer])]
        assert "Twice" not in api_for(other).get(url).content.decode()
    assert listed(world.ben) == [(thread["ben"].pk, True, "ben", "Does it dim?", "Twice", [answer])]
    assert listed(world.maker) == [
        (thread["ana"].pk, True, "ana", "Buy my spam lamps instead", "", []),
        (thread["ben"].pk, True, "ben", "Does it dim?", "Twice", [answer]),
    ]

    updates.comment_hide(actor=world.maker, campaign=world.campaign, comment_id=thread["answer"].pk)
    assert listed(None) == []  # a hidden question whose only answer is hidden too: nothing left to show
    assert listed(world.maker)[1][5] == [(thread["answer"].pk, True, "Yes, in 8 steps.")]


def test_hiding_and_showing_through_the_api(
    world: World, thread: dict[str, Comment], api_for: Callable[..., ApiClient]
) -> None:
    base = f"/api/v1/campaigns/{world.campaign.slug}/comments/{thread['ana'].pk}"
    for viewer, status in ((None, 401), (world.ben, 403), (world.stranger, 403)):
        refused = api_for(viewer).post(f"{base}/hide", {"reason": "No"})
        assert refused.status_code == status
        assert state(thread["ana"]) == (None, None, "")
    too_long = api_for(world.maker).post(f"{base}/hide", {"reason": "x" * 201})
    assert too_long.status_code == 422
    assert state(thread["ana"]) == (None, None, "")

    hidden = api_for(world.maker).post(f"{base}/hide", {"reason": "Advertising"})
    assert hidden.status_code == 200
    assert (hidden.json()["hidden"], hidden.json()["hidden_reason"], hidden.json()["body"]) == (
        True, "Advertising", "Buy my spam lamps instead",
    )  # fmt: skip
    again = api_for(world.maker).post(f"{base}/hide", {})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "comment_hidden")
    assert state(thread["ana"])[2] == "Advertising"
    assert api_for(world.ben).post(f"{base}/unhide").status_code == 403
    shown = api_for(world.maker).post(f"{base}/unhide")
    assert (shown.status_code, shown.json()["hidden"]) == (200, False)
    assert state(thread["ana"]) == (None, None, "")


def test_hiding_and_showing_from_the_pages(world: World, thread: dict[str, Comment]) -> None:
    comment = thread["ana"]
    hide = f"/campaigns/{world.campaign.slug}/comments/{comment.pk}/hide/"
    unhide = f"/campaigns/{world.campaign.slug}/comments/{comment.pk}/unhide/"
    form = {f"hide-{comment.pk}-reason": "Advertising"}

    anonymous = Client().post(hide, form)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login/")
    assert client_of(world.ben).post(hide, form).status_code == 403
    assert client_of(world.stranger).post(hide, form).status_code == 403
    assert state(comment) == (None, None, "")
    too_long = client_of(world.maker).post(hide, {f"hide-{comment.pk}-reason": "x" * 201})
    assert too_long.status_code == 400
    assert state(comment) == (None, None, "")

    done = client_of(world.maker).post(hide, form)
    assert done.status_code == 302
    assert done["Location"] == f"/campaigns/{world.campaign.slug}/comments/#comment-{comment.pk}"
    assert state(comment)[1:] == (world.maker.pk, "Advertising")
    twice = client_of(world.maker).post(hide, form)
    assert twice.status_code == 409
    assert "already hidden" in twice.content.decode()

    # htmx swaps in the comment as the moderator now sees it.
    fragment = client_of(world.maker).post(unhide, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert html.lstrip().startswith(f'<li class="comment" id="comment-{comment.pk}">')
    assert "Buy my spam lamps instead" in html
    assert "<html" not in html
    assert state(comment) == (None, None, "")
    assert client_of(world.ben).post(unhide).status_code == 403


def test_comment_text_and_reason_are_escaped(world: World) -> None:
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    comment = updates.comment_post(actor=world.ben, campaign=world.campaign, body=attack)
    answer = updates.comment_post(actor=world.maker, campaign=world.campaign, body=attack, parent_id=comment.pk)
    updates.comment_hide(actor=world.maker, campaign=world.campaign, comment_id=answer.pk, reason=attack)
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"

    for viewer in (world.ben, world.maker):
        for url in (f"/campaigns/{world.campaign.slug}/", f"/campaigns/{world.campaign.slug}/comments/"):
            page = client_of(viewer).get(url).content.decode()
            assert "<script>alert" not in page
            assert "<img src=x" not in page
            assert escaped in page
    fragment = client_of(world.maker).post(f"/campaigns/{world.campaign.slug}/comments/{answer.pk}/unhide/",
                                           headers={"HX-Request": "true"}).content.decode()  # fmt: skip
    assert "<script>alert" not in fragment
    assert escaped in fragment


# --- paging -----------------------------------------------------------------------------------------------------


def post_comments(world: World, count: int) -> list[Comment]:
    """`count` comments by Ben, all at the same moment (the id orders them), the first answered by the maker."""
    now = timezone.now()
    made = [updates.comment_post(actor=world.ben, campaign=world.campaign, body=f"Question {n}", now=now)
            for n in range(1, count + 1)]  # fmt: skip
    updates.comment_post(actor=world.maker, campaign=world.campaign, body="Answer to 1", parent_id=made[0].pk, now=now)
    return made


@pytest.mark.parametrize("count", [20, 21])
def test_comments_are_paged_twenty_at_a_time_newest_first(
    world: World, api_for: Callable[..., ApiClient], count: int
) -> None:
    made = post_comments(world, count)
    first = updates.comments_page(campaign=world.campaign, viewer=None)

    assert [view.comment.body for view in first.comments] == [f"Question {n}" for n in range(count, count - 20, -1)]
    if count == 20:
        assert first.older is None
    else:
        assert first.older == made[1].pk  # the last one shown: Question 2
        second = updates.comments_page(campaign=world.campaign, viewer=None, before=first.older)
        assert [(v.comment.body, [r.comment.body for r in v.replies]) for v in second.comments] == [
            ("Question 1", ["Answer to 1"])
        ]
        assert second.older is None

    url = f"/api/v1/campaigns/{world.campaign.slug}/comments"
    listed = api_for(None).get(url).json()
    assert [c["body"] for c in listed["results"]] == [f"Question {n}" for n in range(count, count - 20, -1)]
    if count == 20:
        assert listed["next"] is None
    else:
        assert listed["next"] == f"http://testserver{url}?before={made[1].pk}"
        rest = api_for(None).get(listed["next"].removeprefix("http://testserver")).json()
        assert [(c["body"], [r["body"] for r in c["replies"]]) for c in rest["results"]] == [
            ("Question 1", ["Answer to 1"])
        ]
        assert rest["next"] is None


def test_the_pages_lead_to_older_comments(world: World) -> None:
    made = post_comments(world, 21)
    comments = f"/campaigns/{world.campaign.slug}/comments/"
    older = f"{comments}?before={made[1].pk}"

    campaign_page = Client().get(f"/campaigns/{world.campaign.slug}/").content.decode()
    assert "Question 21" in campaign_page
    assert "Question 2<" in campaign_page
    assert "Question 1<" not in campaign_page
    assert f'href="{older}"' in campaign_page
    assert f'hx-get="{older}"' in campaign_page

    full = Client().get(older)
    assert full.status_code == 200
    assert "<html" in full.content.decode()
    assert "Question 1<" in full.content.decode()
    assert "Question 2<" not in full.content.decode()
    assert "Older comments" not in full.content.decode()

    fragment = Client().get(older, headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert fragment.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith(f'<li class="comment" id="comment-{made[0].pk}">')
    assert "Answer to 1" in html
    assert "HX-Request" in fragment["Vary"]

    assert Client().get(f"{comments}?before=abc").status_code == 404
    assert Client().get(f"{comments}?before={made[-1].pk + 1000}").status_code == 404


def test_a_cursor_that_is_no_comment_of_the_campaign_is_refused(
    world: World, api_for: Callable[..., ApiClient], make_campaign: Callable[..., Campaign]
) -> None:
    reply_parent = post_comments(world, 1)[0]
    reply = Comment.objects.get(parent=reply_parent)
    other = make_campaign("other-run")
    elsewhere = updates.comment_post(actor=other.created_by, campaign=other, body="Elsewhere")
    url = f"/api/v1/campaigns/{world.campaign.slug}/comments"

    for before in (elsewhere.pk, reply.pk, 10**9):
        refused = api_for(None).get(f"{url}?before={before}")
        assert refused.status_code == 422
        assert (refused.json()["error"]["code"], refused.json()["error"]["field"]) == ("cursor_invalid", "before")
    assert api_for(None).get(f"{url}?before=0").status_code == 422
