"""E-mail verification: sign-up mails a signed link, the link verifies once (by POST, never by GET), forged,
expired and outdated links are refused with nothing changed, and resending is throttled per address.

Links are taken from the mails really sent (the locmem backend); expired tokens are real tokens signed with a
timestamp in the past, so no clock is faked and nothing is timed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail, signing
from django.test import Client

from crowdmaker.conftest import PASSWORD, ApiClient
from crowdmaker.core.errors import Conflict, Invalid, Throttled
from crowdmaker.core.models import ThrottleEvent
from crowdmaker.people import demo, services, tasks
from crowdmaker.people.models import User
from crowdmaker.people.verification_tokens import SALT, address_digest, email_verification_token

LINK = re.compile(r"http://testserver(/verify-email/[^/\s]+/)")


@pytest.fixture(autouse=True)
def _site_url(settings: Any) -> None:
    settings.SITE_URL = "http://testserver"
    settings.CROWDMAKER_VERIFICATION_MAILS_PER_WINDOW = 3


def _state(user: User) -> dict[str, Any]:
    return dict(User.objects.filter(pk=user.pk).values("email", "email_verified_at").get())


def _link(message: mail.EmailMessage) -> str:
    found = LINK.findall(str(message.body))
    assert len(found) == 1, message.body
    return found[0]


def _token(path: str) -> str:
    return path.removeprefix("/verify-email/").removesuffix("/")


class _SignedDaysAgo(signing.TimestampSigner):
    """A genuine signer (real key, real salt) whose stamp lies `days` in the past: an old link, not a fake clock."""

    def __init__(self, days: float, **kwargs: Any) -> None:
        super().__init__(salt=SALT, **kwargs)
        self.days = days

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time() - self.days * 86400))


def _token_from_days_ago(user: User, days: float) -> str:
    return _SignedDaysAgo(days).sign_object({"u": user.pk, "e": address_digest(user.email)})


@pytest.fixture
def mailed_user(user: User, django_capture_on_commit_callbacks: Any) -> User:
    """`user` (ada) after one verification mail went out."""
    with django_capture_on_commit_callbacks(execute=True):
        services.email_verification_send(user=user)
    assert len(mail.outbox) == 1
    return user


# --- sign-up mails a link ------------------------------------------------------------------------------------


def test_signup_mails_a_verification_link_after_commit(
    client: Client, db: None, django_capture_on_commit_callbacks: Any
) -> None:
    data = {"email": "grace@example.org", "handle": "grace", "display_name": "Grace Hopper", "password": PASSWORD}

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/signup/", data)
    assert response.status_code == 302
    assert mail.outbox == []  # nothing before commit
    for callback in callbacks:
        callback()

    grace = User.objects.get(handle="grace")
    assert grace.email_verified_at is None
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["grace@example.org"], "Verify your e-mail address for Crowdmaker")
    ]
    body = mail.outbox[0].body
    assert "Grace Hopper" in body
    assert "3 days" in body
    assert "grace@example.org" not in _link(mail.outbox[0])  # the address is bound by a digest, not shown in the URL
    assert ThrottleEvent.objects.filter(scope=services.EMAIL_VERIFICATION_BY_ADDRESS).count() == 1
    assert "We mailed you a link to verify your e-mail address." in client.get("/makers/grace/").text


def test_signup_still_creates_the_account_when_the_address_was_mailed_too_often(
    client: Client, db: None, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # An address mailed to the limit (say, by an account since deleted) does not block signing up again.
    settings.CROWDMAKER_VERIFICATION_MAILS_PER_WINDOW = 0
    data = {"email": "grace@example.org", "handle": "grace", "display_name": "Grace Hopper", "password": PASSWORD}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/signup/", data, follow=True)

    assert response.status_code == 200
    assert User.objects.filter(handle="grace", email_verified_at__isnull=True).exists()
    assert "Welcome to Crowdmaker, Grace Hopper!" in response.text
    assert "We mailed you a link" not in response.text
    assert "Verify your e-mail address" in response.text  # the notice offers to send one
    assert mail.outbox == []
    assert not ThrottleEvent.objects.filter(scope=services.EMAIL_VERIFICATION_BY_ADDRESS).exists()


def test_accounts_made_outside_sign_up_get_no_mail(
    make_user: Callable[..., User], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_user("carla")  # services.user_create: createsuperuser, demo data, fixtures

    assert mail.outbox == []


def test_a_mailed_link_verifies_once(mailed_user: User) -> None:
    token = _token(_link(mail.outbox[0]))

    user, newly = services.email_verify(token=token)
    first = _state(mailed_user)
    again, newly_again = services.email_verify(token=token)

    assert (user.pk, newly) == (mailed_user.pk, True)
    assert first["email_verified_at"] is not None
    assert (again.pk, newly_again) == (mailed_user.pk, False)
    assert _state(mailed_user) == first  # the second click changes nothing, not even the time


def test_a_link_just_inside_three_days_still_verifies(user: User) -> None:
    _, newly = services.email_verify(token=_token_from_days_ago(user, 2.9))

    assert newly is True
    assert _state(user)["email_verified_at"] is not None


# --- refused links change nothing ----------------------------------------------------------------------------


def _refused(token: str, code: str, user: User) -> Invalid:
    before = _state(user)
    with pytest.raises(Invalid) as refused:
        services.email_verify(token=token)
    assert refused.value.code == code
    assert refused.value.message
    assert _state(user) == before
    assert before["email_verified_at"] is None
    return refused.value


def test_an_expired_link_is_refused(user: User) -> None:
    refused = _refused(_token_from_days_ago(user, 3.1), "verification_link_expired", user)

    assert "expired" in refused.message


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"), id="signature-changed"),
        pytest.param(lambda token: "x" + token, id="payload-changed"),
        pytest.param(lambda token: token.rsplit(":", 1)[0], id="signature-cut"),
        pytest.param(lambda token: "", id="empty"),
        pytest.param(lambda token: "a" * 400, id="overlong"),
        pytest.param(lambda token: "not:a:token", id="garbage"),
    ],
)
def test_a_forged_link_is_refused(user: User, forge: Callable[[str], str]) -> None:
    genuine = email_verification_token(user_id=user.pk, email=user.email)

    _refused(forge(genuine), "verification_link_invalid", user)


def test_a_token_signed_with_another_key_or_salt_is_refused(user: User) -> None:
    payload = {"u": user.pk, "e": address_digest(user.email)}
    other_key = signing.TimestampSigner(key="not-the-secret-key", salt=SALT).sign_object(payload)
    other_salt = signing.TimestampSigner(salt="crowdmaker.something-else").sign_object(payload)

    _refused(other_key, "verification_link_invalid", user)
    _refused(other_salt, "verification_link_invalid", user)


def test_a_link_for_another_address_is_refused(user: User) -> None:
    _refused(email_verification_token(user_id=user.pk, email="old-ada@example.org"), "verification_email_changed", user)


def test_a_mailed_link_stops_working_when_the_address_changes(mailed_user: User) -> None:
    token = _token(_link(mail.outbox[0]))
    User.objects.filter(pk=mailed_user.pk).update(email="ada.new@example.org")  # no service changes e-mail yet

    _refused(token, "verification_email_changed", mailed_user)


def test_a_link_of_a_gone_or_deactivated_account_is_refused(user: User, other_user: User) -> None:
    User.objects.filter(pk=other_user.pk).update(is_active=False)

    _refused(email_verification_token(user_id=999_999, email=user.email), "verification_link_invalid", user)
    _refused(
        email_verification_token(user_id=other_user.pk, email=other_user.email), "verification_link_invalid", other_user
    )


def test_one_members_link_cannot_verify_another(user: User, other_user: User) -> None:
    bruno_token = email_verification_token(user_id=other_user.pk, email=other_user.email)
    # Bruno's signed link with Ada's id in it: the signature no longer matches.
    payload, rest = bruno_token.split(":", 1)
    tampered = signing.b64_encode(signing.b64_decode(payload.encode()).replace(
        f'"u":{other_user.pk}'.encode(), f'"u":{user.pk}'.encode()
    )).decode() + ":" + rest  # fmt: skip

    _refused(tampered, "verification_link_invalid", user)
    assert _state(other_user)["email_verified_at"] is None


# --- resending, throttled ------------------------------------------------------------------------------------


def test_resend_is_throttled_per_address_and_a_refusal_sends_nothing(
    mailed_user: User, other_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.email_verification_send(user=mailed_user)
        services.email_verification_send(user=mailed_user)
    assert len(mail.outbox) == 3
    events = ThrottleEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Throttled) as refused:
        services.email_verification_send(user=mailed_user)

    assert refused.value.code == "throttled"
    assert "spam folder" in refused.value.message
    assert callbacks == []
    assert len(mail.outbox) == 3
    assert ThrottleEvent.objects.count() == events
    assert _state(mailed_user)["email_verified_at"] is None
    # Another address has its own allowance.
    with django_capture_on_commit_callbacks(execute=True):
        services.email_verification_send(user=other_user)
    assert [m.to for m in mail.outbox[3:]] == [["bruno@example.org"]]


def test_resend_for_a_verified_address_is_refused_and_sends_nothing(
    user: User, django_capture_on_commit_callbacks: Any
) -> None:
    services.email_verified_set(user=user)
    before = _state(user)

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Conflict) as refused:
        services.email_verification_send(user=user)

    assert refused.value.code == "email_verified_already"
    assert (callbacks, mail.outbox) == ([], [])
    assert ThrottleEvent.objects.count() == 0
    assert _state(user) == before


def test_a_link_of_several_verifies_and_the_others_then_say_already(
    user: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.email_verification_send(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        services.email_verification_send(user=user)
    first, second = (_token(_link(m)) for m in mail.outbox)

    assert services.email_verify(token=second)[1] is True
    assert services.email_verify(token=first)[1] is False


def test_the_mail_task_sends_nothing_to_a_verified_or_gone_account(user: User) -> None:
    services.email_verified_set(user=user)

    tasks.email_verification_mail_send.call(user_id=user.pk)
    tasks.email_verification_mail_send.call(user_id=999_999)

    assert mail.outbox == []


# --- pages ---------------------------------------------------------------------------------------------------


def test_the_link_page_asks_on_get_and_verifies_only_on_post(mailed_user: User) -> None:
    path = _link(mail.outbox[0])
    client = Client()  # not signed in: the link is the proof

    shown = client.get(path)
    assert shown.status_code == 200
    assert "Verify my e-mail address" in shown.text
    assert "@ada" in shown.text
    assert shown["Referrer-Policy"] == "no-referrer"
    assert "no-cache" in shown["Cache-Control"]
    assert _state(mailed_user)["email_verified_at"] is None  # a mail scanner's GET verifies nothing

    done = client.post(path)
    assert done.status_code == 200
    assert "your e-mail address is verified" in done.text
    verified = _state(mailed_user)
    assert verified["email_verified_at"] is not None

    again = client.post(path)
    assert again.status_code == 200
    assert "already verified" in again.text
    assert "already verified" in client.get(path).text
    assert _state(mailed_user) == verified


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_link_page_refuses_bad_links_and_changes_nothing(user: User, method: str) -> None:
    expired = _token_from_days_ago(user, 4)
    client = Client()

    for token, words in [
        (expired, "has expired"),
        (expired[:-2] + "zz", "not valid"),
        (email_verification_token(user_id=user.pk, email="other@example.org"), "no longer uses"),
    ]:
        response = getattr(client, method)(f"/verify-email/{token}/")
        assert response.status_code == 422
        assert words in response.text
        assert "Verify my e-mail address" not in response.text
    assert _state(user)["email_verified_at"] is None


def test_the_link_page_needs_the_csrf_token_to_verify(mailed_user: User) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(_link(mail.outbox[0]))

    assert response.status_code == 403
    assert _state(mailed_user)["email_verified_at"] is None


def test_own_profile_and_settings_show_the_notice_with_a_resend_button(signed_in_client: Client, user: User) -> None:
    for path in ("/makers/ada/", "/settings/profile/"):
        response = signed_in_client.get(path)
        assert response.status_code == 200
        assert "Verify your e-mail address" in response.text
        assert 'action="/settings/email-verification/"' in response.text


def test_others_see_nothing_about_verification_on_a_profile(user: User, other_user: User) -> None:
    bruno = Client()
    bruno.force_login(other_user)

    for client in (Client(), bruno):
        text = client.get("/makers/ada/").text
        assert "Verify your e-mail" not in text
        assert "email-verification" not in text
        assert "ada@example.org" not in text  # the address stays private too


def test_a_verified_member_sees_no_notice(signed_in_client: Client, user: User) -> None:
    services.email_verified_set(user=user)

    for path in ("/makers/ada/", "/settings/profile/"):
        assert "Verify your e-mail address" not in signed_in_client.get(path).text


def test_the_resend_button_mails_a_new_link(
    signed_in_client: Client, user: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post("/settings/email-verification/", {"next": "/makers/ada/"}, follow=True)

    assert response.redirect_chain == [("/makers/ada/", 302)]
    assert "We mailed a new verification link to ada@example.org." in response.text
    assert [m.to for m in mail.outbox] == [["ada@example.org"]]
    assert services.email_verify(token=_token(_link(mail.outbox[0])))[1] is True


def test_the_resend_button_is_throttled_with_nothing_sent(
    signed_in_client: Client, user: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CROWDMAKER_VERIFICATION_MAILS_PER_WINDOW = 1
    with django_capture_on_commit_callbacks(execute=True):
        signed_in_client.post("/settings/email-verification/")
    events = ThrottleEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = signed_in_client.post("/settings/email-verification/")

    assert response.status_code == 429
    assert response["Retry-After"] == str(settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS)
    assert "spam folder" in response.text
    assert callbacks == []
    assert len(mail.outbox) == 1
    assert ThrottleEvent.objects.count() == events


def test_the_resend_button_needs_a_signed_in_member_and_post(client: Client, user: User) -> None:
    anonymous = client.post("/settings/email-verification/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login/")

    signed_in = Client()
    signed_in.force_login(user)
    assert signed_in.get("/settings/email-verification/").status_code == 405
    assert (mail.outbox, ThrottleEvent.objects.count()) == ([], 0)


# --- API -----------------------------------------------------------------------------------------------------


def test_me_says_whether_the_address_is_verified(api: ApiClient, user: User) -> None:
    assert api.get("/api/v1/me").json()["email_verified"] is False

    services.email_verify(token=email_verification_token(user_id=user.pk, email=user.email))

    assert api.get("/api/v1/me").json()["email_verified"] is True


def test_api_resend_answers_202_and_mails_a_link(
    api: ApiClient, user: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/me/email-verification")

    assert response.status_code == 202
    assert response.json() == {"sent_to": "ada@example.org"}
    assert [m.to for m in mail.outbox] == [["ada@example.org"]]


def test_api_resend_is_throttled_with_nothing_sent(
    api: ApiClient, user: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CROWDMAKER_VERIFICATION_MAILS_PER_WINDOW = 1
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/me/email-verification").status_code == 202
    events = ThrottleEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post("/api/v1/me/email-verification")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert response["Retry-After"] == str(settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS)
    assert callbacks == []
    assert len(mail.outbox) == 1
    assert ThrottleEvent.objects.count() == events


def test_api_resend_refuses_a_verified_address_a_read_token_and_no_token(
    api: ApiClient, api_for: Callable[..., ApiClient], user: User, django_capture_on_commit_callbacks: Any
) -> None:
    reader = api_for(user, scope="read")
    anonymous = api_for(None)
    with django_capture_on_commit_callbacks(execute=True):
        read_only = reader.post("/api/v1/me/email-verification")
        nobody = anonymous.post("/api/v1/me/email-verification")
        services.email_verified_set(user=user)
        verified = api.post("/api/v1/me/email-verification")

    assert (read_only.status_code, read_only.json()["error"]["code"]) == (403, "token_read_only")
    assert nobody.status_code == 401
    assert (verified.status_code, verified.json()["error"]["code"]) == (409, "email_verified_already")
    assert (mail.outbox, ThrottleEvent.objects.count()) == ([], 0)


# --- demo data and admin -------------------------------------------------------------------------------------


def test_demo_makers_are_verified_and_get_no_mail(db: None, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        demo.load(lambda line: None)

    makers = User.objects.filter(handle__in=[handle for handle, *_ in demo.MAKERS])
    assert makers.count() == len(demo.MAKERS)
    assert not makers.filter(email_verified_at__isnull=True).exists()
    assert mail.outbox == []


def test_demo_data_verifies_demo_makers_loaded_before(make_user: Callable[..., User]) -> None:
    earlier = make_user("ada", email="ada@example.org")
    stranger = make_user("bruno", email="bruno@elsewhere.example")

    demo.load(lambda line: None)

    assert _state(earlier)["email_verified_at"] is not None
    assert _state(stranger)["email_verified_at"] is None  # not a demo account: left alone


def test_admin_shows_the_verification_time_read_only(make_user: Callable[..., User], user: User) -> None:
    operator = make_user("root", is_staff=True, is_superuser=True)
    services.email_verified_set(user=user)
    client = Client()
    client.force_login(operator)

    listing = client.get("/admin/people/user/")
    change = client.get(f"/admin/people/user/{user.pk}/change/")

    assert listing.status_code == change.status_code == 200
    assert "column-email_verified_at" in listing.text
    assert "Email verified at" in change.text
    assert 'name="email_verified_at"' not in change.text  # shown, not editable
