"""When a search has sampled enough: the posterior that its leading answer is the true majority.

The rule (one pure function, `stop_posterior`): samples are independent draws from the
prompt's answer distribution; the majority answer's share of the two leading answers, s, has a
Beta(alpha, beta) prior on [1/2, 1], fitted by empirical Bayes on recorded searches, with beta
moved by the difficulty model's P(correct) for the prompt (an easy prompt's prior sits near
s = 1, so two agreeing samples can settle it). Each sample votes with a weight w = logit(r) /
logit(r_mean), where r is how often a sample with its confidence (its length against the
prompt's typical length, or a verifier's score) agrees with the majority: the optimal weights
of a weighted majority (Nitzan and Paroush, 1982), scaled so an average sample is one vote.
With weighted votes v1 >= v2 >= ... the leader loses to answer j with posterior probability
  P(j beats leader) = W(vj, v1) / (W(v1, vj) + W(vj, v1)),
  W(a, b) = integral over [1/2, 1] of s^a (1 - s)^b Beta(s; alpha, beta) ds,
and `stop_posterior` = 1 - sum over every other answer and one not yet seen of P(j beats
leader). Guarantee: under this model a search that stops once `stop_posterior` >= t returns
an answer other than the unlimited-sample majority with probability at most 1 - t (a union
bound), so it loses at most 1 - t accuracy against that majority. The uniform prior
(alpha = beta = 1), unit weights and the top two alone give Adaptive-Consistency's Beta rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.special import betaincc, betaln, expit

__all__ = [
    "ModeSharePrior",
    "Confidence",
    "UNIFORM_PRIOR",
    "DEFAULT_PRIOR",
    "TOKEN_CONFIDENCE",
    "pair_posterior",
    "sample_weight",
    "stop_posterior",
]

_TINY = 1e-300


@dataclass(frozen=True)
class ModeSharePrior:
    """Beta(alpha, beta) on the majority's share of the two leading answers, on [1/2, 1].

    log(beta) = log_beta + difficulty_slope * (z - difficulty_center), z = logit(p_correct)
    held inside the range the slope was fitted on [difficulty_low, difficulty_high]: a prompt
    the difficulty model finds easy gets a smaller beta, a prior nearer unanimity, and a
    forecast beyond the fitted range moves it no further than the range's end.
    """

    alpha: float
    log_beta: float
    difficulty_slope: float = 0.0
    difficulty_center: float = 0.0
    difficulty_low: float = -math.inf
    difficulty_high: float = math.inf

    def beta(self, p_correct: float | None = None) -> float:
        """The prior's beta for a prompt with this predicted P(correct) (None: the average)."""
        if p_correct is None or self.difficulty_slope == 0.0:
            return math.exp(self.log_beta)
        q = min(max(p_correct, 1e-6), 1.0 - 1e-6)
        z = min(max(math.log(q / (1.0 - q)), self.difficulty_low), self.difficulty_high)
        return math.exp(self.log_beta + self.difficulty_slope * (z - self.difficulty_center))


@dataclass(frozen=True)
class Confidence:
    """How often a sample agrees with the majority, from one confidence feature x.

    logit(r) = intercept + slope * x + curve * x^2; `base_logit` is logit of the average r in
    the data it was fitted on (an average sample weighs one vote); weights are kept in
    [0, max_weight] so no single sample can settle a search alone.
    """

    intercept: float
    slope: float
    curve: float
    base_logit: float
    max_weight: float = 3.0

    def weight(self, x: float) -> float:
        """The vote weight of a sample whose confidence feature is x."""
        logit = self.intercept + self.slope * x + self.curve * x * x
        return min(max(logit / self.base_logit, 0.0), self.max_weight)

    def token_weight(self, tokens: float, typical: float) -> float:
        """The weight of a sample from its length against the prompt's typical length."""
        return self.weight(math.log(max(tokens, 1.0) / max(typical, 1.0)))


# Adaptive-Consistency's prior: every share of the top two equally likely.
UNIFORM_PRIOR = ModeSharePrior(alpha=1.0, log_beta=0.0)
# Fitted on boinf-math500 (7 reasoning models x 500 problems, 80 samples each) by
# `python bench/fit_stopping.py`; the difficulty term uses the shipped model's QwQ-32B head.
DEFAULT_PRIOR = ModeSharePrior(
    alpha=2.1687,
    log_beta=-3.0393,
    difficulty_slope=-1.2999,
    difficulty_center=3.6271,
    difficulty_low=3.0418,
    difficulty_high=4.1016,
)
# Sample length as confidence (x = log(tokens / typical tokens)), same data and program.
TOKEN_CONFIDENCE = Confidence(intercept=4.9285, slope=-1.7593, curve=0.0657, base_logit=3.68)


def sample_weight(
    tokens: float | None,
    typical: float | None,
    score: float | None = None,
    *,
    confidence: Confidence | None = TOKEN_CONFIDENCE,
    verifier: Confidence | None = None,
) -> float:
    """A sample's vote: from a verifier's score when there is one, else from its length against
    the prompt's typical length, else one vote."""
    if score is not None and verifier is not None:
        return verifier.weight(score)
    if tokens and typical and confidence is not None:
        return confidence.token_weight(tokens, typical)
    return 1.0


def _log_w(a: float, b: float, alpha: float, beta: float) -> float:
    tail = float(betaincc(alpha + a, beta + b, 0.5))
    return float(betaln(alpha + a, beta + b)) + math.log(max(tail, _TINY))


def pair_posterior(leader: float, other: float, alpha: float, beta: float) -> float:
    """P(the answer with `leader` votes is the majority of the two | votes, the share prior)."""
    diff = _log_w(leader, other, alpha, beta) - _log_w(other, leader, alpha, beta)
    return float(expit(diff))


def stop_posterior(
    votes: Sequence[float],
    prior: ModeSharePrior = DEFAULT_PRIOR,
    p_correct: float | None = None,
) -> float:
    """Lower bound on P(the leading answer is the unlimited-sample majority | weighted votes).

    `votes` are the weighted votes of every distinct answer so far, in any order.
    """
    ranked = sorted((v for v in votes if v > 0.0), reverse=True)
    if not ranked:
        return 0.0
    alpha, beta = prior.alpha, prior.beta(p_correct)
    lead = ranked[0]
    # Every other answer seen, and one not yet seen (0 votes), may be the true majority.
    risk = sum(1.0 - pair_posterior(lead, v, alpha, beta) for v in [*ranked[1:], 0.0])
    return max(0.0, 1.0 - risk)
