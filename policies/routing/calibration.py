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
from policies.routing.policy import PolicyConfig, choose, recalibrated

__all__ = [
    "Target",
    "CONFIDENCE_Z",
    "MIN_SKILL_Z",
    "knob_grid",
    "calibrate",
    "with_knob",
    "fit_recalibration",
    "random_margin",
    "base_rates",
]

# One standard error (one-sided ~84%): over 20 random splits of routellm-gsm8k and mip the
# held-out target then held in 85-100% of them; z = 0 held in 15-45%, z = 0.5 in 75-100%.
CONFIDENCE_Z = 1.0

# A profile's forecast counts as skilled when its recalibration slope is this many standard
# errors above zero (one-sided ~97.5%); below, the policy sees the base rate. On mip, QwQ-32B
# (right 97% of the time) has held-out AUC ~0.5 and its forecast's noise only reorders items.
MIN_SKILL_Z = 2.0


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


def knob_grid(
    kind: str, cost: npt.ArrayLike, p_correct: npt.ArrayLike | None = None
) -> npt.NDArray[np.float64]:
    """Knob values from most accurate to cheapest: lambda scaled to the costs, or epsilon.

    With `p_correct` (as the policy sees it, recalibrated) the grid also holds the knob values
    at which some item's choice changes: a fixed grid steps over most of them when forecasts
    differ by a few hundredths, which hides frontier points and the cheapest calibrated knob.
    """
    c = np.asarray(cost, dtype=float)
    if kind == "target":
        grid = np.linspace(0.0, 1.0, 201)
    else:
        scale = float(np.nanmean(c)) if c.size and np.nanmean(c) > 0 else 1.0
        grid = np.concatenate([[0.0], np.logspace(-4, 3, 281) / scale])
    if p_correct is None:
        return grid
    breaks = _breakpoints(kind, np.atleast_2d(np.asarray(p_correct, dtype=float)), np.atleast_2d(c))
    if breaks.size > MAX_BREAKPOINTS:
        breaks = np.quantile(breaks, np.linspace(0.0, 1.0, MAX_BREAKPOINTS))
    return np.unique(np.concatenate([grid, breaks]))


# Enough to resolve every item's switch on a few thousand items, few enough to keep a
# calibration (grid x items) well under a second.
MAX_BREAKPOINTS = 2000


