"""Calibrate a policy's knob (lambda or epsilon) on training items to meet an operator target.

Targets: "lose at most X of accuracy against the reference profile" or "spend at most N
tokens per request". The loss measured on training items is noisy, so the knob must meet the
target at an upper confidence bound (`z` standard errors), which is what makes the target
hold on held-out items most of the time rather than half of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from difficulty.errors import InvalidInputError
from policies.policy import PolicyConfig, choose

__all__ = ["Target", "CONFIDENCE_Z", "knob_grid", "calibrate", "with_knob"]

# One-sided ~84%: the held-out loss then exceeds the target in roughly one split in six.
CONFIDENCE_Z = 1.0


@dataclass(frozen=True)
class Target:
    """An operator target: at most `accuracy_loss` (0.01 = one point) or `tokens` per request."""

    accuracy_loss: float | None = None
    tokens: float | None = None

    def __post_init__(self) -> None:
        if (self.accuracy_loss is None) == (self.tokens is None):
            raise InvalidInputError("state exactly one target: accuracy loss or tokens")
        if self.accuracy_loss is not None and not 0.0 <= self.accuracy_loss < 1.0:
            raise InvalidInputError("the accuracy-loss target is a fraction in [0, 1)")
        if self.tokens is not None and self.tokens <= 0:
            raise InvalidInputError("the token target must be positive")

    def describe(self) -> str:
        """The target in words, for reports."""
        if self.accuracy_loss is not None:
            return f"accuracy loss <= {100 * self.accuracy_loss:.2f} points"
        return f"mean tokens <= {self.tokens:.0f}"


def knob_grid(kind: str, cost: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Knob values from most accurate to cheapest: lambda scaled to the costs, or epsilon."""
    if kind == "target":
        return np.linspace(0.0, 1.0, 201)
    c = np.asarray(cost, dtype=float)
    scale = float(np.nanmean(c)) if c.size and np.nanmean(c) > 0 else 1.0
    return np.concatenate([[0.0], np.logspace(-4, 3, 281) / scale])


def with_knob(policy: PolicyConfig, knob: float) -> PolicyConfig:
    """The policy with its knob (lambda for utility, epsilon for target) set."""
    if policy.kind == "utility":
        return replace(policy, lam=float(knob))
    if policy.kind == "target":
        return replace(policy, epsilon=float(knob))
    raise InvalidInputError("only utility and target policies have a knob to calibrate")


def calibrate(
    policy: PolicyConfig,
    target: Target,
    p_correct: npt.ArrayLike,
    cost: npt.ArrayLike,
    correct: npt.ArrayLike,
    tokens: npt.ArrayLike,
    profiles: Sequence[str],
    reference: int,
    *,
    z: float = CONFIDENCE_Z,
) -> PolicyConfig:
    """The cheapest knob whose training loss (or tokens) meets the target at a UCB of `z` SEs.

    `p_correct`/`cost` are the model's (out-of-fold) forecasts for the training items,
    `correct`/`tokens` what actually happened; `reference` is the reference profile's column.
    When no knob meets the target, the most accurate setting (knob 0) is returned.
    """
    p = np.asarray(p_correct, dtype=float)
    c = np.asarray(cost, dtype=float)
    y = np.asarray(correct, dtype=float)
    t = np.asarray(tokens, dtype=float)
    n = p.shape[0]
    if n < 2:
        raise InvalidInputError("calibration needs at least two items")
    rows = np.arange(n)
    best = 0.0
    best_tokens = np.inf
    for knob in knob_grid(policy.kind, c):
        idx = choose(with_knob(policy, knob), p, c, profiles)
        spent = t[rows, idx]
        if target.accuracy_loss is not None:
            d = y[:, reference] - y[rows, idx]
            ucb = d.mean() + z * d.std(ddof=1) / np.sqrt(n)
            ok = ucb <= target.accuracy_loss + 1e-12
            if ok and spent.mean() < best_tokens - 1e-9:
                best, best_tokens = float(knob), float(spent.mean())
        else:
            assert target.tokens is not None
            ucb = spent.mean() + z * spent.std(ddof=1) / np.sqrt(n)
            if ucb <= target.tokens:
                return with_knob(policy, float(knob))  # grid runs from most accurate
    if target.tokens is not None:
        return with_knob(policy, float(knob_grid(policy.kind, c)[-1]))
    return with_knob(policy, best)
