"""TieredBase: one booster per strength tier, logits monotone in the tier, saved and read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from difficulty.general_base import TieredBase


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1200, 3))
    strength = np.repeat([0.0, 1.0, 2.0], 400)
    # The weak tier succeeds where x0 > 0; the strong tier nearly always; mid in between.
    logit = np.where(strength == 0, 3 * x[:, 0], np.where(strength == 1, 1 + 3 * x[:, 0], 4.0))
    y = (rng.random(1200) < 1 / (1 + np.exp(-logit))).astype(float)
    return x, strength, y


def _trainer(x: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> Any:
    import lightgbm as lgb

    params = {"objective": "binary", "verbosity": -1, "num_threads": 1, "seed": 0}

    def train(tier: np.ndarray) -> Any:
        m = tier if mask is None else tier & mask
        return lgb.train(params, lgb.Dataset(x[m], y[m]), num_boost_round=30)

    return train


def test_tiers_are_fitted_apart_and_monotone() -> None:
    x, strength, y = _data()
    base = TieredBase.fit(x, strength, _trainer(x, y))
    assert sorted(base.boosters) == [0, 1, 2]
    probe = np.array([[-2.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    tiers = base.tier_logits(probe)
    assert np.all(np.diff(tiers, axis=1) >= 0)  # never less success at a stronger tier
    # A prompt the weak tier fails is still near-certain at the strong tier.
    assert 1 / (1 + np.exp(-tiers[0, 0])) < 0.3 < 0.9 < 1 / (1 + np.exp(-tiers[0, 2]))
    np.testing.assert_allclose(base.predict(probe, np.array([0.0, 2.0])), tiers[[0, 1], [0, 2]])


def test_a_tier_never_seen_takes_the_weaker_tiers_logit(tmp_path: Path) -> None:
    x, strength, y = _data(1)
    base = TieredBase.fit(x, np.where(strength == 1, -1.0, strength), _trainer(x, y))
    assert sorted(base.boosters) == [0, 2]
    tiers = base.tier_logits(x[:5])
    np.testing.assert_allclose(tiers[:, 1], tiers[:, 0])
    base.save(tmp_path)
    again = TieredBase.load(tmp_path)
    np.testing.assert_allclose(again.tier_logits(x[:5]), tiers)


def test_nothing_to_fit_or_read_raises(tmp_path: Path) -> None:
    x, _, y = _data()
    with pytest.raises(ValueError, match="no direct rows"):
        TieredBase.fit(x, np.full(len(x), -1.0), _trainer(x, y))
    with pytest.raises(ValueError, match="no general.base"):
        TieredBase.load(tmp_path)
