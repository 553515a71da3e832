from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from difficulty.errors import InvalidInputError
from policies.decision import SamplingPlan
from policies.profiles import ProfileCost
from policies.routing.policy import (
    PolicyConfig,
    choose,
    cost_matrix,
    decide,
    forced,
    sampling_plan,
)


@dataclass(frozen=True)
class Pred:
    p_correct: float
    tokens: float | None


PREDS = {
    "direct": Pred(0.70, 100.0),
    "cot": Pred(0.85, 400.0),
    "think": Pred(0.90, 2000.0),
}
COSTS = {
    "direct": ProfileCost("direct", price_out=1e-6),
    "cot": ProfileCost("cot", price_out=1e-6),
    "think": ProfileCost("think", price_out=2e-6, max_tokens=8000),
}


def test_utility_lambda_zero_picks_most_accurate() -> None:
    d = decide(PolicyConfig("utility", lam=0.0), PREDS, COSTS)
    assert d.profile == "think"
    assert d.budget == 8000
    assert d.p_correct == pytest.approx(0.90)


def test_utility_huge_lambda_picks_cheapest() -> None:
    assert decide(PolicyConfig("utility", lam=1.0), PREDS, COSTS).profile == "direct"


def test_utility_middle_lambda_trades_off() -> None:
    # cot: 0.85 - 400 l vs think: 0.90 - 2000 l vs direct: 0.70 - 100 l, l = 1e-4
    assert decide(PolicyConfig("utility", lam=1e-4), PREDS, COSTS).profile == "cot"


def test_utility_in_money_uses_prices() -> None:
    # In money think costs 4e-3 and cot 4e-4: lam 20 per unit money makes think lose to cot.
    d = decide(PolicyConfig("utility", lam=20.0, cost_unit="money"), PREDS, COSTS)
    assert d.profile == "cot"
    assert d.cost == pytest.approx(400e-6)


def test_target_picks_cheapest_within_epsilon() -> None:
    assert decide(PolicyConfig("target", epsilon=0.0), PREDS, COSTS).profile == "think"
    assert decide(PolicyConfig("target", epsilon=0.05), PREDS, COSTS).profile == "cot"
    assert decide(PolicyConfig("target", epsilon=0.2), PREDS, COSTS).profile == "direct"


def test_fixed_always_returns_its_profile() -> None:
    d = decide(PolicyConfig("fixed", profile="direct"), PREDS, COSTS, reference="think")
    assert d.profile == "direct"
    assert "always direct" in d.reason
    assert "1900 tokens fewer than think" in d.reason


def test_reason_is_one_line() -> None:
    d = decide(PolicyConfig("target", epsilon=0.05), PREDS, COSTS, reference="think")
    assert "\n" not in d.reason and "cot" in d.reason and "think" in d.reason


SEARCH = SamplingPlan(max_samples=16, threshold=0.9, min_samples=2)


def test_search_profile_gets_its_own_sampling_plan_with_the_prior() -> None:
    costs = dict(COSTS, cot=ProfileCost("cot", search=SEARCH))
    d = decide(PolicyConfig("target", epsilon=0.05), PREDS, costs)
    assert d.profile == "cot"
    # The forecast's P(correct) moves the prior; its tokens are a sample's typical length...
    assert d.sampling == SamplingPlan(16, 0.9, 2, prior_p_correct=0.85, typical_tokens=400.0)
    # ...unless the profile says how long its samples are.
    fixed = dict(COSTS, cot=ProfileCost("cot", search=replace(SEARCH, typical_tokens=90.0)))
    planned = decide(PolicyConfig("target", epsilon=0.05), PREDS, fixed).sampling
    assert planned is not None and planned.typical_tokens == 90.0
    assert decide(PolicyConfig("utility"), PREDS, COSTS).sampling is None


def test_the_prior_is_the_recalibrated_p_correct() -> None:
    costs = dict(COSTS, cot=ProfileCost("cot", search=SEARCH))
    policy = PolicyConfig("fixed", profile="cot", recalibration=(("cot", 1.0, 1.0),))
    d = decide(policy, PREDS, costs)
    expected = 1 / (1 + np.exp(-(np.log(0.85 / 0.15) + 1.0)))
    assert d.sampling is not None and d.p_correct is not None
    assert d.sampling.prior_p_correct == pytest.approx(expected) == pytest.approx(d.p_correct)


