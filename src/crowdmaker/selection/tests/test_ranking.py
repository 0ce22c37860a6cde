"""The Bayesian ranking (ranking.py), exactly and by properties: a vote of 5 never lowers a submission's score nor
its position, and the order is the same however often and from whatever input order it is computed."""

from __future__ import annotations

import random
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from crowdmaker.selection.models import MAX_SCORE, MIN_SCORE
from crowdmaker.selection.ranking import NEUTRAL_SCORE, Ranked, Tally, bayesian_score, call_mean, rank


@st.composite
def tallies(draw: st.DrawFn, min_size: int = 1, max_count: int = 400) -> list[Tally]:
    """Submissions with ids in any order and votes that real scores could add up to (sum within n..5n)."""
    ids = draw(st.lists(st.integers(1, 10**6), min_size=min_size, max_size=12, unique=True))
    result = []
    for pk in ids:
        count = draw(st.integers(0, max_count))
        total = draw(st.integers(MIN_SCORE * count, MAX_SCORE * count))
        result.append(Tally(submission_id=pk, vote_count=count, vote_sum=total))
    return result


prior_weights = st.integers(1, 100)
means = st.fractions(min_value=MIN_SCORE, max_value=MAX_SCORE, max_denominator=10**6)


def with_a_five(given_tallies: list[Tally], index: int) -> list[Tally]:
    voted = list(given_tallies)
    t = voted[index]
    voted[index] = Tally(submission_id=t.submission_id, vote_count=t.vote_count + 1, vote_sum=t.vote_sum + MAX_SCORE)
    return voted


def entry(ranking: list[Ranked], submission_id: int) -> Ranked:
    return next(r for r in ranking if r.tally.submission_id == submission_id)


def test_three_fives_do_not_beat_three_hundred_votes_averaging_4_8_in_a_call_of_mixed_scores() -> None:
    few = Tally(submission_id=1, vote_count=3, vote_sum=15)
    many = Tally(submission_id=2, vote_count=300, vote_sum=1440)
    middling = Tally(submission_id=3, vote_count=100, vote_sum=300)
    ranking = rank([few, many, middling], prior_weight=10)
    m = Fraction(15 + 1440 + 300, 403)
    assert [r.tally for r in ranking] == [many, few, middling]
    assert ranking[0].score == (10 * m + 1440) / 310
    assert ranking[1].score == (10 * m + 15) / 13


def test_three_fives_do_beat_them_when_the_call_mean_itself_is_about_4_8() -> None:
    """The prior is the call's mean: with C = 10, 3 fives outrank 300 votes of 4.8 only when m >= 469/99 (about 4.737)
    (310(10m + 15) >= 13(10m + 1440)), here the two alone make m = 1455/303 (about 4.80)."""
    few = Tally(submission_id=1, vote_count=3, vote_sum=15)
    many = Tally(submission_id=2, vote_count=300, vote_sum=1440)
    assert [r.tally for r in rank([few, many], prior_weight=10)] == [few, many]


def test_a_call_without_votes_has_the_neutral_mean_and_ties_go_to_the_earlier_submission() -> None:
    assert call_mean(vote_sum=0, vote_count=0) == NEUTRAL_SCORE
    ranking = rank([Tally(9, 0, 0), Tally(4, 0, 0)], prior_weight=10)
    assert [(r.position, r.tally.submission_id, r.score) for r in ranking] == [(1, 4, 3), (2, 9, 3)]


def test_equal_scores_go_to_more_votes() -> None:
    # Both score exactly m = 4: one by four 4s, one by no vote.
    ranking = rank([Tally(1, 0, 0), Tally(2, 4, 16)], prior_weight=5)
    assert [r.tally.submission_id for r in ranking] == [2, 1]
    assert ranking[0].score == ranking[1].score == 4


@given(count=st.integers(0, 10_000), data=st.data(), prior_mean=means, prior_weight=prior_weights)
def test_a_five_never_lowers_the_score_for_a_fixed_prior_mean(
    count: int, data: st.DataObject, prior_mean: Fraction, prior_weight: int
) -> None:
    """With m <= 5 the score is an average of values <= 5, so it is <= 5 and adding a 5 cannot pull it down:
    (Cm + s + 5)/(C + n + 1) >= (Cm + s)/(C + n)  <=>  5 >= (Cm + s)/(C + n)."""
    total = data.draw(st.integers(count, 5 * count))
    before = bayesian_score(vote_sum=total, vote_count=count, prior_mean=prior_mean, prior_weight=prior_weight)
    after = bayesian_score(vote_sum=total + 5, vote_count=count + 1, prior_mean=prior_mean, prior_weight=prior_weight)
    assert before <= MAX_SCORE
    assert after >= before


