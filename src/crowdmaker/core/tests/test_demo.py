"""`crowdmaker demo-data` fills an empty platform, shows progress, and adds nothing when run again."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from crowdmaker.core.demo import demo_data_missing
from crowdmaker.people.demo import DEMO_PASSWORD
from crowdmaker.people.models import Membership, Role, Team, User


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path)  # the commons loader stores design pictures; keep them out of var/


def test_demo_data_loads_once_with_progress(db: None) -> None:
    assert demo_data_missing()
    first = StringIO()

    call_command("demo_data", stdout=first)

    assert re.search(r"^\[1/\d+\] people: makers and teams \.\.\.$", first.getvalue(), re.MULTILINE)
    assert "9 new rows" in first.getvalue()  # the people loader's: 6 makers and 3 teams
    assert "] commons: designs, remixes and systems ..." in first.getvalue()
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
