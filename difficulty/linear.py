"""A linear head on standardised features: the starting score LightGBM boosts from.

With a few hundred to a few thousand labelled prompts, trees on a 384-dim embedding alone
underfit what a regularised linear model reads off the embedding; boosting from the linear
score lets the trees add only what the linear model misses (early stopping decides how much).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from difficulty.errors import ModelFormatError

__all__ = ["LinearHead", "fit_linear"]


@dataclass(frozen=True, eq=False)
class LinearHead:
    """score(x) = ((x - mean) / scale) @ coef + intercept."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def score(self, x: np.ndarray) -> np.ndarray:
        """The linear score of each row of `x`."""
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (stored in the model's metadata)."""
        return {
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "coef": [float(v) for v in self.coef],
            "intercept": float(self.intercept),
        }

    @classmethod
    def from_json(cls, data: Any, n_features: int) -> LinearHead:
        """Read back what `to_json` wrote; anything else raises ModelFormatError."""
        try:
            parts = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
            intercept = float(data["intercept"])
        except (KeyError, TypeError, ValueError):
            raise ModelFormatError("bad linear head in model metadata") from None
        if any(p.shape != (n_features,) for p in parts) or not np.all(parts[1] > 0):
            raise ModelFormatError("linear head does not match the feature count")
        return cls(parts[0], parts[1], parts[2], intercept)


def _standardise(
    x: np.ndarray, embedding_dim: int, every_column: bool
) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    if not every_column:
        # Embedding columns keep their natural (unit-norm) scale, only centred: under a mild
        # penalty, standardising 384 weak directions amplifies noise; text features get unit
        # variance. (Under a strong penalty every column at unit variance does better.)
        scale[:embedding_dim] = 1.0
    return mean, scale


def fit_linear(
    x: np.ndarray,
    y: np.ndarray,
    kind: str,
    strength: float,
    embedding_dim: int,
    *,
    standardise_embedding: bool = False,
) -> LinearHead:
    """Fit an L2-regularised head: `kind` "logistic" (labels in [0, 1]) or "ridge".

    With `standardise_embedding` the embedding columns also get unit variance.
    """
    mean, scale = _standardise(x, embedding_dim, standardise_embedding)
    z = (x - mean) / scale
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=strength, max_iter=3000)
        if np.all((y == 0) | (y == 1)):
            lr.fit(z, y.astype(int))
        else:
            # Fractional labels (repeated runs of one item) enter as weighted 0/1 copies.
            zz = np.vstack([z, z])
            yy = np.concatenate([np.ones(len(y)), np.zeros(len(y))])
            ww = np.concatenate([y, 1.0 - y])
            keep = ww > 0
            lr.fit(zz[keep], yy[keep], sample_weight=ww[keep])
        return LinearHead(mean, scale, lr.coef_[0].astype(np.float64), float(lr.intercept_[0]))
    if kind == "ridge":
        from sklearn.linear_model import Ridge

        rr = Ridge(alpha=strength).fit(z, y)
        return LinearHead(mean, scale, np.asarray(rr.coef_, dtype=np.float64), float(rr.intercept_))
    raise ValueError(f"unknown linear head kind {kind!r}")
