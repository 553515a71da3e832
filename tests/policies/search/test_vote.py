from __future__ import annotations

import pytest

from policies.decision import SamplingPlan
from policies.search.vote import (
    AdaptiveVote,
    adaptive_vote,
    cluster_answers,
    leader_probability,
    majority_vote,
)


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
    result = adaptive_vote(["42"] * 40, SamplingPlan(max_samples=40, threshold=0.95))
    # 1 - 2^-(k+1) >= 0.95 first at k = 4.
    assert result.samples == 4
    assert result.answer == "42"


def test_prior_saves_samples_on_confident_items() -> None:
    plan = SamplingPlan(max_samples=40, threshold=0.95, prior_p_correct=0.95)
    assert adaptive_vote(["42"] * 40, plan).samples < 4


def test_never_exceeds_max_samples() -> None:
    answers = [str(i % 2) for i in range(100)]  # a perfect split never becomes safe
    result = adaptive_vote(answers, SamplingPlan(max_samples=16, threshold=0.95), [10] * 100)
    assert result.samples == 16
    assert result.tokens == 160


def test_vote_without_answers_runs_to_the_maximum() -> None:
    result = adaptive_vote([None] * 10, SamplingPlan(max_samples=8))
    assert result.samples == 8 and result.answer is None


def test_adding_after_stop_raises() -> None:
    vote = AdaptiveVote(SamplingPlan(max_samples=1))
    assert vote.add(0)
    with pytest.raises(RuntimeError):
        vote.add(0)


def test_majority_vote_counts_exactly_n_and_breaks_ties_by_first_seen() -> None:
    answers = ["7", "8", "8", "7", "9", "9", "9"]
    assert majority_vote(answers, 4).answer == "7"
    assert majority_vote(answers, 3).answer == "8"
    assert majority_vote(answers, 7).answer == "9"
    assert majority_vote(answers, 7).samples == 7
