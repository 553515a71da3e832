from __future__ import annotations

import pytest

from policies.decision import SamplingPlan
from policies.search.vote import AdaptiveVote, cluster_answers, leader_probability, run_vote


def vote_on(answers: list[str | None], plan: SamplingPlan) -> tuple[str | None, int]:
    """The voted answer and the samples drawn, replaying `answers` in order."""
    keys = cluster_answers(answers)
    vote = run_vote(keys, plan)
    return (None if vote.leader is None else answers[keys.index(vote.leader)]), vote.samples


def test_leader_probability_grows_with_agreement() -> None:
    # Beta(k + 1, 1): P(share > 1/2) = 1 - 2^-(k + 1).
    assert leader_probability(3, 0) == pytest.approx(1 - 0.5**4)
    assert leader_probability(2, 2) == pytest.approx(0.5)
    assert leader_probability(5, 1) > leader_probability(4, 1)


def test_prior_from_the_difficulty_model_moves_the_posterior() -> None:
    plain = leader_probability(2, 0)
    assert leader_probability(2, 0, prior_p_correct=0.95) > plain
    assert leader_probability(2, 0, prior_p_correct=0.05) < plain


def test_cluster_answers_uses_the_normaliser() -> None:
    keys = cluster_answers(["\\frac{14}{3}", "14/3", "5", "", None, "5.0"])
    assert keys[0] == keys[1]
    assert keys[2] == keys[5] != keys[0]
    assert keys[3] == keys[4] == -1


def test_unanimous_samples_stop_early() -> None:
    # 1 - 2^-(k+1) >= 0.95 first at k = 4.
    assert vote_on(["42"] * 40, SamplingPlan(max_samples=40, threshold=0.95)) == ("42", 4)


def test_prior_saves_samples_on_confident_items() -> None:
    plan = SamplingPlan(max_samples=40, threshold=0.95, prior_p_correct=0.95)
    # Two pseudo-votes at 0.95: Beta(k + 1 + 1.9, 1 + 0.1) passes 0.95 at k = 2.
    assert vote_on(["42"] * 40, plan) == ("42", 2)


def test_never_exceeds_max_samples() -> None:
    answers = [str(i % 2) for i in range(100)]  # a perfect split never becomes safe
    assert vote_on(answers, SamplingPlan(max_samples=16, threshold=0.95)) == ("0", 16)


def test_vote_without_answers_runs_to_the_maximum() -> None:
    assert vote_on([None] * 10, SamplingPlan(max_samples=8)) == (None, 8)


def test_adding_after_stop_raises() -> None:
    vote = AdaptiveVote(SamplingPlan(max_samples=1))
    assert vote.add(0)
    with pytest.raises(RuntimeError):
        vote.add(0)


def test_majority_vote_counts_exactly_n_and_breaks_ties_by_first_seen() -> None:
    answers: list[str | None] = ["7", "8", "8", "7", "9", "9", "9"]

    def majority(n: int) -> tuple[str | None, int]:
        return vote_on(answers, SamplingPlan(n, threshold=1.0, min_samples=n))

    assert majority(4) == ("7", 4)  # 7 and 8 tie at two: 7 came first
    assert majority(3) == ("8", 3)
    assert majority(7) == ("9", 7)
    assert vote_on(answers[:2], SamplingPlan(5, threshold=1.0, min_samples=5)) == ("7", 2)
