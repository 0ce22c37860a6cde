"""The ranking of a call's submissions by a Bayesian average, in exact arithmetic (pure functions, no database).

A submission with n votes summing to s is scored

    score = (C * m + s) / (C + n)

where m is the call's mean score over all its votes (sum of all scores / number of all votes; NEUTRAL_SCORE when
the call has no vote yet) and C is the call's prior weight: each submission starts as if it had C votes of the
call's mean, so 3 votes of 5 do not beat 300 votes averaging 4.8 (with C = 10, as long as the call's mean is below
4.737: a call where nearly every vote is a 5 has a prior near 5 too). Scores are Fractions and every ordering decision
compares them exactly (no floats; only display may round). Ties go to more votes, then to the earlier submission
(smaller id), so the order is total and the same on every computation. Adding a vote of 5 never lowers a
submission's score: the score is an average of values <= 5, and a 5 also never lowers the call's mean m. Nor its
position: a higher m lifts a score by C·Δm/(C + n), and the voted submission's own gain, (C·Δm + 5 - score)/(C + n + 1),
is at least that of any submission it was ahead of (tests/test_ranking.py checks both by Hypothesis).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

# The prior mean of a call nobody has voted in yet: the middle of the 1-5 scale. (It cannot change the order
# then, as every submission scores m; it only makes the shown scores meaningful.)
NEUTRAL_SCORE = Fraction(3)


@dataclass(frozen=True)
class Tally:
    """What the ranking needs of one submission: its id and its vote aggregates."""

    submission_id: int
    vote_count: int
    vote_sum: int


@dataclass(frozen=True)
class Ranked:
    position: int  # 1 for the best
    tally: Tally
    score_numerator: int
    score_denominator: int

    @property
    def score(self) -> Fraction:
        """The exact score (made on demand: a page shows a few of the thousands ranked)."""
        return Fraction(self.score_numerator, self.score_denominator)


def call_mean(*, vote_sum: int, vote_count: int) -> Fraction:
    """m: the mean of all the call's votes, from the sums of its submissions' aggregates."""
    if vote_count <= 0:
        return NEUTRAL_SCORE
    return Fraction(vote_sum, vote_count)


def bayesian_score(*, vote_sum: int, vote_count: int, prior_mean: Fraction, prior_weight: int) -> Fraction:
    """(C * m + s) / (C + n), exactly."""
    if prior_weight < 1:
        raise ValueError("The prior weight is at least 1.")
    return (prior_weight * prior_mean + vote_sum) / (prior_weight + vote_count)


def rank(tallies: Iterable[Tally], *, prior_weight: int, prior_mean: Fraction | None = None) -> list[Ranked]:
    """The tallies best first; `prior_mean` defaults to the mean of the given tallies (pass it for a subset).

    Sorting Fractions costs a gcd per operation (about 0.13 s for 10,000 submissions), so the order is decided on
    an integer key that is exactly as fine: with m = a/b, score = p/(b·q) for p = C·a + b·s and q = C + n, and two
    different p/q differ by at least 1/(q1·q2) >= 1/Q² (Q the largest q), so floor(p·Q²/q) orders them the same
    way and gives equal scores equal keys. A Ranked makes its Fraction only when asked."""
    if prior_weight < 1:
        raise ValueError("The prior weight is at least 1.")
    tallies = list(tallies)
    if prior_mean is None:
        prior_mean = call_mean(vote_sum=sum(t.vote_sum for t in tallies), vote_count=sum(t.vote_count for t in tallies))
    a, b = prior_mean.numerator, prior_mean.denominator
    scale = max((prior_weight + t.vote_count for t in tallies), default=1) ** 2
    keyed = [
        (
            -((prior_weight * a + b * t.vote_sum) * scale // (prior_weight + t.vote_count)),
            -t.vote_count,
            t.submission_id,
            t,
        )
        for t in tallies
    ]
    keyed.sort(key=lambda row: row[:3])
    return [
        Ranked(
            position=position,
            tally=t,
            score_numerator=prior_weight * a + b * t.vote_sum,
            score_denominator=b * (prior_weight + t.vote_count),
        )
        for position, (_, _, _, t) in enumerate(keyed, start=1)
    ]
