"""Rules of the people services, called directly: each refusal raises its domain error and changes nothing."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdmaker.core.errors import Conflict, Forbidden, Invalid, NotFound
from crowdmaker.people import services, tasks
from crowdmaker.people.models import (
    HANDLE_PATTERN,
    ApiToken,
    InvitationStatus,
    Membership,
    Profile,
    Role,
    Team,
    TeamInvitation,
    User,
)

MakeUser = Callable[..., User]
PASSWORD = "correct horse battery staple"


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "profiles": Profile.objects.count(),
        "teams": Team.objects.count(),
        "memberships": Membership.objects.count(),
        "invitations": TeamInvitation.objects.count(),
        "tokens": ApiToken.objects.count(),
    }


@pytest.fixture
def team(user: User) -> Team:
    return services.team_create(actor=user, slug="lamp-makers", name="Lamp makers")


# --- accounts and profiles --------------------------------------------------------------------------------------


def test_user_create_lowercases_the_email_and_makes_a_profile(db: None) -> None:
    user = services.user_create(email=" Ada@Example.ORG ", password=PASSWORD, handle=" Ada ")

    assert (user.email, user.handle) == ("ada@example.org", "ada")
    assert user.check_password(PASSWORD)
    assert Profile.objects.get(user=user).display_name == "ada"


@pytest.mark.parametrize(
    ("kwargs", "error", "code", "field"),
    [
        ({"email": "ADA@example.org"}, Conflict, "email_taken", "email"),
        ({"handle": "ADA"}, Conflict, "handle_taken", "handle"),
        ({"email": "not-an-email"}, Invalid, "invalid", "email"),
        ({"handle": "a_b"}, Invalid, "invalid", "handle"),
        ({"handle": "x" * 31}, Invalid, "invalid", "handle"),
        ({"password": "short"}, Invalid, "invalid", "password"),
        ({"display_name": "n" * 81}, Invalid, "invalid", "display_name"),
        ({"display_name": "Nul\x00"}, Invalid, "invalid", "display_name"),
    ],
)
def test_user_create_refusals_create_nothing(
    user: User, kwargs: dict[str, Any], error: type[Exception], code: str, field: str
) -> None:
    before = counts()
    arguments = {"email": "new@example.org", "password": PASSWORD, "handle": "newcomer", **kwargs}

    with pytest.raises(error) as refused:
        services.user_create(**arguments)

    assert (refused.value.code, refused.value.field) == (code, field)  # type: ignore[attr-defined]
    assert counts() == before


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(handle=st.one_of(st.text(max_size=35), st.from_regex(r"[a-z0-9][a-z0-9-]{0,28}[a-z0-9]", fullmatch=True)))
def test_any_handle_is_either_stored_in_the_database_format_or_refused(db: None, handle: str) -> None:
    with transaction.atomic():
        before = counts()
        refused: Invalid | None = None
        try:
            user = services.user_create(email="prop@example.org", password=None, handle=handle)
        except Invalid as exc:
            refused = exc
        if refused is not None:
            assert refused.field == "handle"
            assert counts() == before
        else:
            stored = User.objects.values_list("handle", flat=True).get(pk=user.pk)
            assert re.fullmatch(HANDLE_PATTERN, stored)
            assert stored == handle.strip().lower()
        transaction.set_rollback(True)


def test_profile_update_changes_only_what_is_given(user: User) -> None:
    services.profile_update(user=user, bio="Bio", links=["https://a.example.org"])

    profile = services.profile_update(user=user, display_name="  Ada O.  ")

    assert (profile.display_name, profile.bio, profile.links) == ("Ada O.", "Bio", ["https://a.example.org"])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"display_name": " "}, "display_name"),
        ({"bio": "b" * 2001}, "bio"),
        ({"links": ["https://a.example.org"] * 6}, "links"),
        ({"links": ["https://a.example.org", "mailto:ada@example.org"]}, "links.1"),
        ({"bio": "ok", "links": ["nope"]}, "links.0"),  # one bad field refuses the whole edit
    ],
)
def test_profile_update_refusals_change_nothing(user: User, kwargs: dict[str, Any], field: str) -> None:
    before = Profile.objects.filter(user=user).values().get()

    with pytest.raises(Invalid) as refused:
        services.profile_update(user=user, **kwargs)

    assert refused.value.field == field
    assert Profile.objects.filter(user=user).values().get() == before


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Two\nlines", id="LF"),
        pytest.param("Two\rlines", id="CR"),
        pytest.param("Two\u2028lines", id="line separator"),
        pytest.param("Tab\tbed", id="tab"),
        pytest.param("NUL\x00", id="NUL"),
        pytest.param("Bell\x07", id="BEL"),
        pytest.param("Esc\x1b[2J", id="ESC"),
        pytest.param("Del\x7f", id="DEL"),
        pytest.param("C1\x85control", id="C1 next line"),
        pytest.param("evil\u202egnp.exe", id="bidi override"),
        pytest.param("zero\u200bwidth", id="zero-width space"),
        pytest.param("private\ue000use", id="private use"),
    ],
)
def test_one_line_fields_refuse_control_characters_and_change_nothing(user: User, text: str) -> None:
    team = services.team_create(actor=user, slug="lamp-makers", name="Lamp makers")
    token, _ = services.api_token_create(user=user, name="laptop", scope="read")
    before = counts()
    team_before = Team.objects.filter(pk=team.pk).values().get()
    profile_before = Profile.objects.filter(user=user).values().get()
    writes: list[tuple[str, Callable[[], object]]] = [
        ("name", lambda: services.team_create(actor=user, slug="new-team", name=text)),
        ("name", lambda: services.team_update(actor=user, team=team, name=text)),
        ("display_name", lambda: services.profile_update(user=user, display_name=text)),
        (
            "display_name",
            lambda: services.user_create(email="n@example.org", password=None, handle="n", display_name=text),
        ),
        ("name", lambda: services.api_token_create(user=user, name=text, scope="read")),
    ]

    for field, write in writes:
        with pytest.raises(Invalid) as refused:
            write()
        assert (refused.value.code, refused.value.field) == ("invalid", field)

    assert counts() == before
    assert Team.objects.filter(pk=team.pk).values().get() == team_before
    assert Profile.objects.filter(user=user).values().get() == profile_before
    assert ApiToken.objects.get(pk=token.pk).name == "laptop"


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("Line one.\nLine two.\r\n\tIndented.", False),
        ("NUL\x00", True),
        ("Bell\x07", True),
        ("Esc\x1b[2J", True),
        ("evil\u202egnp", True),
    ],
)
def test_long_text_keeps_line_breaks_and_tabs_but_no_other_control_characters(
    user: User, text: str, refused: bool
) -> None:
    team = services.team_create(actor=user, slug="lamp-makers", name="Lamp makers", description="Before.")
    services.profile_update(user=user, bio="Before.")

    for field, write in [
        ("description", lambda: services.team_update(actor=user, team=team, description=text)),
        ("bio", lambda: services.profile_update(user=user, bio=text)),
    ]:
        if refused:
            with pytest.raises(Invalid) as refusal:
                write()
            assert refusal.value.field == field
        else:
            write()

    expected = "Before." if refused else text
    assert Team.objects.get(pk=team.pk).description == expected
    assert Profile.objects.get(user=user).bio == expected


def test_one_line_fields_keep_joiners_and_lose_surrounding_whitespace(user: User) -> None:
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # "I want": spelt with a zero-width non-joiner
    mechanic = "\U0001f469\u200d\U0001f527"  # woman mechanic: two emoji joined by a zero-width joiner

    team = services.team_create(actor=user, slug="lamp-makers", name=f" {persian} {mechanic}\n")

    assert team.name == f"{persian} {mechanic}"
    assert services.profile_update(user=user, display_name=mechanic).display_name == mechanic


# --- teams and members --------------------------------------------------------------------------------------------


def test_team_create_normalises_the_slug_and_makes_the_creator_owner(user: User) -> None:
    team = services.team_create(actor=user, slug="  Solar-Kilns ", name="Solar kilns")

    assert team.slug == "solar-kilns"
    assert Membership.objects.get(team=team).role == Role.OWNER


def test_member_handles_match_whatever_their_case(user: User, other_user: User, team: Team) -> None:
    services.team_member_add(team=team, user=other_user, role=Role.MEMBER)

    membership = services.team_member_change_role(actor=user, team=team, member_handle=" BRUNO ", role="maintainer")

    assert membership.role == Role.MAINTAINER
    services.team_member_remove(actor=user, team=team, member_handle="Bruno")
    assert not Membership.objects.filter(team=team, user=other_user).exists()


def test_role_change_query_count_does_not_grow_with_members(
    user: User, team: Team, make_user: MakeUser, django_assert_max_num_queries: Any
) -> None:
    for _ in range(20):
        services.team_member_add(team=team, user=make_user(), role=Role.MEMBER)
    last = Membership.objects.filter(team=team).latest("pk").user.handle

    with django_assert_max_num_queries(6):  # savepoint, team lock, member locks, update, release
        services.team_member_change_role(actor=user, team=team, member_handle=last, role="maintainer")


def test_two_owners_can_each_leave_but_not_both(user: User, other_user: User, team: Team) -> None:
    services.team_member_add(team=team, user=other_user, role=Role.OWNER)

    services.team_member_remove(actor=user, team=team, member_handle="ada")

    with pytest.raises(Conflict) as refused:
        services.team_member_remove(actor=other_user, team=team, member_handle="bruno")
    assert refused.value.code == "last_owner"
    assert list(Membership.objects.filter(team=team).values_list("user__handle", "role")) == [("bruno", "owner")]


def test_team_update_refusals_change_nothing(user: User, other_user: User, team: Team) -> None:
    with pytest.raises(Forbidden):
        services.team_update(actor=other_user, team=team, name="Hijacked")
    with pytest.raises(Invalid):
        services.team_update(actor=user, team=team, name="Fine", description="\x00")

    assert Team.objects.filter(pk=team.pk).values_list("name", "description").get() == ("Lamp makers", "")


# --- invitations -----------------------------------------------------------------------------------------------------


def test_invitation_mail_is_scheduled_only_for_a_made_invitation(
    user: User, other_user: User, team: Team, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        services.team_invitation_create(actor=user, team=team, invitee_handle="bruno", role="member")
    assert len(callbacks) == 1

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(Conflict):
        services.team_invitation_create(actor=user, team=team, invitee_handle="bruno", role="member")
    assert callbacks == []


def test_invitation_mail_is_sent_by_a_task_after_commit(
    user: User, other_user: User, team: Team, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueued: list[dict[str, Any]] = []
    real_task = tasks.invitation_email_send

    class Spy:
        def enqueue(self, **kwargs: Any) -> object:
            enqueued.append(kwargs)
            return real_task.enqueue(**kwargs)

    monkeypatch.setattr(tasks, "invitation_email_send", Spy())

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation = services.team_invitation_create(actor=user, team=team, invitee_handle="bruno", role="member")
    assert (enqueued, mail.outbox) == ([], [])  # nothing before commit

    for callback in callbacks:
        callback()

    assert enqueued == [{"invitation_id": invitation.pk}]
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["bruno@example.org"], "You are invited to join Lamp makers on Crowdmaker")
    ]
    assert "Bruno Lindqvist" in mail.outbox[0].body


def test_invitation_mail_task_sends_nothing_for_a_gone_or_answered_invitation(
    user: User, other_user: User, team: Team
) -> None:
    answered = services.team_invitation_create(actor=user, team=team, invitee_handle="bruno", role="member")
    services.team_invitation_decline(actor=other_user, invitation_id=answered.pk)
    before = TeamInvitation.objects.filter(pk=answered.pk).values().get()

    tasks.invitation_email_send.call(invitation_id=answered.pk)
    tasks.invitation_email_send.call(invitation_id=999_999)

    assert mail.outbox == []
    assert TeamInvitation.objects.filter(pk=answered.pk).values().get() == before


def test_invitation_mail_survives_a_team_name_stored_before_line_breaks_were_refused(
    user: User, other_user: User, team: Team
) -> None:
    invitation = services.team_invitation_create(actor=user, team=team, invitee_handle="bruno", role="member")
    Team.objects.filter(pk=team.pk).update(name="Lamp\nmakers")

    tasks.invitation_email_send.call(invitation_id=invitation.pk)

    assert [m.subject for m in mail.outbox] == ["You are invited to join Lamp makers on Crowdmaker"]


def test_invalid_role_is_refused_before_anything_else(user: User, other_user: User, team: Team) -> None:
    with pytest.raises(Invalid) as refused:
        services.team_invitation_create(actor=user, team=team, invitee_handle="bruno", role="admin")

    assert refused.value.field == "role"
    assert TeamInvitation.objects.count() == 0


def test_an_expired_invitation_cannot_be_accepted_and_the_expiry_job_closes_it(
    user: User, other_user: User, team: Team
) -> None:
    invitation = services.team_invitation_create(actor=user, team=team, invitee_handle="bruno", role="member")
    later = timezone.now() + services.INVITATION_LIFETIME + timedelta(seconds=1)
    TeamInvitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(Conflict):
        services.team_invitation_accept(actor=other_user, invitation_id=invitation.pk)
    assert not Membership.objects.filter(team=team, user=other_user).exists()

    assert services.team_invitations_expire(now=later) == 1
    assert services.team_invitations_expire(now=later) == 0  # a rerun finds nothing left to do
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.EXPIRED
    assert invitation.responded_at == later


def test_accepting_after_joining_another_way_keeps_the_membership(user: User, other_user: User, team: Team) -> None:
    invitation = services.team_invitation_create(actor=user, team=team, invitee_handle="bruno", role="maintainer")
    services.team_member_add(team=team, user=other_user, role=Role.MEMBER)

    membership = services.team_invitation_accept(actor=other_user, invitation_id=invitation.pk)

    assert membership.role == Role.MEMBER
    assert Membership.objects.filter(team=team, user=other_user).count() == 1


# --- API tokens ------------------------------------------------------------------------------------------------------


def test_a_token_is_stored_only_as_its_hash(user: User) -> None:
    token, raw = services.api_token_create(user=user, name=" laptop ", scope="read")

    assert raw.startswith("cm_")
    assert len(raw) > 40
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert raw not in [str(value) for value in stored.values()]
    assert (stored["name"], stored["prefix"]) == ("laptop", raw[:10])
    assert services.api_token_authenticate(raw_token=raw) == token


@pytest.mark.parametrize(
    ("name", "scope", "field"), [(" ", "read", "name"), ("x", "admin", "scope"), ("\x00", "read", "name")]
)
def test_token_create_refusals_create_nothing(user: User, name: str, scope: str, field: str) -> None:
    with pytest.raises(Invalid) as refused:
        services.api_token_create(user=user, name=name, scope=scope)

    assert refused.value.field == field
    assert ApiToken.objects.count() == 0


def test_token_use_is_recorded_at_most_once_a_minute(user: User) -> None:
    token, raw = services.api_token_create(user=user, name="laptop", scope="read")
    recent = timezone.now() - timedelta(seconds=30)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=recent)

    services.api_token_authenticate(raw_token=raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == recent

    stale = timezone.now() - timedelta(seconds=120)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=stale)
    services.api_token_authenticate(raw_token=raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > stale  # type: ignore[operator]


def test_revoked_tokens_and_inactive_accounts_do_not_authenticate(user: User, other_user: User) -> None:
    revoked, revoked_raw = services.api_token_create(user=user, name="old", scope="write")
    services.api_token_revoke(actor=user, token_id=revoked.pk)
    _, inactive_raw = services.api_token_create(user=other_user, name="bruno", scope="write")
    User.objects.filter(pk=other_user.pk).update(is_active=False)

    assert services.api_token_authenticate(raw_token=revoked_raw) is None
    assert services.api_token_authenticate(raw_token=inactive_raw) is None
    assert services.api_token_authenticate(raw_token="cm_" + "x" * 200) is None
    assert services.api_token_authenticate(raw_token=revoked_raw[3:]) is None


def test_nobody_revokes_anothers_token(user: User, other_user: User) -> None:
    theirs, raw = services.api_token_create(user=other_user, name="bruno", scope="write")

    with pytest.raises(NotFound):
        services.api_token_revoke(actor=user, token_id=theirs.pk)

    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None
    assert services.api_token_authenticate(raw_token=raw) == theirs


# --- concurrency -----------------------------------------------------------------------------------------------------


def _race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at the same moment, each in its own thread and database connection; return each outcome."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(position: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait()
            outcomes[position] = call()
        except Exception as exc:
            outcomes[position] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["leave", "demote"])
def test_two_owners_acting_at_once_still_leave_one_owner(make_user: MakeUser, action: str) -> None:
    ada, bruno = make_user("ada"), make_user("bruno")
    team = services.team_create(actor=ada, slug="race-team", name="Race team")
    services.team_member_add(team=team, user=bruno, role=Role.OWNER)

    def act(actor: User, handle: str) -> Callable[[], object]:
        if action == "leave":
            return lambda: services.team_member_remove(actor=actor, team=team, member_handle=handle)
        return lambda: services.team_member_change_role(actor=actor, team=team, member_handle=handle, role="member")

    # Each owner steps down at the same moment; without the locks both would see two owners and succeed.
    outcomes = _race(act(ada, "ada"), act(bruno, "bruno"))

    refusals = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(refusals) == 1, outcomes
    assert refusals[0].code == "last_owner"
    assert Membership.objects.filter(team=team, role=Role.OWNER).count() == 1


def _start(call: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Run `call` in its own thread and database connection; its outcome (result or exception) lands in the list."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:
            outcome.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _sessions_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["edit", "invite"])
def test_a_maintainer_removed_at_the_same_moment_can_no_longer_edit_or_invite(make_user: MakeUser, action: str) -> None:
    ada, dev = make_user("ada"), make_user("dev")
    make_user("erin")
    team = services.team_create(actor=ada, slug="race-team", name="Race team")
    services.team_member_add(team=team, user=dev, role=Role.MAINTAINER)
    removed, release = threading.Event(), threading.Event()

    def remove_dev_and_hold_the_transaction_open() -> None:
        with transaction.atomic():
            services.team_member_remove(actor=ada, team=team, member_handle="dev")
            removed.set()
            release.wait(10)

    def dev_acts() -> object:
        if action == "edit":
            return services.team_update(actor=dev, team=team, name="Hijacked")
        return services.team_invitation_create(actor=dev, team=team, invitee_handle="erin", role="member")

    # Given the owner's removal of Dev written but not yet committed,
    remover, _ = _start(remove_dev_and_hold_the_transaction_open)
    assert removed.wait(10)
    # when Dev acts, his role check must wait for the removal's locks rather than read the role about to go;
    acting, outcome = _start(dev_acts)
    deadline = time.monotonic() + 10
    while not outcome and _sessions_waiting_for_a_lock() == 0:
        assert time.monotonic() < deadline, "Dev's request neither finished nor waited for a lock"
        time.sleep(0.01)
    release.set()
    remover.join(10)
    acting.join(10)

    # then, once the removal commits, Dev is refused as an outsider and nothing of his went through.
    assert len(outcome) == 1
    assert isinstance(outcome[0], Forbidden), outcome
    assert outcome[0].code == "not_a_member"
    assert Team.objects.get(pk=team.pk).name == "Race team"
    assert TeamInvitation.objects.count() == 0
    assert dict(Membership.objects.filter(team=team).values_list("user__handle", "role")) == {"ada": Role.OWNER}
