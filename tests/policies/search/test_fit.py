from __future__ import annotations

import numpy as np

from policies.search.fit import fit_confidence, fit_prior, top_two
from policies.search.stopping import stop_posterior


def test_top_two_counts_ignore_unanswered_samples() -> None:
    assert top_two([0, 0, 1, -1, -1, -1, 2, 0]) == (3, 1)
    assert top_two([4, 4]) == (2, 0)
    assert top_two([-1]) == (0, 0)


def _population(rng: np.random.Generator, unanimous: float, n: int = 400) -> np.ndarray:
    """Top-two counts of 80 samples: a share of problems always agree, the rest split."""
    rows = []
    for _ in range(n):
        p = 1.0 if rng.random() < unanimous else rng.uniform(0.5, 0.8)
        k = int(rng.binomial(80, p))
        rows.append(sorted((k, 80 - k), reverse=True))
    return np.asarray(rows)


def test_a_population_that_mostly_agrees_gets_a_prior_that_stops_sooner() -> None:
    rng = np.random.default_rng(0)
    easy = fit_prior(_population(rng, unanimous=0.9))
    hard = fit_prior(_population(rng, unanimous=0.3))
    assert stop_posterior([2.0], easy) > 0.99 > stop_posterior([2.0], hard)


def test_the_difficulty_slope_is_fitted_from_forecasts_that_carry_signal() -> None:
    rng = np.random.default_rng(1)
    counts = np.vstack([_population(rng, 0.95, 300), _population(rng, 0.2, 300)])
    forecast = np.r_[np.full(300, 0.95), np.full(300, 0.6)]
    prior = fit_prior(counts, forecast)
    assert prior.difficulty_slope < 0  # confident forecasts -> smaller beta -> nearer unanimity
    assert stop_posterior([2.0], prior, 0.95) > stop_posterior([2.0], prior, 0.6)


def test_confidence_weights_follow_how_often_samples_agree() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=5000)
    agrees = rng.random(5000) < 1 / (1 + np.exp(-(3.0 - 2.0 * x)))
    c = fit_confidence(x, agrees)
    assert c.slope < 0
    assert c.weight(-1.0) > 1.0 > c.weight(1.0)
    assert abs(c.intercept - 3.0) < 0.3