def test_a_forced_profile_keeps_its_limits_and_plan() -> None:
    d = forced("cot", ProfileCost("cot", max_tokens=512, search=SEARCH), PREDS["cot"], "forced")
    assert (d.profile, d.budget, d.reason) == ("cot", 512, "forced")
    assert d.sampling == SamplingPlan(16, 0.9, 2, prior_p_correct=0.85, typical_tokens=400.0)
    assert (d.p_correct, d.tokens) == (0.85, 400.0)
    bare = forced("new", None, None, "passed through")
    assert bare.sampling is None and bare.budget is None and bare.p_correct is None


def test_sampling_plan_only_for_search_profiles() -> None:
    assert sampling_plan(ProfileCost("direct"), 0.7) is None
    plan = sampling_plan(ProfileCost("cot", search=SEARCH), None)
    assert plan == SEARCH and plan is not None and plan.prior_p_correct is None


def test_missing_tokens_fall_back_to_default_tokens() -> None:
    preds = {"a": Pred(0.9, None), "b": Pred(0.9, 50.0)}
    costs = {"a": ProfileCost("a", default_tokens=10.0)}
    assert decide(PolicyConfig("utility", lam=1e-3), preds, costs).profile == "a"


def test_bad_configs_raise_typed_errors() -> None:
    with pytest.raises(InvalidInputError):
        PolicyConfig("fixed")
    with pytest.raises(InvalidInputError):
        PolicyConfig("utility", lam=-1.0)
    with pytest.raises(InvalidInputError):
        PolicyConfig("nope")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        decide(PolicyConfig("fixed", profile="zzz"), PREDS, COSTS)
    with pytest.raises(InvalidInputError):
        decide(PolicyConfig("utility"), {}, COSTS)


def test_choose_matches_decide_row_by_row() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=(50, 3))
    t = rng.uniform(10, 1000, size=(50, 3))
    names = ["a", "b", "c"]
    for policy in (PolicyConfig("utility", lam=3e-4), PolicyConfig("target", epsilon=0.1)):
        idx = choose(policy, p, cost_matrix(t, []), names)
        for row in range(50):
            preds = {n: Pred(p[row, j], t[row, j]) for j, n in enumerate(names)}
            assert decide(policy, preds, {}).profile == names[idx[row]]


def test_utility_ties_go_to_the_cheaper_profile() -> None:
    idx = choose(PolicyConfig("utility"), [[0.8, 0.8]], [[500.0, 10.0]], ["x", "y"])
    assert idx.tolist() == [1]


def test_recalibration_changes_the_decision_and_the_reported_probability() -> None:
    # A map that says the model's forecast for think carries no signal: always 0.6.
    flat = PolicyConfig("target", epsilon=0.05, recalibration=(("think", 0.0, 0.405465),))
    d = decide(flat, PREDS, COSTS)
    assert d.profile == "cot"
    assert decide(PolicyConfig("target", epsilon=0.0), PREDS, COSTS).profile == "think"
    d2 = decide(
        PolicyConfig("fixed", profile="think", recalibration=flat.recalibration), PREDS, COSTS
    )
    assert d2.p_correct == pytest.approx(0.6, abs=1e-4)


def test_decide_accepts_the_difficulty_models_predictions() -> None:
    from difficulty.predictions import Predictions

    preds = Predictions(
        profiles=("direct", "think"),
        p_correct=np.array([[0.6, 0.9]]),
        tokens=np.array([[80.0, np.nan]]),
    )
    costs = {"think": ProfileCost("think", default_tokens=1500.0)}
    d = decide(PolicyConfig("utility", lam=1e-4), preds.row(0), costs, reference="think")
    assert d.profile == "think"  # 0.9 - 0.15 > 0.6 - 0.008
    assert d.tokens == pytest.approx(1500.0)
