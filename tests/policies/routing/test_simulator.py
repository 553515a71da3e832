from __future__ import annotations

import numpy as np
import pytest

from difficulty.errors import InvalidInputError
from policies.routing.calibration import Target
from policies.routing.policy import PolicyConfig
from policies.routing.simulator import (
    RoutingTable,
    best_within_loss,
    evaluate,
    frontier,
    operating_point,
)


def synthetic(n: int = 600, seed: int = 0) -> RoutingTable:
    """Two profiles: `cheap` (100 tokens) fails on hard items, `dear` (1000 tokens) rarely."""
    rng = np.random.default_rng(seed)
    hard = rng.uniform(size=n)
    p_cheap = np.clip(1.0 - hard, 0.02, 0.98)
    p_dear = np.full(n, 0.95)
    correct = np.stack([rng.uniform(size=n) < p_cheap, rng.uniform(size=n) < p_dear], axis=1)
    tokens = np.stack([np.full(n, 100.0), 800.0 + 400.0 * hard], axis=1)
    noisy = np.clip(p_cheap + rng.normal(0, 0.05, n), 0, 1)
    return RoutingTable(
        item_ids=[f"i{i}" for i in range(n)],
        prompts=["x" * int(10 + 100 * h) for h in hard],
        profiles=["cheap", "dear"],
        p_correct=np.stack([noisy, p_dear], axis=1),
        tokens_pred=np.stack([np.full(n, 100.0), np.full(n, np.nan)], axis=1),
        correct=correct.astype(float),
        tokens=tokens,
        fold=np.arange(n) % 5,
    ).complete()


def test_complete_fills_missing_token_forecasts_from_training_folds() -> None:
    table = synthetic()
    assert not np.isnan(table.tokens_pred).any()
    assert table.tokens_pred[0, 1] == pytest.approx(table.tokens[table.fold != 0, 1].mean())


def test_complete_drops_items_without_every_outcome() -> None:
    table = synthetic(50)
    correct = table.correct.copy()
    correct[3, 1] = np.nan
    holed = RoutingTable(
        table.item_ids,
        table.prompts,
        table.profiles,
        table.p_correct,
        table.tokens_pred,
        correct,
        table.tokens,
        table.fold,
    )
    assert len(holed.complete()) == 49


def test_evaluate_fixed_choice_matches_the_profile() -> None:
    table = synthetic()
    point = evaluate(table, np.ones(len(table), dtype=int), {}, reference=1)
    assert point.accuracy == pytest.approx(table.correct[:, 1].mean())
    assert point.tokens_saved == pytest.approx(0.0)
    assert point.accuracy_loss == pytest.approx(0.0)
    assert point.shares == {"cheap": 0.0, "dear": 1.0}


def test_frontier_spans_from_cheap_to_accurate_and_beats_random() -> None:
    table = synthetic()
    points = frontier(table, {}, PolicyConfig("utility"), reference=1)
    assert points[0].shares["cheap"] == pytest.approx(1.0)
    assert max(p.accuracy for p in points) >= table.correct[:, 1].mean() - 1e-9
    # Informative forecasts: the mid frontier is above the straight line random routing draws.
    mid = min(points, key=lambda p: abs(p.shares["cheap"] - 0.5))
    line = 0.5 * table.correct[:, 0].mean() + 0.5 * table.correct[:, 1].mean()
    assert mid.accuracy > line + 0.05


def test_operating_point_meets_the_accuracy_target_and_saves() -> None:
    table = synthetic(2000)
    point, choice, knobs = operating_point(
        table, {}, PolicyConfig("utility"), Target(accuracy_loss=0.02), reference=1
    )
    assert len(knobs) == 5 and choice.shape == (2000,)
    assert point.accuracy_loss <= 0.03
    assert point.tokens_saved > 0.1


def test_operating_point_meets_a_token_target() -> None:
    table = synthetic(1000)
    point, _, _ = operating_point(
        table, {}, PolicyConfig("target"), Target(tokens=500.0), reference=1
    )
    assert point.tokens <= 520.0


def test_best_within_loss() -> None:
    table = synthetic()
    points = frontier(table, {}, PolicyConfig("utility"), reference=1)
    best = best_within_loss(points, 0.01)
    assert best is not None and best.accuracy_loss <= 0.01 + 1e-9
    assert all(p.tokens >= best.tokens for p in points if p.accuracy_loss <= 0.01)


def test_unknown_profile_raises() -> None:
    with pytest.raises(InvalidInputError):
        synthetic(20).column("nope")


def _without_tokens(table: RoutingTable) -> RoutingTable:
    nan = np.full_like(table.tokens, np.nan)
    return RoutingTable(
        table.item_ids,
        table.prompts,
        table.profiles,
        table.p_correct,
        nan.copy(),
        table.correct,
        nan,
        table.fold,
    )


def test_a_table_without_token_counts_is_measured_per_call() -> None:
    table = _without_tokens(synthetic(200)).complete()
    assert not table.tokens_recorded and len(table) == 200
    # cheap is the weaker profile: a call to it costs 0, one to dear costs 1
    assert (table.tokens[:, 0] == 0.0).all() and (table.tokens[:, 1] == 1.0).all()
    half = np.arange(200) % 2
    point = evaluate(table, half, {}, reference=1)
    assert point.tokens == pytest.approx(0.5) and point.tokens_saved == pytest.approx(0.5)


def test_per_call_ranks_three_profiles_by_accuracy() -> None:
    table = _without_tokens(synthetic(90))
    correct = np.stack([table.correct[:, 0], table.correct[:, 1], np.zeros(90)], axis=1)
    three = RoutingTable(
        table.item_ids,
        table.prompts,
        ["cheap", "dear", "never"],
        np.hstack([table.p_correct, np.zeros((90, 1))]),
        np.full((90, 3), np.nan),
        correct,
        np.full((90, 3), np.nan),
        table.fold,
    ).complete()
    assert three.tokens[0].tolist() == [0.5, 1.0, 0.0]
