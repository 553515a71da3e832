"""The learned exit rule: how likely the current candidate is the answer the full trace ends on.

A logistic regression over `router.exit_features` features, fitted on the tuning half of the
recorded traces by `bench/fit_exit_rule.py`; its weights ship as `router/exit_weights.py`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from router.exit_features import FEATURE_NAMES

__all__ = ["ExitRule", "default_rule"]


@dataclass(frozen=True)
class ExitRule:
    """Standardise the features, weigh them, squash: P(candidate is the final answer)."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float

    def __post_init__(self) -> None:
        if self.names != FEATURE_NAMES:
            raise ValueError("exit rule weights do not match the feature set; refit them")
        if not len(self.mean) == len(self.scale) == len(self.weights) == len(self.names):
            raise ValueError("exit rule vectors differ in length")

    @classmethod
    def never(cls) -> ExitRule:
        """A rule that never exits (for recording checkpoints while fitting a new rule)."""
        n = len(FEATURE_NAMES)
        return cls(FEATURE_NAMES, (0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0, 1.0)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExitRule:
        """The rule from its JSON-ready form (see `to_dict`); fitting notes are ignored."""
        return cls(
            names=tuple(data["names"]),
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
            weights=tuple(float(v) for v in data["weights"]),
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The rule as plain lists and numbers."""
        return {
            "names": list(self.names),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "bias": self.bias,
            "threshold": self.threshold,
        }

    def probability(self, features: Sequence[float]) -> float:
        """P(the candidate these features describe is the answer the full trace gives)."""
        z = self.bias
        for x, m, s, w in zip(features, self.mean, self.scale, self.weights, strict=True):
            z += w * (x - m) / s
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@cache
def default_rule() -> ExitRule:
    """The shipped rule, loaded once on first use."""
    from router.exit_weights import WEIGHTS

    return ExitRule.from_dict(WEIGHTS)
