"""Maps from a booster's raw score to a calibrated probability, fitted on held-out predictions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from difficulty.errors import ModelFormatError

__all__ = ["Calibrator", "fit_calibrator"]

_METHODS = ("sigmoid", "isotonic", "identity")


@dataclass(frozen=True)
class Calibrator:
    """`sigmoid`: 1/(1+exp(-(a*raw+b))) (Platt); `isotonic`: interpolate knots (x, y); `identity`.

    `identity` reads the raw score as a logit, which is what LightGBM's cross-entropy emits.
    """

    method: str
    a: float = 1.0
    b: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw scores."""
        raw = np.asarray(raw, dtype=np.float64)
        if self.method == "isotonic":
            return np.interp(raw, np.asarray(self.x), np.asarray(self.y))
        z = self.a * raw + self.b if self.method == "sigmoid" else raw
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (stored in the model's metadata)."""
        if self.method == "isotonic":
            return {"method": self.method, "x": list(self.x), "y": list(self.y)}
        if self.method == "sigmoid":
            return {"method": self.method, "a": self.a, "b": self.b}
        return {"method": self.method}

    @classmethod
    def from_json(cls, data: Any) -> Calibrator:
        """Read back what `to_json` wrote; anything else raises ModelFormatError."""
        try:
            method = data["method"]
            if method == "isotonic":
                x = tuple(float(v) for v in data["x"])
                y = tuple(float(v) for v in data["y"])
                if len(x) != len(y) or not x:
                    raise ValueError("knots")
                return cls(method, x=x, y=y)
            if method == "sigmoid":
                return cls(method, a=float(data["a"]), b=float(data["b"]))
            if method == "identity":
                return cls(method)
        except (KeyError, TypeError, ValueError):
            pass
        raise ModelFormatError(f"bad calibration map in model metadata: {data!r:.80}")


def fit_calibrator(raw: np.ndarray, y: np.ndarray, method: str) -> Calibrator:
    """Fit `method` on out-of-fold raw scores and (possibly fractional) 0/1 labels."""
    if method not in _METHODS:
        raise ValueError(f"calibration must be one of {_METHODS}, not {method!r}")
    raw = np.asarray(raw, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if method == "identity" or len(np.unique(np.round(y))) < 2:
        return Calibrator("identity")
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)
        return Calibrator(
            "isotonic",
            x=tuple(float(v) for v in iso.X_thresholds_),
            y=tuple(float(v) for v in iso.y_thresholds_),
        )
    from sklearn.linear_model import LogisticRegression

    # Platt scaling on one feature; fractional labels enter as weighted 0/1 copies.
    xs = np.concatenate([raw, raw]).reshape(-1, 1)
    ys = np.concatenate([np.ones_like(y), np.zeros_like(y)])
    ws = np.concatenate([y, 1.0 - y])
    keep = ws > 0
    lr = LogisticRegression(C=1e4).fit(xs[keep], ys[keep], sample_weight=ws[keep])
    return Calibrator("sigmoid", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
