"""Demo makers, profiles and teams for a fresh installation. Every demo account has the password below and a
verified e-mail address (no mail is sent: the addresses are example.org).

Demo accounts are dated back (`date_joined`, ada the oldest, DEMO_ACCOUNT_AGE_DAYS days before the load, each next
maker a day younger) so that they may vote and state buy-intents in the demo open calls, which take them only from
accounts older than `CROWDMAKER_SELECTION_MIN_ACCOUNT_AGE_DAYS`; demo makers loaded before this are dated back on the
next run."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from crowdmaker.core.demo import Report, register_demo
from crowdmaker.people import services
from crowdmaker.people.models import Role, Team, User

DEMO_PASSWORD = "crowdmaker-demo"  # noqa: S105 - documented in the README; demo installs only
DEMO_ACCOUNT_AGE_DAYS = 90  # well above any sensible CROWDMAKER_SELECTION_MIN_ACCOUNT_AGE_DAYS

MAKERS = [
    (
        "ada",
        "Ada Okafor",
        "Electronics designer. Sensors, low-power radios and open hardware that lasts.",
        ["https://example.org/ada"],
    ),
    ("bruno", "Bruno Lindqvist", "Furniture maker and CNC operator in a shared workshop.", []),
    ("chen", "Chen Wei", "Firmware engineer; speaks fluent W3C Thing Description.", ["https://example.org/chen"]),
    ("dara", "Dara Nwosu", "Runs a small injection-moulding shop; makes enclosures for other makers.", []),
    ("emil", "Emil Sauer", "Backer and tinkerer. Building a smart home from open parts.", []),
    ("farah", "Farah Haddad", "Industrial designer; remixes lamps and chairs.", ["https://example.org/farah"]),
]

TEAMS = [
    (
        "open-sensors",
        "Open Sensors Collective",
        "Air, soil and water sensors that speak one protocol.",
        [("ada", Role.OWNER), ("chen", Role.MAINTAINER), ("emil", Role.MEMBER)],
    ),
    (
        "workshop-commons",
        "Workshop Commons",
        "Tools, jigs and furniture for shared workshops.",
        [("bruno", Role.OWNER), ("dara", Role.MAINTAINER), ("farah", Role.MEMBER)],
    ),
    (
        "light-lab",
        "Light Lab",
        "Open lamps and dimmers, from PCB to shade.",
        [("farah", Role.OWNER), ("ada", Role.MEMBER)],
    ),
]


def _date_back(user: User, joined: datetime) -> None:
    """A demo account's sign-up date set back (no service changes it: only the demo has a reason to)."""
    if user.date_joined > joined:
        User.objects.filter(pk=user.pk).update(date_joined=joined)


@transaction.atomic
def load(report: Report) -> int:
    created = 0
    now = timezone.now()
    for index, (handle, name, bio, links) in enumerate(MAKERS):
        joined = now - timedelta(days=DEMO_ACCOUNT_AGE_DAYS - index)
        existing = User.objects.filter(handle=handle).first()
        if existing is not None:
            # Demo makers loaded before e-mail verification (or the demo calls) are verified (dated back) now.
            if existing.email == f"{handle}@example.org":
                services.email_verified_set(user=existing)
                _date_back(existing, joined)
            continue
        user = services.user_create(
            email=f"{handle}@example.org", password=DEMO_PASSWORD, handle=handle, display_name=name
        )
        services.profile_update(user=user, bio=bio, links=links)
        services.email_verified_set(user=user)
        _date_back(user, joined)
        created += 1
        report(f"maker {handle}")
    for slug, name, description, members in TEAMS:
        if Team.objects.filter(slug=slug).exists():
            continue
        (owner_handle, _), *others = members
        team = services.team_create(
            actor=User.objects.get(handle=owner_handle), slug=slug, name=name, description=description
        )
        for handle, role in others:
            services.team_member_add(team=team, user=User.objects.get(handle=handle), role=role)
        created += 1
        report(f"team {slug} with {len(members)} members")
    return created


register_demo(name="people: makers and teams", order=10, load=load)
