from __future__ import annotations

import pytest

from difficulty.outcomes import Outcome, Sample
from policies.decision import SamplingPlan
from policies.search.simulator import SampledProblem, sampled_problems, simulate_search


def _problem(i: int, answers: list[str], gold: str = "7") -> SampledProblem:
    return SampledProblem(
        f"p{i}", tuple(answers), tuple(10 * (k + 1) for k in range(len(answers))), gold
    )


def test_unanimous_problems_stop_early_at_equal_accuracy() -> None:
    problems = [_problem(i, ["7"] * 32) for i in range(10)]
    rows = simulate_search(problems, orders=3)
    assert rows["majority@16"].accuracy == rows["adaptive"].accuracy == 1.0
    assert rows["adaptive"].samples == 4
    assert rows["majority@32"].samples == 32


def test_split_votes_run_to_the_maximum_and_never_past_it() -> None:
    problems = [_problem(i, ["7", "8"] * 16) for i in range(10)]
    rows = simulate_search(problems, plan=SamplingPlan(max_samples=12, threshold=0.99), orders=4)
    assert rows["adaptive"].samples <= 12
    assert rows["majority@1"].accuracy == pytest.approx(0.5, abs=0.3)


def test_sizes_beyond_the_recorded_samples_are_left_out() -> None:
    rows = simulate_search([_problem(0, ["7"] * 10)], orders=1)
    assert set(rows) == {"majority@1", "majority@4", "majority@8", "adaptive"}


def test_same_seed_same_result_and_tokens_follow_samples() -> None:
    problems = [_problem(i, ["7", "7", "8", "7", "9", "7"] * 6) for i in range(8)]
    a = simulate_search(problems, orders=5, seed=3)
    assert a == simulate_search(problems, orders=5, seed=3)
    flat = [SampledProblem("f", ("7", "8") * 18, (10,) * 36, "7")]
    rows = simulate_search(flat, orders=4)
    assert all(row.tokens == pytest.approx(10 * row.samples) for row in rows.values())


def test_prior_reduces_samples() -> None:
    problems = [_problem(i, ["7"] * 32) for i in range(5)]
    priors = {p.id: 0.97 for p in problems}
    assert simulate_search(problems, priors=priors)["adaptive"].samples < 4


def test_sampled_problems_groups_by_profile() -> None:
    rows = [
        Outcome("a", "p", "m1", None, None, gold="1", samples=(Sample("1", 5), Sample("2", None))),
        Outcome("a", "p", "m2", True, 10),
    ]
    grouped = sampled_problems(rows)
    assert list(grouped) == ["m1"]
    assert grouped["m1"][0].tokens == (5, 0)
