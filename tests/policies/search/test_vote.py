from __future__ import annotations

import pytest

from policies.decision import SamplingPlan
from policies.search.stopping import UNIFORM_PRIOR, stop_posterior
from policies.search.vote import AdaptiveVote, cluster_answers, run_vote


def vote_on(answers: list[str | None], plan: SamplingPlan, **kw: object) -> tuple[str | None, int]:
    """The voted answer and the samples drawn, replaying `answers` in order."""
    keys = cluster_answers(answers)
    vote = run_vote(keys, plan, **kw)  # type: ignore[arg-type]
    return (None if vote.leader is None else answers[keys.index(vote.leader)]), vote.samples


def test_cluster_answers_uses_the_normaliser() -> None:
    keys = cluster_answers(["\\frac{14}{3}", "14/3", "5", "", None, "5.0"])
    assert keys[0] == keys[1]
    assert keys[2] == keys[5] != keys[0]
    assert keys[3] == keys[4] == -1


def test_the_uniform_prior_stops_where_adaptive_consistency_does() -> None:
    # Beta(k + 1, 1): 1 - 2^-(k + 1) >= 0.95 first at k = 4.
    plan = SamplingPlan(max_samples=40, threshold=0.95)
    assert vote_on(["42"] * 40, plan, prior=UNIFORM_PRIOR) == ("42", 4)


def test_the_fitted_prior_stops_at_two_agreeing_samples() -> None:
    assert vote_on(["42"] * 40, SamplingPlan(max_samples=40)) == ("42", 2)
    # One disagreement: P(leader is the majority) is 0.80 at 2:1 and passes 0.995 at 7:1.
    answers = ["42", "7"] + ["42"] * 10
    assert vote_on(answers, SamplingPlan(max_samples=12)) == ("42", 8)


def test_the_difficulty_forecast_moves_the_stop() -> None:
    easy = vote_on(["42"] * 40, SamplingPlan(max_samples=40, prior_p_correct=0.98))
    hard = vote_on(["42"] * 40, SamplingPlan(max_samples=40, prior_p_correct=0.3))
    assert easy == ("42", 2) and hard[1] > 2


def test_long_samples_vote_less() -> None:
    plan = SamplingPlan(max_samples=40)
    assert vote_on(["42"] * 40, plan, weights=[0.5] * 40)[1] == 4  # 4 half votes = 2 votes
    assert vote_on(["42"] * 40, plan, weights=[3.0] * 40)[1] == 1


def test_never_exceeds_max_samples() -> None:
    answers = [str(i % 2) for i in range(100)]  # a perfect split never becomes safe
    assert vote_on(answers, SamplingPlan(max_samples=16)) == ("0", 16)


def test_vote_without_answers_runs_to_the_maximum() -> None:
    assert vote_on([None] * 10, SamplingPlan(max_samples=8)) == (None, 8)


def test_adding_after_stop_raises() -> None:
    vote = AdaptiveVote(SamplingPlan(max_samples=1))
    assert vote.add(0)
    with pytest.raises(RuntimeError):
        vote.add(0)


def test_needed_is_the_fewest_agreeing_samples_that_could_stop() -> None:
    vote = AdaptiveVote(SamplingPlan(max_samples=16, min_samples=2))
    assert vote.needed() == 2
    vote.add(0)
    assert vote.needed() == 1
    vote.add(1)  # a tie: the leader needs several more
    more = vote.needed()
    assert stop_posterior([1.0 + more, 1.0]) >= 0.995 > stop_posterior([more, 1.0])
    assert AdaptiveVote(SamplingPlan(max_samples=3, threshold=1.0)).needed() == 3


def test_the_answer_follows_the_aggregate() -> None:
    vote = AdaptiveVote(SamplingPlan(max_samples=4, min_samples=4))
    for key, weight, score in ((0, 0.5, 0.1), (0, 0.5, 0.2), (1, 2.0, 0.3), (2, 0.1, 0.9)):
        vote.add(key, weight, score)
    assert vote.answer("majority") == 0
    assert vote.answer("weighted_vote") == 1
    assert vote.answer("best_of_n") == 2


def test_a_vote_that_settles_answerless_samples_stops_at_its_minimum() -> None:
    plan = SamplingPlan(max_samples=8, min_samples=2)
    settled = AdaptiveVote(plan, settle_answerless=True)
    assert not settled.add(-1, finished=True)
    assert settled.add(-1, finished=True) and settled.samples == 2 and settled.nothing_to_vote
    assert settled.leader is None


def test_cut_samples_or_one_answer_keep_the_vote_going() -> None:
    plan = SamplingPlan(max_samples=8, min_samples=2)
    cut = AdaptiveVote(plan, settle_answerless=True)
    assert not cut.add(-1, finished=False) and not cut.add(-1, finished=False)
    mixed = AdaptiveVote(plan, settle_answerless=True)
    assert not mixed.add(-1, finished=True) and not mixed.add(0, finished=True)
    assert not mixed.nothing_to_vote
    plain = AdaptiveVote(plan)  # the simulator's: answerless samples never end a vote early
    assert not plain.add(-1, finished=True) and not plain.add(-1, finished=True)
