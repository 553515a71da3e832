"""Adaptive stopping for search profiles: sample, vote, stop once the leader is safe.

In the spirit of Adaptive-Consistency (Aggarwal et al., 2023): after each sample, the posterior
share of the leading answer among the top two is Beta(v1 + 1, v2 + 1); stop when
P(leader's share > 1/2) passes the plan's threshold, or at the plan's maximum. The difficulty
model's P(correct) can act as a prior, as pseudo-votes for the leader (agreement) and the
runner-up (disagreement). Votes group answers with the shared answer normaliser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from scipy.special import betainc

from difficulty.answers import answers_match
from policies.decision import SamplingPlan

__all__ = [
    "PRIOR_WEIGHT",
    "leader_probability",
    "cluster_answers",
    "AdaptiveVote",
    "run_vote",
]

# How many pseudo-votes the difficulty model's prediction is worth: enough to save a sample
# on confident easy items, too few to outvote two real disagreeing samples.
PRIOR_WEIGHT = 2.0


def leader_probability(
    leader: int,
    runner_up: int,
    *,
    prior_p_correct: float | None = None,
    prior_weight: float = PRIOR_WEIGHT,
) -> float:
    """Posterior probability that the leading answer (votes `leader`) beats the runner-up."""
    a, b = leader + 1.0, runner_up + 1.0
    if prior_p_correct is not None:
        q = min(max(prior_p_correct, 0.0), 1.0)
        a += prior_weight * q
        b += prior_weight * (1.0 - q)
    return float(1.0 - betainc(a, b, 0.5))


def cluster_answers(
    answers: Sequence[str | None],
    match: Callable[[str | None, str | None], bool] = answers_match,
) -> list[int]:
    """Vote key per answer: equal keys for equivalent answers, -1 for no usable answer."""
    reps: list[str] = []
    seen: dict[str | None, int] = {}
    keys = []
    for a in answers:
        if a not in seen:
            # An answer that does not even match itself (empty, unparseable) casts no vote.
            if a is None or not match(a, a):
                seen[a] = -1
            else:
                k = next((i for i, r in enumerate(reps) if match(a, r)), None)
                if k is None:
                    reps.append(a)
                    k = len(reps) - 1
                seen[a] = k
        keys.append(seen[a])
    return keys


class AdaptiveVote:
    """Incremental vote for one request: `add` each sample's vote key until `done`."""

    def __init__(self, plan: SamplingPlan) -> None:
        self.plan = plan
        self.samples = 0
        self.counts: dict[int, int] = {}
        self._first: dict[int, int] = {}
        self.done = False

    @property
    def leader(self) -> int | None:
        """The leading vote key (ties go to the answer seen first), or None before any vote."""
        if not self.counts:
            return None
        return min(self.counts, key=lambda k: (-self.counts[k], self._first[k]))

    def add(self, key: int) -> bool:
        """Count one sample (key -1: it gave no answer); returns whether sampling should stop."""
        if self.done:
            raise RuntimeError("the vote has already stopped")
        self.samples += 1
        if key >= 0:
            self.counts[key] = self.counts.get(key, 0) + 1
            self._first.setdefault(key, self.samples)
        self.done = self.samples >= self.plan.max_samples or (
            self.samples >= self.plan.min_samples and self._safe()
        )
        return self.done

    def _safe(self) -> bool:
        if not self.counts:
            return False
        top = sorted(self.counts.values(), reverse=True)
        p = leader_probability(
            top[0], top[1] if len(top) > 1 else 0, prior_p_correct=self.plan.prior_p_correct
        )
        return p >= self.plan.threshold


def run_vote(keys: Iterable[int], plan: SamplingPlan) -> AdaptiveVote:
    """Count vote keys in order until the vote stops or they run out; the vote, to read its
    `leader` and `samples` (the simulator's replay of recorded samples)."""
    vote = AdaptiveVote(plan)
    for key in keys:
        if vote.add(int(key)):
            break
    return vote
