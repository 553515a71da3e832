"""What cot or thinking adds to a direct answer's logit: a penalised logistic model with the
base logit as offset, on a few inputs (the base logit itself, strength, the prompt's shape).

Linear on purpose: paired data (the same item answered directly and with effort) exist for
math, code and commonsense tasks only, and trees extrapolate arbitrarily to everything else;
a linear gain in the base logit extrapolates the one regularity the data show everywhere:
the harder a prompt is for a direct answer, the more effort adds (headroom).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from difficulty.features import FEATURE_NAMES

__all__ = ["GAIN_INPUTS", "LinearGain", "gain_inputs"]

# Text features the gain reads, beside the base logit and the strength level.
GAIN_INPUTS: tuple[str, ...] = ()
_COLUMNS = [FEATURE_NAMES.index(name) for name in GAIN_INPUTS]


def gain_inputs(
    text_features: np.ndarray,
    strength: np.ndarray,
    base: np.ndarray,
    benefit: np.ndarray | None = None,
) -> np.ndarray:
    """(n, 2 + len(GAIN_INPUTS)): base logit, strength, the reasoning benefit when given
    (difficulty.general_benefit), then the shape features (counts log1p)."""
    shape = text_features[:, _COLUMNS].astype(np.float64)
    shape = np.log1p(np.maximum(shape, 0.0))
    extra = [] if benefit is None else [benefit]
    return np.column_stack([base, strength, *extra, shape])


class LinearGain:
    """gain(z) = w . (z - mean) / scale + b, fitted by penalised logistic loss with an offset."""

    def __init__(self, weights: np.ndarray, bias: float, mean: np.ndarray, scale: np.ndarray):
        self.weights, self.bias, self.mean, self.scale = weights, float(bias), mean, scale

    @classmethod
    def fit(
        cls,
        z: np.ndarray,
        y: np.ndarray,
        offset: np.ndarray,
        weight: np.ndarray,
        penalty: float = 1.0,
    ) -> LinearGain:
        """Minimise weighted log loss of sigmoid(offset + gain(z)) + penalty/2 |w|^2 (per row)."""
        from scipy.optimize import minimize

        if len(y) == 0:  # no item answered both ways: no evidence of a gain, so none
            zero = np.zeros(z.shape[1])
            return cls(zero, 0.0, zero, np.ones(z.shape[1]))
        mean, scale = z.mean(axis=0), z.std(axis=0) + 1e-9
        zs = (z - mean) / scale
        w = weight / weight.sum()

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            eta = offset + zs @ theta[:-1] + theta[-1]
            p = 1.0 / (1.0 + np.exp(-eta))
            ll = np.sum(w * (np.logaddexp(0.0, eta) - y * eta))
            grad_eta = w * (p - y)
            reg = penalty * 1e-3
            grad = np.append(zs.T @ grad_eta + reg * theta[:-1], grad_eta.sum())
            return float(ll + 0.5 * reg * theta[:-1] @ theta[:-1]), grad

        theta0 = np.zeros(z.shape[1] + 1)
        res = minimize(loss, theta0, jac=True, method="L-BFGS-B")
        return cls(res.x[:-1], res.x[-1], mean, scale)

    def with_input(self, column: int, weight: float) -> LinearGain:
        """This gain with one more input at `column`, of a fixed weight in its own units."""
        return LinearGain(
            np.insert(self.weights, column, weight),
            self.bias,
            np.insert(self.mean, column, 0.0),
            np.insert(self.scale, column, 1.0),
        )

    def predict(self, z: np.ndarray) -> np.ndarray:
        """The gain in logits for each row of `z`."""
        return ((z - self.mean) / self.scale) @ self.weights + self.bias

    def to_json(self) -> dict[str, Any]:
        """Weights in input units' order (GAIN_INPUTS after base, strength and benefit)."""
        benefit = ["benefit"] if len(self.weights) > 2 + len(GAIN_INPUTS) else []
        return {
            "inputs": ["base_logit", "strength", *benefit, *GAIN_INPUTS],
            "weights": self.weights.tolist(),
            "bias": self.bias,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearGain:
        """Read what `to_json` wrote."""
        arr = {k: np.asarray(data[k], dtype=np.float64) for k in ("weights", "mean", "scale")}
        if not math.isfinite(float(data["bias"])):
            raise ValueError("gain bias is not finite")
        return cls(arr["weights"], float(data["bias"]), arr["mean"], arr["scale"])
