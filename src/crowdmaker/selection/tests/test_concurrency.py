"""Aggregates under real concurrency on PostgreSQL: 40 members vote, change their votes, try to vote twice, state
and withdraw buy-intents on one submission at once; the stored counts and sums equal the rows' truth."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from crowdmaker.core.errors import Conflict
from crowdmaker.people.models import User
from crowdmaker.selection import selectors, services
from crowdmaker.selection.models import BuyIntent, Submission, Vote

CLIENTS = 20  # parallel database connections
MEMBERS = 40


def first_score(n: int) -> int:
    return n % 5 + 1


def final_score(n: int) -> int:
    return (n * 3) % 5 + 1


def price(n: int) -> int:
    return 1_000 + 37 * n


@pytest.mark.django_db(transaction=True)
def test_40_members_voting_and_stating_intents_at_once_on_one_submission(
    submission: Submission, make_member: Callable[..., User]
) -> None:
    members = [make_member(f"crowd{n}") for n in range(MEMBERS)]
    start = threading.Barrier(CLIENTS)
    started: set[int] = set()
    lock = threading.Lock()

    def at_once() -> None:
        thread = threading.get_ident()
        with lock:
            first = thread not in started
            started.add(thread)
        if first:
            start.wait(timeout=60)  # every client begins at the same moment

    def member_acts(n: int) -> list[str]:
        """Vote (perhaps beaten by the duplicate below), change the vote, state an intent; some withdraw it and
        some of those state a new one."""
        at_once()
        member, outcomes = members[n], []
        try:
            try:
                services.vote_cast(voter=member, submission=submission, score=first_score(n))
                outcomes.append("voted")
            except Conflict as refused:
                outcomes.append(refused.code)
            services.vote_change(voter=member, submission=submission, score=final_score(n))
            services.intent_state(member=member, submission=submission, price=price(n))
            if n % 2 == 0:
                services.intent_withdraw(member=member, submission=submission)
            if n % 4 == 0:
                services.intent_state(member=member, submission=submission, price=2 * price(n))
            return outcomes
        finally:
            connection.close()

    def member_votes_again(n: int) -> list[str]:
        """The same member's second vote, racing the first: the database lets exactly one of them in."""
        at_once()
        try:
            services.vote_cast(voter=members[n], submission=submission, score=5)
            return ["voted"]
        except Conflict as refused:
            return [refused.code]
        finally:
            connection.close()

    jobs = [(member_acts, n) for n in range(MEMBERS)] + [(member_votes_again, n) for n in range(MEMBERS)]
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(lambda job: job[0](job[1]), jobs))

    outcomes = Counter(outcome for result in results for outcome in result)
    assert outcomes == {"voted": MEMBERS, "already_voted": MEMBERS}  # one vote per member, whoever came first
    live = {n: price(n) for n in range(MEMBERS) if n % 2} | {n: 2 * price(n) for n in range(MEMBERS) if n % 4 == 0}
    submission.refresh_from_db()
    assert submission.vote_count == MEMBERS == Vote.objects.filter(submission=submission).count()
    assert submission.vote_sum == sum(final_score(n) for n in range(MEMBERS))
    assert sorted(Vote.objects.filter(submission=submission).values_list("score", flat=True)) == sorted(
        final_score(n) for n in range(MEMBERS)
    )
    assert submission.intent_count == len(live) == BuyIntent.objects.filter(withdrawn_at__isnull=True).count()
    assert submission.intent_value == sum(live.values())
    assert BuyIntent.objects.count() == MEMBERS + MEMBERS // 4  # withdrawn intents stay, as history
    assert selectors.aggregates_check() == []
