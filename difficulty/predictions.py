"""What the difficulty model returns: per-profile success probability and expected tokens."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ProfilePrediction", "Predictions"]


@dataclass(frozen=True)
class ProfilePrediction:
    """One profile's forecast for one prompt: P(correct) and expected completion tokens."""

    p_correct: float
    tokens: float | None


@dataclass(frozen=True, eq=False)
class Predictions:
    """Forecasts for n prompts: `p_correct[n, p]`, `tokens[n, p]` (nan: no token model)."""

    profiles: tuple[str, ...]
    p_correct: np.ndarray
    tokens: np.ndarray

    def __len__(self) -> int:
        return int(self.p_correct.shape[0])

    def row(self, i: int) -> dict[str, ProfilePrediction]:
        """The forecasts of prompt `i`, keyed by profile name."""
        out: dict[str, ProfilePrediction] = {}
        for j, name in enumerate(self.profiles):
            tok = float(self.tokens[i, j])
            out[name] = ProfilePrediction(
                p_correct=float(self.p_correct[i, j]),
                tokens=None if math.isnan(tok) else tok,
            )
        return out
