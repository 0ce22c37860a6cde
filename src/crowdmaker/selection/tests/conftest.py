"""Fixtures of the selection tests: members allowed to vote, a design with a version, an open call, a submission."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from crowdmaker.commons import services as commons
from crowdmaker.commons.models import DesignVersion
from crowdmaker.commons.tests.conftest import manifest
from crowdmaker.people.models import User
from crowdmaker.selection import services
from crowdmaker.selection.models import OpenCall, Submission, ThresholdKind

_sequence = itertools.count(1)


@pytest.fixture
def make_member(make_user: Callable[..., User]) -> Callable[..., User]:
    """A member who may vote: e-mail verified, account 30 days old (pass `verified=False` or `age_days=` to vary)."""

    def make(handle: str | None = None, *, verified: bool = True, age_days: int = 30) -> User:
        member = make_user(handle)
        member.date_joined = timezone.now() - timedelta(days=age_days)
        member.email_verified_at = member.date_joined if verified else None
        member.save(update_fields=["date_joined", "email_verified_at"])
        return member

    return make


@pytest.fixture
def staff(make_user: Callable[..., User]) -> User:
    operator = make_user("operator")
    operator.is_staff = True
    operator.save(update_fields=["is_staff"])
    return operator


@pytest.fixture
def make_version(db: None) -> Callable[..., DesignVersion]:
    """The first version of a new design owned by `owner` (or `team`), its manifest claiming `family`."""

    def make(owner: User, *, family: tuple[str, ...] = ("smart-home",), **extra: Any) -> DesignVersion:
        slug = f"design-{next(_sequence)}"
        design = commons.design_create(
            actor=owner, slug=slug, title=slug.title(), licence="CC-BY-4.0", manifest=manifest(slug, family=family),
            **extra,
        )  # fmt: skip
        return design.versions.get()

    return make


@pytest.fixture
def make_call(staff: User) -> Callable[..., OpenCall]:
    """A platform call open since an hour ago for a week, for smart-home designs, threshold 200 intents."""

    def make(slug: str | None = None, **extra: Any) -> OpenCall:
        now = timezone.now()
        options: dict[str, Any] = {
            "actor": staff, "title": "Sensors for every room", "brief": "Small, **quiet** sensors.",
            "opens_at": now - timedelta(hours=1), "closes_at": now + timedelta(days=7),
            "threshold_kind": ThresholdKind.INTENTS_COUNT, "threshold": 200, "currency": "EUR",
            "required_family": "smart-home",
        }  # fmt: skip
        options.update(extra)
        return services.call_open(slug=slug or f"call-{next(_sequence)}", **options)

    return make


@pytest.fixture
def maker(make_member: Callable[..., User]) -> User:
    return make_member("maker")


@pytest.fixture
def call(make_call: Callable[..., OpenCall]) -> OpenCall:
    return make_call("sensors")


@pytest.fixture
def submission(call: OpenCall, maker: User, make_version: Callable[..., DesignVersion]) -> Submission:
    return services.submission_enter(
        actor=maker, call=call, design_version=make_version(maker), pitch="A sensor that sleeps."
    )


def set_period(call: OpenCall, *, opens_in: timedelta, closes_in: timedelta) -> None:
    """Move a call's period relative to now (tests only: calls' periods have no service to move them yet)."""
    now = timezone.now()
    OpenCall.objects.filter(pk=call.pk).update(opens_at=now + opens_in, closes_at=now + closes_in)
    call.refresh_from_db()
