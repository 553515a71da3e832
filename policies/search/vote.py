"""The vote a search runs, live and in the simulator: add samples until the rule says stop.

Answers are grouped by the shared normaliser (`cluster_answers`); each sample votes with a
weight (`policies.search.stopping.sample_weight`: 1, or from its length or a verifier's score);
after every sample `stop_posterior` decides. `needed()` says how many more agreeing samples
could end the search, so the gateway draws no more at once than the rule can use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from difficulty.answers import answers_match
from policies.decision import SamplingPlan
from policies.search.stopping import DEFAULT_PRIOR, ModeSharePrior, stop_posterior

__all__ = ["AGGREGATES", "AdaptiveVote", "cluster_answers", "run_vote"]

# How the returned answer is chosen: the most samples, the most weight, or the best score.
AGGREGATES = ("majority", "weighted_vote", "best_of_n")


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
    """Incremental vote for one request: `add` each sample's vote key (and weight) until `done`."""

    def __init__(
        self,
        plan: SamplingPlan,
        prior: ModeSharePrior = DEFAULT_PRIOR,
        *,
        settle_answerless: bool = False,
    ) -> None:
        self.plan = plan
        self.prior = prior
        # Stop at min_samples when every sample so far finished and stated no answer (an
        # email, a haiku): there is nothing to vote on, and more samples would not change that.
        self.settle_answerless = settle_answerless
        self.answerless = 0  # finished samples that stated no answer
        self.samples = 0
        self.counts: dict[int, int] = {}
        self.weights: dict[int, float] = {}
        self.scores: dict[int, float] = {}  # the best score each answer got
        self._first: dict[int, int] = {}
        self.posterior = 0.0
        self.done = False

    def _top(self, value: dict[int, float] | dict[int, int]) -> int | None:
        if not value:
            return None
        return min(value, key=lambda k: (-value[k], self._first[k]))

    @property
    def leader(self) -> int | None:
        """The key with most samples (ties go to the answer seen first); None before any vote."""
        return self._top(self.counts)

    def answer(self, aggregate: str = "majority") -> int | None:
        """The key to return: most samples, most weight, or the best-scored sample's."""
        if aggregate == "weighted_vote":
            return self._top(self.weights)
        if aggregate == "best_of_n" and self.scores:
            return self._top(self.scores)
        return self.leader

    def add(
        self, key: int, weight: float = 1.0, score: float | None = None, *, finished: bool = False
    ) -> bool:
        """Count one sample (key -1: it gave no answer; `finished`: it ended on its own, not
        cut by a token limit); returns whether sampling should stop."""
        if self.done:
            raise RuntimeError("the vote has already stopped")
        self.samples += 1
        self.answerless += int(key < 0 and finished)
        if key >= 0:
            self.counts[key] = self.counts.get(key, 0) + 1
            self.weights[key] = self.weights.get(key, 0.0) + weight
            if score is not None:
                self.scores[key] = max(score, self.scores.get(key, score))
            self._first.setdefault(key, self.samples)
        self.posterior = stop_posterior(
            list(self.weights.values()), self.prior, self.plan.prior_p_correct
        )
        self.done = self.samples >= self.plan.max_samples or (
            self.samples >= self.plan.min_samples
            and (self.posterior >= self.plan.threshold or self.nothing_to_vote)
        )
        return self.done

    @property
    def nothing_to_vote(self) -> bool:
        """Every sample so far finished without stating an answer (with `settle_answerless`)."""
        return self.settle_answerless and 0 < self.samples == self.answerless

    def needed(self) -> int:
        """The fewest further samples that could stop the vote, each agreeing with the leader at
        one vote (at least 1 while it runs; 0 once done)."""
        if self.done:
            return 0
        room = self.plan.max_samples - self.samples
        lead = self._top(self.weights)
        votes = dict(self.weights)
        for extra in range(1, room):
            if self.samples + extra < self.plan.min_samples:
                continue
            if lead is None:
                trial = [*votes.values(), float(extra)]
            else:
                trial = [v + extra if k == lead else v for k, v in votes.items()]
            if stop_posterior(trial, self.prior, self.plan.prior_p_correct) >= self.plan.threshold:
                return extra
        return max(room, 1)


def run_vote(
    keys: Iterable[int],
    plan: SamplingPlan,
    weights: Iterable[float] | None = None,
    prior: ModeSharePrior = DEFAULT_PRIOR,
) -> AdaptiveVote:
    """Count vote keys in order until the vote stops or they run out; the vote, to read its
    `leader` and `samples` (the simulator's replay of recorded samples)."""
    vote = AdaptiveVote(plan, prior)
    for key, weight in zip(keys, weights if weights is not None else _ones(), strict=False):
        if vote.add(int(key), float(weight)):
            break
    return vote


def _ones() -> Iterable[float]:
    while True:
        yield 1.0
