from __future__ import annotations

import pytest
from scipy.special import betainc

from policies.search.stopping import (
    DEFAULT_PRIOR,
    TOKEN_CONFIDENCE,
    UNIFORM_PRIOR,
    Confidence,
    ModeSharePrior,
    pair_posterior,
    sample_weight,
    stop_posterior,
)


@pytest.mark.parametrize(("lead", "other"), [(3, 0), (4, 1), (2, 2), (7, 3)])
def test_the_uniform_prior_is_adaptive_consistencys_beta_rule(lead: int, other: int) -> None:
    # Beta(lead + 1, other + 1): P(leader's share of the two > 1/2).
    expected = 1.0 - betainc(lead + 1, other + 1, 0.5)
    assert pair_posterior(lead, other, 1.0, 1.0) == pytest.approx(expected, abs=1e-12)


def test_the_fitted_prior_trusts_two_agreeing_samples_and_not_one() -> None:
    assert stop_posterior([2.0], DEFAULT_PRIOR) > 0.995 > stop_posterior([1.0], DEFAULT_PRIOR)
    # The uniform prior needs four agreeing samples for 0.95 (1 - 2^-5 = 0.969).
    assert stop_posterior([3.0], UNIFORM_PRIOR) < 0.95 < stop_posterior([4.0], UNIFORM_PRIOR)


def test_disagreement_and_more_answers_lower_the_posterior() -> None:
    two = stop_posterior([3.0, 1.0])
    assert stop_posterior([3.0]) > two > stop_posterior([3.0, 1.0, 1.0])
    assert stop_posterior([1.0, 1.0]) < 0.5  # a tie: at best a coin flip
    assert stop_posterior([1.0, 1.0, 1.0]) == 0.0  # the union bound is clamped, never negative
    assert stop_posterior([]) == stop_posterior([0.0, 0.0]) == 0.0


def test_votes_may_come_in_any_order() -> None:
    assert stop_posterior([1.0, 4.0, 0.5]) == stop_posterior([4.0, 0.5, 1.0])


def test_the_difficulty_forecast_moves_the_prior() -> None:
    easy, hard = DEFAULT_PRIOR.beta(0.99), DEFAULT_PRIOR.beta(0.5)
    assert easy < DEFAULT_PRIOR.beta(None) < hard
    assert stop_posterior([2.0, 0.0], DEFAULT_PRIOR, 0.99) > stop_posterior(
        [2.0], DEFAULT_PRIOR, 0.5
    )
    flat = ModeSharePrior(alpha=2.0, log_beta=-3.0)
    assert flat.beta(0.01) == flat.beta(0.99)  # no slope: the forecast is ignored


def test_a_short_sample_weighs_more_than_a_long_one() -> None:
    short, typical, long = (TOKEN_CONFIDENCE.token_weight(t, 1000) for t in (250, 1000, 8000))
    assert short > typical > long > 0.0
    assert TOKEN_CONFIDENCE.token_weight(1, 1000) == TOKEN_CONFIDENCE.max_weight


def test_weights_are_clipped_to_zero_and_the_cap() -> None:
    c = Confidence(intercept=0.0, slope=1.0, curve=0.0, base_logit=2.0, max_weight=3.0)
    assert c.weight(-5.0) == 0.0  # less likely right than wrong: no vote, never a negative one
    assert c.weight(2.0) == pytest.approx(1.0)
    assert c.weight(50.0) == 3.0


def test_a_verifier_score_outranks_the_length_and_no_evidence_is_one_vote() -> None:
    judge = Confidence(intercept=0.0, slope=1.0, curve=0.0, base_logit=2.0)
    assert sample_weight(250, 1000, 4.0, verifier=judge) == pytest.approx(2.0)
    assert sample_weight(250, 1000, None, verifier=judge) == TOKEN_CONFIDENCE.token_weight(
        250, 1000
    )
    assert sample_weight(250, None) == sample_weight(None, 1000) == 1.0
    assert sample_weight(250, 1000, confidence=None) == 1.0


def test_forecasts_beyond_the_fitted_range_move_the_prior_no_further() -> None:
    # The slope was fitted on forecasts between about 0.95 and 0.98: a 0.02 is taken as 0.95.
    assert DEFAULT_PRIOR.beta(0.02) == DEFAULT_PRIOR.beta(0.5) == DEFAULT_PRIOR.beta(0.95)
    assert DEFAULT_PRIOR.beta(0.999999) == DEFAULT_PRIOR.beta(0.99)
    assert stop_posterior([3.0], DEFAULT_PRIOR, 0.02) > 0.995
