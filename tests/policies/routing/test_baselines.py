from __future__ import annotations

import numpy as np
import pytest

from policies.routing.baselines import (
    fixed_baselines,
    length_heuristic_at_cost,
    oracle,
    oracle_choice,
    random_at_cost,
)
from policies.routing.simulator import RoutingTable


def _table() -> RoutingTable:
    correct = np.array([[1, 1], [0, 1], [1, 0], [0, 0]], dtype=float)
    tokens = np.array([[10, 100], [10, 100], [10, 100], [20, 50]], dtype=float)
    return RoutingTable(
        item_ids=["a", "b", "c", "d"],
        prompts=["short", "a much longer prompt", "mid prompt", "x"],
        profiles=["cheap", "dear"],
        p_correct=np.full((4, 2), 0.5),
        tokens_pred=tokens.copy(),
        correct=correct,
        tokens=tokens,
        fold=np.array([0, 1, 0, 1]),
    )


def test_oracle_takes_the_cheapest_correct_profile() -> None:
    t = _table()
    assert oracle_choice(t).tolist() == [0, 1, 0, 0]  # d: none correct -> fewest tokens
    point = oracle(t, {}, reference=1)
    assert point.accuracy == pytest.approx(0.75)
    assert point.tokens == pytest.approx((10 + 100 + 10 + 20) / 4)


def test_fixed_baselines_cover_every_profile() -> None:
    points = fixed_baselines(_table(), {}, reference=1)
    assert set(points) == {"fixed:cheap", "fixed:dear"}
    assert points["fixed:cheap"].accuracy == pytest.approx(0.5)


def test_random_at_cost_interpolates_linearly() -> None:
    t = _table()
    lo, hi = t.tokens[:, 0].mean(), t.tokens[:, 1].mean()
    point = random_at_cost(t, {}, 1, (lo + hi) / 2)
    assert point.tokens == pytest.approx((lo + hi) / 2)
    assert point.accuracy == pytest.approx(0.5)  # both profiles are at 0.5


def test_length_heuristic_sends_long_prompts_up_within_budget() -> None:
    t = _table()
    budget = t.tokens[:, 0].mean() + 90 / 4  # room for one item to go up
    point = length_heuristic_at_cost(t, {}, 1, budget)
    assert point.tokens <= budget + 1e-9
    assert point.shares["dear"] == pytest.approx(0.25)
    assert point.accuracy == pytest.approx(0.75)  # the longest prompt (b) is the one dear fixes
