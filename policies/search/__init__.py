"""Search: sample several answers, vote, and stop once the leading answer is safe.

`stopping` is the rule (the posterior that the leader is the unlimited-sample majority, with
an empirical-Bayes prior and weighted votes); `vote` the loop the gateway and the simulator
both run; `fit` fits the rule's prior and confidence curves from recorded searches; `trial`
and `simulator` replay recorded samples through the vote against majority-of-N.
"""

from policies.search.fit import fit_confidence, fit_prior, top_two
from policies.search.simulator import (
    MAJORITY_SIZES,
    SampledProblem,
    SearchRow,
    sampled_problems,
    simulate_search,
    trials_for,
)
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
from policies.search.trial import StopRule, Strategy, Tally, Trial, prepare, replay, run_rule
from policies.search.vote import AGGREGATES, AdaptiveVote, cluster_answers, run_vote

__all__ = [
    "AGGREGATES",
    "AdaptiveVote",
    "Confidence",
    "DEFAULT_PRIOR",
    "MAJORITY_SIZES",
    "ModeSharePrior",
    "SampledProblem",
    "SearchRow",
    "StopRule",
    "Strategy",
    "TOKEN_CONFIDENCE",
    "Tally",
    "Trial",
    "UNIFORM_PRIOR",
    "cluster_answers",
    "fit_confidence",
    "fit_prior",
    "pair_posterior",
    "prepare",
    "replay",
    "run_rule",
    "run_vote",
    "sample_weight",
    "sampled_problems",
    "simulate_search",
    "stop_posterior",
    "top_two",
    "trials_for",
]
