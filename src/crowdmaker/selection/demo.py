"""Demo open calls: two team calls, open now, with submissions of the demo makers' own designs, votes and
buy-intents by the other demo makers, so the calls' pages show a ranking.

`clean-workshop-air` (Workshop Commons, family `workshop`, SEK, threshold on the intents' value) takes four
extractors and a soldering station; `bedroom-light` (Light Lab, family `lighting`, EUR, threshold on the number of
intents) takes three lamps. Votes and intents come from verified demo makers whose accounts are older than
`CROWDMAKER_SELECTION_MIN_ACCOUNT_AGE_DAYS` (people/demo.py dates them back), never from a design's authors.

What is not here, and why: a platform call needs a staff account, and the demo has none (its password is public);
a closed call cannot be made, as `call_open` refuses a period that has ended and votes are taken only while a call
is open. Writes go only through `selection.services`. Idempotent by natural key: a call by its slug, a submission by
(call, design version), a vote by (submission, voter), an intent by (submission, member), withdrawn or not; a call
no longer open gets nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from crowdmaker.commons.demo import LIGHTING, WORKSHOP
from crowdmaker.commons.models import DesignVersion
from crowdmaker.core.demo import Report, register_demo
from crowdmaker.people.models import Team, User
from crowdmaker.selection import services
from crowdmaker.selection.models import BuyIntent, OpenCall, Submission, ThresholdKind, Vote


@dataclass(frozen=True)
class DemoEntry:
    design: str  # entered by the design's demo actor (its owner, or an owner/maintainer of its team)
    actor: str
    pitch: str
    votes: tuple[tuple[str, int], ...]  # (voter, score 1-5)
    intents: tuple[tuple[str, int], ...]  # (member, price in minor units of the call's currency)


@dataclass(frozen=True)
class DemoCall:
    slug: str
    title: str
    team: str
    actor: str  # an owner or maintainer of `team`
    family: str
    currency: str
    threshold_kind: str
    threshold: int
    top_n: int
    opened_days_ago: int
    days_left: int
    brief: str
    entries: tuple[DemoEntry, ...]


CALLS = (
    DemoCall(
        slug="clean-workshop-air",
        title="Clean air at the workbench",
        team="workshop-commons",
        actor="bruno",
        family=WORKSHOP,
        currency="SEK",
        threshold_kind=ThresholdKind.INTENTS_VALUE,
        threshold=5_000_000,  # 50 000 kr of stated intents
        top_n=2,
        opened_days_ago=6,
        days_left=24,
        brief="""Shared workshops breathe sawdust and solder fumes. **Workshop Commons** will make a batch of the
two best ranked extractors for its member workshops.

Enter a design of the `workshop` family; score the entries from 1 to 5 and say what you would pay.""",
        entries=(
            DemoEntry(
                "cyclone-dust-extractor-quiet",
                "dara",
                "The cyclone, quieter: a lined impeller housing and a slower fan, same airflow.",
                votes=(("ada", 5), ("bruno", 5), ("chen", 5), ("emil", 4)),
                intents=(("emil", 190_000), ("ada", 175_000), ("chen", 160_000)),
            ),
            DemoEntry(
                "cyclone-dust-extractor",
                "bruno",
                "A two-stage cyclone for a shop vacuum: the filter stays clean, the bin fills.",
                votes=(("ada", 5), ("chen", 4), ("emil", 5), ("farah", 4), ("dara", 4)),
                intents=(("farah", 150_000), ("dara", 140_000)),
            ),
            DemoEntry(
                "soldering-station",
                "ada",
                "An open soldering station with a fume port that fits the extractor.",
                votes=(("bruno", 4), ("chen", 3)),
                intents=(("bruno", 90_000),),
            ),
            DemoEntry(
                "fume-extractor",
                "dara",
                "A bench fume extractor with a carbon filter; small enough for a shelf.",
                votes=(("ada", 3), ("chen", 4), ("emil", 3)),
                intents=(),
            ),
        ),
    ),
    DemoCall(
        slug="bedroom-light",
        title="Light for the bedroom",
        team="light-lab",
        actor="farah",
        family=LIGHTING,
        currency="EUR",
        threshold_kind=ThresholdKind.INTENTS_COUNT,
        threshold=20,
        top_n=1,
        opened_days_ago=3,
        days_left=27,
        brief="""Warm, dim and quiet: **Light Lab** looks for a bedside or night light to make next.