@given(given_tallies=tallies(), data=st.data(), prior_weight=prior_weights)
def test_a_five_never_lowers_the_score_nor_the_position_with_the_call_mean_recomputed(
    given_tallies: list[Tally], data: st.DataObject, prior_weight: int
) -> None:
    """The 5 also moves the call's mean m, never down (m <= 5): every score rises with m, the voted one's most
    among those it was ahead of, so nobody behind it passes it."""
    index = data.draw(st.integers(0, len(given_tallies) - 1))
    submission_id = given_tallies[index].submission_id
    before = entry(rank(given_tallies, prior_weight=prior_weight), submission_id)
    after = entry(rank(with_a_five(given_tallies, index), prior_weight=prior_weight), submission_id)
    assert after.score >= before.score
    assert after.position <= before.position


@given(given_tallies=tallies(), prior_weight=prior_weights, seed=st.integers(0, 2**32 - 1))
def test_the_order_is_total_and_the_same_on_every_computation_from_any_input_order(
    given_tallies: list[Tally], prior_weight: int, seed: int
) -> None:
    first = rank(given_tallies, prior_weight=prior_weight)
    shuffled = list(given_tallies)
    random.Random(seed).shuffle(shuffled)
    again = rank(shuffled, prior_weight=prior_weight)
    assert again == first == rank(given_tallies, prior_weight=prior_weight)
    assert [r.position for r in first] == list(range(1, len(given_tallies) + 1))
    keys = [(-r.score, -r.tally.vote_count, r.tally.submission_id) for r in first]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)  # no two entries tie completely: the order is decided, not incidental


@given(given_tallies=tallies(min_size=2), prior_weight=prior_weights)
def test_the_scores_are_exact_and_between_1_and_5(given_tallies: list[Tally], prior_weight: int) -> None:
    ranking = rank(given_tallies, prior_weight=prior_weight)
    m = call_mean(vote_sum=sum(t.vote_sum for t in given_tallies), vote_count=sum(t.vote_count for t in given_tallies))
    for r in ranking:
        assert isinstance(r.score, Fraction)
        assert r.score * (prior_weight + r.tally.vote_count) == prior_weight * m + r.tally.vote_sum
        assert MIN_SCORE <= r.score <= MAX_SCORE


@given(given_tallies=tallies(min_size=2, max_count=1_000_000), prior_weight=st.integers(1, 10_000))
def test_the_integer_key_orders_exactly_as_the_fractions_at_a_million_votes(
    given_tallies: list[Tally], prior_weight: int
) -> None:
    m = call_mean(vote_sum=sum(t.vote_sum for t in given_tallies), vote_count=sum(t.vote_count for t in given_tallies))

    def by_fractions(t: Tally) -> tuple[Fraction, int, int]:
        score = bayesian_score(vote_sum=t.vote_sum, vote_count=t.vote_count, prior_mean=m, prior_weight=prior_weight)
        return -score, -t.vote_count, t.submission_id

    assert [r.tally for r in rank(given_tallies, prior_weight=prior_weight)] == sorted(given_tallies, key=by_fractions)


def test_the_integer_key_separates_scores_a_hair_apart() -> None:
    # 1_000_031/1_000_010 against 1_000_032/1_000_011 (m = 3, C = 10): 21/(q1*q2) apart, about 2e-11.
    close = [Tally(1, 1_000_000, 1_000_001), Tally(2, 1_000_001, 1_000_002)]
    ranking = rank(close, prior_weight=10, prior_mean=Fraction(3))
    assert ranking[0].score != ranking[1].score
    assert [r.tally for r in ranking] == sorted(close, key=lambda t: -ranking_score(t))


def ranking_score(t: Tally) -> Fraction:
    return bayesian_score(vote_sum=t.vote_sum, vote_count=t.vote_count, prior_mean=Fraction(3), prior_weight=10)
