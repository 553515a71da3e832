"""What the gateway does with a prompt far from anything the difficulty model was trained on.

The general model scores each prompt's novelty (difficulty.novelty: cosine distance to its
nearest training prompts); above the threshold the prompt is novel, and `action` says what
automatic routing does then: `decide` (the policy decides as usual; the request is only
flagged), `reference` (send it to the reference profile, the one savings are measured
against), or `profile` (send it to the named profile).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["NoveltySettings", "is_novel"]


class NoveltySettings(BaseModel):
    """The novelty policy; `threshold` None: the shipped model's (the 99th percentile of its
    held-out training prompts' scores)."""

    model_config = ConfigDict(extra="forbid")
    threshold: float | None = Field(default=None, ge=0.0, le=2.0)
    action: Literal["decide", "reference", "profile"] = "decide"
    profile: str | None = None


def is_novel(score: float | None, model_threshold: float | None, settings: NoveltySettings) -> bool:
    """Whether a prompt with novelty `score` counts as novel."""
    threshold = settings.threshold if settings.threshold is not None else model_threshold
    return score is not None and threshold is not None and score > threshold
