"""`crowdmaker demo-data` fills an empty platform, shows progress, and adds nothing when run again."""

from __future__ import annotations

from io import StringIO

from django.contrib.auth import authenticate
from django.core.management import call_command

from crowdmaker.core.demo import demo_data_missing
from crowdmaker.people.demo import DEMO_PASSWORD
from crowdmaker.people.models import Membership, Role, Team, User


def test_demo_data_loads_once_with_progress(db: None) -> None:
    assert demo_data_missing()
    first = StringIO()

    call_command("demo_data", stdout=first)

    assert "[1/1] people: makers and teams" in first.getvalue()
    assert "9 new rows" in first.getvalue()
    assert not demo_data_missing()
    counts = (User.objects.count(), Team.objects.count(), Membership.objects.count())
    assert counts == (6, 3, 8)
    for team in Team.objects.all():
        assert team.memberships.filter(role=Role.OWNER).count() == 1

    second = StringIO()
    call_command("demo_data", stdout=second)

    assert "0 new rows" in second.getvalue()
    assert (User.objects.count(), Team.objects.count(), Membership.objects.count()) == counts


def test_demo_makers_can_sign_in_with_the_documented_password(db: None) -> None:
    call_command("demo_data", stdout=StringIO())

    assert authenticate(username="ada@example.org", password=DEMO_PASSWORD) == User.objects.get(handle="ada")
