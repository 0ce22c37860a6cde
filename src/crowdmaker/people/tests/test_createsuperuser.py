"""`crowdmaker createsuperuser` makes an operator through the same rules as sign-up, with clear refusals."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from crowdmaker.people.models import Profile, User


def _create(email: str, handle: str) -> None:
    call_command("createsuperuser", "--noinput", "--email", email, "--handle", handle, stdout=StringIO())


def test_createsuperuser_makes_an_operator_with_a_profile(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long operator passphrase")

    _create("Root@Example.org", "root")

    operator = User.objects.get(handle="root")
    assert (operator.is_staff, operator.is_superuser, operator.email) == (True, True, "root@example.org")
    assert operator.check_password("a long operator passphrase")
    assert operator.profile.display_name == "root"


def test_a_weak_password_is_a_clear_error_and_creates_nothing(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "123")

    with pytest.raises(CommandError, match="This password is too short"):
        _create("root@example.org", "root")

    assert (User.objects.count(), Profile.objects.count()) == (0, 0)


def test_a_bad_handle_is_a_clear_error_and_creates_nothing(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long operator passphrase")

    with pytest.raises(CommandError, match="lowercase letters, digits or hyphens"):
        _create("root@example.org", "Root Admin!")

    assert User.objects.count() == 0
