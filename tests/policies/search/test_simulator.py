from __future__ import annotations

import pytest

from difficulty.outcomes import Outcome, Sample
from policies.decision import SamplingPlan
from policies.search.simulator import SampledProblem, sampled_problems, simulate_search, trials_for


def _problem(i: int, answers: list[str], gold: str = "7") -> SampledProblem:
    return SampledProblem(
        f"p{i}", tuple(answers), tuple(10 * (k + 1) for k in range(len(answers))), gold
    )


def test_unanimous_problems_stop_early_at_equal_accuracy() -> None:
    problems = [_problem(i, ["7"] * 32) for i in range(10)]
    rows = simulate_search(problems, orders=3)
    assert rows["majority@16"].accuracy == rows["adaptive"].accuracy == 1.0
    assert 2 <= rows["adaptive"].samples < 4
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


def test_a_confident_forecast_saves_samples_and_a_doubtful_one_costs_them() -> None:
    problems = [_problem(i, ["7"] * 32) for i in range(5)]
    plan = SamplingPlan(max_samples=16, min_samples=1)
    easy = simulate_search(problems, plan=plan, priors={p.id: 0.98 for p in problems})
    hard = simulate_search(problems, plan=plan, priors={p.id: 0.2 for p in problems})
    assert easy["adaptive"].samples < hard["adaptive"].samples


def test_a_problems_typical_length_comes_from_the_other_problems() -> None:
    problems = [
        SampledProblem("a", ("7",) * 2, (10, 10), "7"),
        SampledProblem("b", ("7",), (99,), "7"),
    ]
    a, b = trials_for(problems)
    assert a.typical_tokens == 99.0 and b.typical_tokens == 10.0


def test_sampled_problems_groups_by_profile_and_keeps_scores() -> None:
    rows = [
        Outcome("a", "p", "m1", None, None, gold="1", samples=(Sample("1", 5), Sample("2", None))),
        Outcome("b", "p", "m1", None, None, samples=(Sample("1", 5, score=0.5),)),
        Outcome("a", "p", "m2", True, 10),
    ]
    grouped = sampled_problems(rows)
    assert list(grouped) == ["m1"]
    assert grouped["m1"][0].tokens == (5, 0) and grouped["m1"][0].scores is None
    assert grouped["m1"][1].scores == (0.5,)
