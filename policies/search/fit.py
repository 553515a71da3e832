"""Fitting the stopping rule's prior and confidence weights from recorded searches (pure).

Both fits are label-free: they need each problem's answers, not its gold answer. The prior is
fitted by maximum marginal likelihood of each problem's two leading answer counts; the
confidence curve by a logistic regression of "this sample agrees with the problem's majority"
on the sample's confidence feature.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaincc, betaln, logit

from policies.search.stopping import Confidence, ModeSharePrior

__all__ = ["top_two", "fit_prior", "fit_confidence"]


def top_two(keys: Sequence[int]) -> tuple[int, int]:
    """Votes of the two most frequent answers among vote keys (-1: no answer)."""
    valid = np.asarray([k for k in keys if k >= 0], dtype=np.int64)
    if not valid.size:
        return 0, 0
    counts = np.sort(np.bincount(valid))[::-1]
    return int(counts[0]), int(counts[1]) if counts.size > 1 else 0


def _log_w(a: np.ndarray, b: np.ndarray, alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    tail = np.maximum(betaincc(alpha + a, beta + b, 0.5), 1e-300)
    return np.asarray(betaln(alpha + a, beta + b) + np.log(tail))


def fit_prior(
    counts: np.ndarray, p_correct: np.ndarray | None = None, center: float | None = None
) -> ModeSharePrior:
    """Empirical-Bayes Beta prior on the majority's share of the top two answers.

    `counts` is (problems, 2): each problem's two leading answer counts. With `p_correct`
    (the difficulty model's forecast per problem), log(beta) also moves with its logit.
    """
    c1 = np.asarray(counts[:, 0], dtype=float)
    c2 = np.asarray(counts[:, 1], dtype=float)
    use_difficulty = p_correct is not None
    z = logit(np.clip(np.asarray(p_correct), 1e-6, 1 - 1e-6)) if p_correct is not None else 0 * c1
    mid = float(np.mean(z)) if center is None else center
    z = z - mid

    def nll(theta: np.ndarray) -> float:
        alpha = np.exp(theta[0]) + 0 * z
        beta = np.exp(theta[1] + (theta[2] * z if use_difficulty else 0.0))
        # Which of the two observed answers is the majority is unknown: sum both.
        like = np.logaddexp(_log_w(c1, c2, alpha, beta), _log_w(c2, c1, alpha, beta))
        return float(-(like - _log_w(0 * c1, 0 * c1, alpha, beta)).sum())

    # On [1/2, 1] the s^(alpha - 1) factor varies by at most 2^|alpha - 1|, so alpha is weakly
    # identified: bounds keep it (and beta) from drifting to a degenerate edge.
    bounds = [(-3.0, 3.0), (-10.0, 5.0), (-5.0, 5.0)][: 3 if use_difficulty else 2]
    start = np.zeros(len(bounds))
    fit = minimize(
        nll, start, method="Nelder-Mead", bounds=bounds, options={"xatol": 1e-5, "fatol": 1e-5}
    )
    theta = fit.x
    if not use_difficulty:
        return ModeSharePrior(
            alpha=float(f"{np.exp(theta[0]):.5g}"), log_beta=float(f"{theta[1]:.5g}")
        )
    # The slope holds only where forecasts were seen: the middle 95% of them.
    low, high = np.quantile(z + mid, [0.025, 0.975])
    return ModeSharePrior(
        alpha=float(f"{np.exp(theta[0]):.5g}"),
        log_beta=float(f"{theta[1]:.5g}"),
        difficulty_slope=float(f"{theta[2]:.5g}"),
        difficulty_center=float(f"{mid:.5g}"),
        difficulty_low=float(f"{low:.5g}"),
        difficulty_high=float(f"{high:.5g}"),
    )


def fit_confidence(x: np.ndarray, agrees: np.ndarray, max_weight: float = 3.0) -> Confidence:
    """Logistic curve (quadratic in x) of a sample agreeing with its problem's majority."""
    from sklearn.linear_model import LogisticRegression  # the train extra: fits are offline

    x = np.asarray(x, dtype=float)
    y = np.asarray(agrees, dtype=bool)
    model = LogisticRegression(C=1.0).fit(np.column_stack([x, x * x]), y)
    share = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    return Confidence(
        intercept=round(float(model.intercept_[0]), 4),
        slope=round(float(model.coef_[0][0]), 4),
        curve=round(float(model.coef_[0][1]), 4),
        base_logit=round(float(np.log(share / (1 - share))), 4),
        max_weight=max_weight,
    )
