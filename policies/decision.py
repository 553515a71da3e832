"""The result of a policy: which profile answers, with what budget and sampling plan, and why."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SamplingPlan", "Decision"]


@dataclass(frozen=True)
class SamplingPlan:
    """How a search profile samples: up to `max_samples`, stopping once the leader is safe.

    Stop when the posterior probability that the current leading answer is the majority of
    unlimited samples passes `threshold` (`policies.search.stopping`); `prior_p_correct` is the
    difficulty model's P(correct) for the profile, which moves the prior; `typical_tokens` is
    the length a sample of this prompt is expected to have (samples much longer vote less).
    """

    max_samples: int = 1
    threshold: float = 0.995
    min_samples: int = 1
    prior_p_correct: float | None = None
    typical_tokens: float | None = None

    def __post_init__(self) -> None:
        if self.max_samples < 1 or not 1 <= self.min_samples <= self.max_samples:
            raise ValueError("need 1 <= min_samples <= max_samples")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")


@dataclass(frozen=True)
class Decision:
    """The chosen profile, its completion-token budget, its sampling plan and a one-line reason.

    `p_correct`, `tokens` and `cost` are the predictions the choice rested on (for the ledger).
    """

    profile: str
    budget: int | None
    sampling: SamplingPlan | None
    reason: str
    p_correct: float | None = None
    tokens: float | None = None
    cost: float | None = None
