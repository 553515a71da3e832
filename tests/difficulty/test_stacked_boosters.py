"""Stacked boosters answer, in one call, exactly what each booster answers alone."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np

from difficulty.stacked_boosters import stack_boosters

RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 6))
Y_BINARY = (X[:, 0] + RNG.normal(size=300) > 0).astype(float)
Y_VALUE = X[:, 1] * 2.0 + RNG.normal(size=300)


def _fit(objective: str, y: np.ndarray, seed: int, rounds: int = 20) -> Any:
    params = {"objective": objective, "verbose": -1, "seed": seed, "num_leaves": 7}
    params.update(bagging_fraction=0.7, bagging_freq=1, feature_fraction=0.8)
    return lgb.train(params, lgb.Dataset(X, y), num_boost_round=rounds)


def test_column_k_is_booster_k_raw_score_for_binary_and_regression() -> None:
    for objective, y in (("binary", Y_BINARY), ("regression", Y_VALUE)):
        boosters = [_fit(objective, y, seed) for seed in range(3)]
        stacked = stack_boosters(boosters)
        assert stacked is not None
        together = stacked.predict(X, raw_score=True)
        alone = np.column_stack([b.predict(X, raw_score=True) for b in boosters])
        assert together.shape == (300, 3)
        assert np.ptp(alone, axis=1).max() > 1e-3  # the members differ, so equality is a test
        np.testing.assert_array_equal(together, alone)


def test_what_cannot_be_stacked_is_refused() -> None:
    one = _fit("binary", Y_BINARY, 0)
    assert stack_boosters([one]) is None
    assert stack_boosters([one, _fit("binary", Y_BINARY, 1, rounds=10)]) is None  # 20 vs 10
    params = {"objective": "multiclass", "num_class": 3, "verbose": -1}
    labels = np.digitize(X[:, 0], [-0.5, 0.5]).astype(float)
    multi = lgb.train(params, lgb.Dataset(X, labels), num_boost_round=5)
    assert stack_boosters([multi, multi]) is None
