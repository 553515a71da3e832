"""The base of the general model: logit P(good) of a direct answer, one booster per strength tier.

One booster per tier, not one booster with strength as a feature: with strength as one column
among 400, the trees that leave it out (column sampling) and the source balancing smooth the
tiers into each other, and a strong model's near-certain success on everyday instructions
(AlpacaEval's strong tier: 100% good enough) was forecast at 88%. Success still rises with
strength: the tiers' logits are made monotone by a running maximum from weak to strong.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from difficulty.descriptions import STRENGTHS

__all__ = ["TieredBase"]


class TieredBase:
    """`boosters[level]` for each strength level (0 weak .. 2 strong) seen in training."""

    def __init__(self, boosters: dict[int, Any]) -> None:
        self.boosters = boosters

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        strength: np.ndarray,
        train: Callable[[np.ndarray], Any],
    ) -> TieredBase:
        """`train(mask)` fits one booster on the rows in `mask`; one call per tier present."""
        boosters = {}
        for level in range(len(STRENGTHS)):
            mask = strength == level
            if mask.any():
                boosters[level] = train(mask)
        if not boosters:
            raise ValueError("no direct rows to fit the base on")
        return cls(boosters)

    def tier_logits(self, features: np.ndarray) -> np.ndarray:
        """(n, 3) logits per tier, monotone in the tier; a tier never trained on takes the
        nearest weaker trained tier's logit (or the weakest trained one's)."""
        n = features.shape[0]
        out = np.full((n, len(STRENGTHS)), -np.inf)
        for level, booster in self.boosters.items():
            # One thread: serving predicts one row, and OpenMP threads spinning on a busy
            # 2-core machine took 8 ms a booster instead of 0.05 ms.
            out[:, level] = booster.predict(features, raw_score=True, num_threads=1)
        first = min(self.boosters)
        out[:, :first] = out[:, [first]]
        return np.maximum.accumulate(out, axis=1)

    def predict(self, features: np.ndarray, strength: np.ndarray) -> np.ndarray:
        """Logit of each row of `features` at its row's strength level."""
        levels = np.clip(np.rint(strength).astype(np.int64), 0, len(STRENGTHS) - 1)
        return self.tier_logits(features)[np.arange(len(levels)), levels]

    def save(self, directory: Path) -> None:
        """One LightGBM text model per tier: general.base.<level>.txt."""
        for level, booster in self.boosters.items():
            booster.save_model(str(directory / f"general.base.{level}.txt"))

    @classmethod
    def load(cls, directory: Path) -> TieredBase:
        """Read the tiers `save` wrote (at least one)."""
        import lightgbm as lgb

        boosters = {}
        for level in range(len(STRENGTHS)):
            path = directory / f"general.base.{level}.txt"
            if path.is_file():
                boosters[level] = lgb.Booster(model_file=str(path))
        if not boosters:
            raise ValueError(f"no general.base.<tier>.txt in {directory}")
        return cls(boosters)
