"""Demo makers, profiles and teams for a fresh installation. Every demo account has the password below and a
verified e-mail address (no mail is sent: the addresses are example.org)."""

from __future__ import annotations

from django.db import transaction

from crowdmaker.core.demo import Report, register_demo
from crowdmaker.people import services
from crowdmaker.people.models import Role, Team, User

DEMO_PASSWORD = "crowdmaker-demo"  # noqa: S105 - documented in the README; demo installs only

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


@transaction.atomic
def load(report: Report) -> int:
    created = 0
    for handle, name, bio, links in MAKERS:
        existing = User.objects.filter(handle=handle).first()
        if existing is not None:
            # Demo makers loaded before e-mail verification existed are verified on the next run.
            if existing.email == f"{handle}@example.org":
                services.email_verified_set(user=existing)
            continue
        user = services.user_create(
            email=f"{handle}@example.org", password=DEMO_PASSWORD, handle=handle, display_name=name
        )
        services.profile_update(user=user, bio=bio, links=links)
        services.email_verified_set(user=user)
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
