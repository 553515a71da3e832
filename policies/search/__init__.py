"""Search: sample several answers, vote, and stop once the leading answer is safe.

`vote` is the stopping rule the gateway runs live (Adaptive-Consistency style, with the
difficulty model's prediction as a prior); `simulator` replays recorded samples through it
against majority-of-N.
"""

from policies.search.simulator import (
    MAJORITY_SIZES,
    SampledProblem,
    SearchRow,
    sampled_problems,
    simulate_search,
)
from policies.search.vote import (
    PRIOR_WEIGHT,
    AdaptiveVote,
    cluster_answers,
    leader_probability,
    run_vote,
)

__all__ = [
    "AdaptiveVote",
    "MAJORITY_SIZES",
    "PRIOR_WEIGHT",
    "SampledProblem",
    "SearchRow",
    "cluster_answers",
    "leader_probability",
    "run_vote",
    "sampled_problems",
    "simulate_search",
]
