"""A search profile's settings (`profiles.<name>.search`) and a verifier profile's
(`profiles.<name>.verifier`); part of the one Settings object (`router.settings`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["SearchSettings", "VerifierSettings"]

_STRICT = ConfigDict(extra="forbid")


class SearchSettings(BaseModel):
    """A search profile's sampling plan (`policies.search`): between `min_samples` and
    `max_samples`, at most `wave` at once, until the posterior that the leading answer is the
    majority of unlimited samples reaches `threshold`.

    `verifier` names a profile that scores each sample (its `verifier` block); `aggregate`
    picks the answer: `majority`, `weighted_vote` (votes weighted by score, or by length without
    a verifier) or `best_of_n` (the best-scored sample). `typical_tokens` is the length a sample
    is expected to have (None: the difficulty model's forecast for the prompt); `progress` how
    the client sees the samples agree while they run: SSE comments, reasoning deltas or nothing.
    """

    model_config = _STRICT
    max_samples: int = Field(default=4, ge=1, le=64)
    min_samples: int = Field(default=2, ge=1)
    wave: int = Field(default=4, ge=1, le=64)
    threshold: float = Field(default=0.995, gt=0.0, le=1.0)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    verifier: str | None = None
    aggregate: Literal["majority", "weighted_vote", "best_of_n"] = "majority"
    typical_tokens: float | None = Field(default=None, gt=0.0)
    progress: Literal["comment", "reasoning", "none"] = "comment"

    @model_validator(mode="after")
    def _bounds(self) -> SearchSettings:
        if self.min_samples > self.max_samples:
            raise ValueError("min_samples must not exceed max_samples")
        return self


class VerifierSettings(BaseModel):
    """This profile scores (prompt, answer) pairs instead of answering: a reward model behind
    vLLM's `/pooling` or `/score` API, or an LLM judge prompted to grade (`judge`).

    Scores become vote weights through logit P(correct | score) = intercept + slope * score +
    curve * score^2, fitted on labelled samples (`policies.search.fit_confidence`); base_logit
    is the average sample's logit (an average sample counts one vote).
    """

    model_config = _STRICT
    kind: Literal["pooling", "score", "judge"] = "pooling"
    intercept: float = 0.0
    slope: float = 1.0
    curve: float = 0.0
    base_logit: float = Field(default=2.0, gt=0.0)
    max_weight: float = Field(default=3.0, gt=0.0)
    # judge: the grading prompt, with {prompt} and {answer}; None: the built-in one.
    template: str | None = None
    path: str | None = None  # None: /pooling at the server root, or {api_base}/score