def _breakpoints(
    kind: str, p: npt.NDArray[np.float64], c: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The knob values at which an item's chosen profile can change."""
    if p.shape != c.shape:
        raise InvalidInputError("predictions and costs disagree in shape")
    if kind == "target":
        gaps = (p.max(axis=1, keepdims=True) - p).ravel()
        out = gaps[np.isfinite(gaps) & (gaps > 0)]
    else:
        # Profiles j (likelier) and b (cheaper) swap where p_j - lam c_j = p_b - lam c_b.
        dp = p[:, :, None] - p[:, None, :]
        dc = c[:, :, None] - c[:, None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where((dp > 0) & (dc > 0), dp / dc, np.nan).ravel()
        out = lam[np.isfinite(lam)]
    return np.unique(np.clip(out, 0.0, None))


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
    spend: npt.ArrayLike | None = None,
    beat_random: bool = True,
) -> PolicyConfig:
    """The cheapest knob whose training loss (or tokens) meets the target at a UCB of `z` SEs.

    With `beat_random` (accuracy targets), the knob must also beat random routing at its own
    token spend by `MIN_SKILL_Z` standard errors on the training items (`random_margin`), the
    bar a forecast's recalibration slope must clear: the knob and the recalibration are both
    chosen on these items, so a smaller margin is mostly luck the held-out folds do not repeat
    (mip, seed 0: at one SE the calibrated point fell 0.1 point below random).

    `p_correct`/`cost` are the model's (out-of-fold) forecasts for the training items,
    `correct`/`tokens` what actually happened; `reference` is the reference profile's column.
    "Cheapest" is by actual `spend` per item and profile (default: `tokens`; pass money to
    minimise money). When no knob meets the target (and beats random, with `beat_random`),
    every item goes alike on base rates (`base_rates`: the reference when it is the most
    accurate profile); without `beat_random`, the most accurate knob is returned.
    """
    p = np.asarray(p_correct, dtype=float)
    c = np.asarray(cost, dtype=float)
    y = np.asarray(correct, dtype=float)
    t = np.asarray(tokens, dtype=float)
    money = t if spend is None else np.asarray(spend, dtype=float)
    n = p.shape[0]
    if n < 2:
        raise InvalidInputError("calibration needs at least two items")
    rows = np.arange(n)
    best: float | None = None
    best_tokens = np.inf
    grid = knob_grid(policy.kind, c, recalibrated(policy, p, profiles))
    for knob in grid:
        idx = choose(with_knob(policy, knob), p, c, profiles)
        spent = t[rows, idx]
        if target.accuracy_loss is not None:
            d = y[:, reference] - y[rows, idx]
            ucb = d.mean() + z * d.std(ddof=1) / np.sqrt(n)
            paid = float(money[rows, idx].mean())
            meets = ucb <= target.accuracy_loss + 1e-12 and paid < best_tokens - 1e-12
            if meets and (not beat_random or random_margin(y, t, idx, reference, MIN_SKILL_Z) > 0):
                best, best_tokens = float(knob), paid
        else:
            assert target.tokens is not None
            ucb = spent.mean() + z * spent.std(ddof=1) / np.sqrt(n)
            if ucb <= target.tokens:
                return with_knob(policy, float(knob))  # grid runs from most accurate
    if target.tokens is not None:
        return with_knob(policy, float(grid[-1]))
    if best is None and beat_random:
        # No knob both meets the target and beats random: every item alike, on base rates
        # (the reference when it is the most accurate profile), a point on the random line.
        return replace(with_knob(policy, 0.0), recalibration=base_rates(y, profiles))
    return with_knob(policy, 0.0 if best is None else best)


def base_rates(
    correct: npt.ArrayLike, profiles: Sequence[str]
) -> tuple[tuple[str, float, float], ...]:
    """A recalibration that replaces every forecast by its profile's base rate (slope 0)."""
    rate = np.clip(np.nanmean(np.asarray(correct, dtype=float), axis=0), 1e-4, 1 - 1e-4)
    return tuple(
        (name, 0.0, float(np.log(r / (1 - r)))) for name, r in zip(profiles, rate, strict=True)
    )


def random_margin(
    correct: npt.ArrayLike,
    tokens: npt.ArrayLike,
    choice: npt.ArrayLike,
    reference: int,
    z: float = CONFIDENCE_Z,
) -> float:
    """Lower confidence bound (`z` SEs) of a choice's accuracy minus random routing's.

    Random routing sends each item to the reference (the dearest profile when the reference
    is the cheapest) or else to the cheapest profile by mean tokens, with the probability that
    spends what the choice spends; per item, its expected correctness is the mix of the two.
    """
    y = np.asarray(correct, dtype=float)
    t = np.asarray(tokens, dtype=float)
    idx = np.asarray(choice, dtype=np.intp)
    rows = np.arange(y.shape[0])
    mean_tokens = t.mean(axis=0)
    cheap = int(np.argmin(mean_tokens))
    dear = reference if reference != cheap else int(np.argmax(mean_tokens))
    spread = mean_tokens[dear] - mean_tokens[cheap]
    spent = float(t[rows, idx].mean())
    q = 0.0 if spread == 0 else float(np.clip((spent - mean_tokens[cheap]) / spread, 0.0, 1.0))
    d = y[rows, idx] - ((1.0 - q) * y[:, cheap] + q * y[:, dear])
    if d.size < 2:
        return float(d.mean()) if d.size else 0.0
    return float(d.mean() - z * d.std(ddof=1) / np.sqrt(d.size))


def fit_recalibration(
    p_correct: npt.ArrayLike,
    correct: npt.ArrayLike,
    profiles: Sequence[str],
    *,
    strength: float = 1.0,
    min_skill_z: float = MIN_SKILL_Z,
) -> tuple[tuple[str, float, float], ...]:
    """Per profile, a regularised logistic fit of the outcome on logit(P(correct)).

    Fitted on held-out forecasts it measures how much the difficulty model really knows about
    each profile: a profile whose forecasts carry no signal gets a slope near 0 (every item
    then looks the same), so noise in one profile's forecast cannot drive the routing.
    `strength` is the inverse L2 penalty on the slope (scikit-learn's C). A slope less than
    `min_skill_z` standard errors above 0 counts as no skill: the profile gets its base rate.
    """
    p = np.clip(np.asarray(p_correct, dtype=float), 1e-6, 1 - 1e-6)
    y = np.asarray(correct, dtype=float)
    out: list[tuple[str, float, float]] = []
    for j, name in enumerate(profiles):
        ok = ~(np.isnan(p[:, j]) | np.isnan(y[:, j]))
        labels = y[ok, j] > 0.5
        if ok.sum() < 10 or labels.all() or not labels.any():
            continue  # nothing to learn from: keep the model's own forecast
        x = np.log(p[ok, j] / (1 - p[ok, j]))
        slope, intercept = _logistic_fit(x, labels.astype(float), strength)
        if slope <= 0 or _slope_z(x, slope, intercept) < min_skill_z:
            # No evidence that the forecast ranks held-out outcomes (as `difficulty.profile_model`
            # rules): the base rate alone. Its noise would only reorder the other profiles'
            # choices, and a forecast is never turned upside down.
            rate = float(labels.mean())
            slope, intercept = 0.0, float(np.log(rate / (1 - rate)))
        out.append((name, slope, intercept))
    return tuple(out)


def _slope_z(x: npt.NDArray[np.float64], a: float, b: float) -> float:
    """The slope over its standard error (inverse Fisher information of the logistic fit)."""
    if a <= 0:
        return 0.0
    q = 1.0 / (1.0 + np.exp(-np.clip(a * x + b, -50, 50)))
    w = q * (1 - q)
    info = np.array([[np.dot(w, x * x), np.dot(w, x)], [np.dot(w, x), w.sum()]])
    det = float(np.linalg.det(info))
    if det <= 1e-12 * max(float(info[0, 0] * info[1, 1]), 1e-300):
        return 0.0  # a forecast that does not vary cannot rank anything
    return a / float(np.sqrt(info[1, 1] / det))


def _logistic_fit(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], c: float
) -> tuple[float, float]:
    """Newton's method for y ~ sigmoid(a x + b) with an L2 penalty a^2 / (2c) (as sklearn's C)."""
    a, b = 0.0, float(np.log(y.mean() / (1 - y.mean())))
    for _ in range(50):
        q = 1.0 / (1.0 + np.exp(-np.clip(a * x + b, -50, 50)))
        w = q * (1 - q)
        grad = np.array([np.dot(q - y, x) + a / c, np.sum(q - y)])
        hess = np.array([[np.dot(w, x * x) + 1 / c, np.dot(w, x)], [np.dot(w, x), w.sum()]])
        step = np.linalg.solve(hess + 1e-9 * np.eye(2), grad)
        a, b = a - float(step[0]), b - float(step[1])
        if np.abs(step).max() < 1e-10:
            break
    return a, b