Enter a design of the `lighting` family.""",
        entries=(
            DemoEntry(
                "firefly-night-light",
                "chen",
                "A night light that wakes on motion and dims to 1 %; no flicker, no blue.",
                votes=(("ada", 5), ("emil", 5), ("bruno", 4), ("dara", 4)),
                intents=(("emil", 2_900), ("dara", 2_500), ("bruno", 3_000)),
            ),
            DemoEntry(
                "walnut-bedside-lamp",
                "bruno",
                "A turned walnut base and a linen shade; a lamp to keep for decades.",
                votes=(("emil", 4), ("chen", 4), ("dara", 3)),
                intents=(("emil", 8_900),),
            ),
            DemoEntry(
                "origami-pendant",
                "farah",
                "A folded polypropylene shade that packs flat; softer light over the bed.",
                votes=(("bruno", 3), ("emil", 3)),
                intents=(),
            ),
        ),
    ),
)


def _latest_version(slug: str) -> DesignVersion | None:
    return DesignVersion.objects.filter(design__slug=slug).order_by("-number").first()


def _call(spec: DemoCall, actor: User, team: Team, report: Report) -> tuple[OpenCall, int]:
    found = OpenCall.objects.filter(slug=spec.slug).first()
    if found is not None:
        return found, 0
    now = timezone.now()
    call = services.call_open(
        actor=actor, slug=spec.slug, title=spec.title, brief=spec.brief, team=team,
        opens_at=now - timedelta(days=spec.opened_days_ago), closes_at=now + timedelta(days=spec.days_left),
        threshold_kind=spec.threshold_kind, threshold=spec.threshold, currency=spec.currency,
        required_family=spec.family, top_n=spec.top_n,
    )  # fmt: skip
    report(f"call {spec.slug} ({spec.team}, family {spec.family}, {spec.currency}, closes in {spec.days_left} days)")
    return call, 1


def _entry(call: OpenCall, entry: DemoEntry, makers: dict[str, User], report: Report) -> int:
    version = _latest_version(entry.design)
    if version is None:
        report(f"skipped entry {entry.design} in {call.slug}: the design is missing")
        return 0
    created = 0
    submission = Submission.objects.filter(call=call, design_version=version).first()
    if submission is None:
        submission = services.submission_enter(actor=makers[entry.actor], call=call, design_version=version,
                                               pitch=entry.pitch)  # fmt: skip
        created += 1
    votes = intents = 0
    for handle, score in entry.votes:
        if not Vote.objects.filter(submission=submission, voter=makers[handle]).exists():
            services.vote_cast(voter=makers[handle], submission=submission, score=score)
            votes += 1
    for handle, price in entry.intents:
        if not BuyIntent.objects.filter(submission=submission, member=makers[handle]).exists():
            services.intent_state(member=makers[handle], submission=submission, price=price)
            intents += 1
    if created or votes or intents:
        report(f"entry {entry.design} in {call.slug}: {votes} vote(s), {intents} buy-intent(s)")
    return created + votes + intents


def load(report: Report) -> int:
    handles = {spec.actor for spec in CALLS} | {
        handle
        for spec in CALLS
        for entry in spec.entries
        for handle in (entry.actor, *(v for v, _ in entry.votes), *(m for m, _ in entry.intents))
    }
    makers = {user.handle: user for user in User.objects.filter(handle__in=handles)}
    if len(makers) < len(handles):
        report(f"skipped: the demo makers {sorted(handles - set(makers))} are missing")
        return 0
    created = 0
    for spec in CALLS:
        team = Team.objects.filter(slug=spec.team).first()
        if team is None:
            report(f"skipped call {spec.slug}: the team {spec.team} is missing")
            continue
        call, made = _call(spec, makers[spec.actor], team, report)
        created += made
        now = timezone.now()
        if not (call.opens_at <= now < call.closes_at):
            continue  # a call no longer open takes no entries, votes or intents
        for entry in spec.entries:
            created += _entry(call, entry, makers, report)
    return created


register_demo(name="selection: open calls", order=40, load=load)
