"""The exploration share's settings (`exploration:` in the config); part of the one Settings
object (`router.settings`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ExplorationSettings", "exploration_problem"]


class ExplorationSettings(BaseModel):
    """A `share` of answered requests is also run, in the background, on one other profile.

    The pair is labelled by answer agreement, else by the `judge` profile (a verifier profile of
    kind `judge`; a grade >= `judge_pass` of 10 counts as good), else left for client feedback.
    At most `max_running` background runs at once: past that a sampled request is skipped.
    On shutdown running ones get `grace_s` to finish, then are cancelled.
    """

    model_config = ConfigDict(extra="forbid")
    share: float = Field(default=0.02, ge=0.0, le=1.0)
    judge: str | None = None
    judge_pass: float = Field(default=5.0, ge=0.0, le=10.0)
    max_running: int = Field(default=4, ge=1, le=256)
    grace_s: float = Field(default=5.0, ge=0.0, le=600.0)
    seed: int = 0


def exploration_problem(
    exploration: ExplorationSettings, profiles: Mapping[str, Any]
) -> tuple[str, str] | None:
    """(config key, reason) when `exploration` names a judge that is not a judge profile."""
    if exploration.judge is None:
        return None
    profile = profiles.get(exploration.judge)
    verifier = getattr(profile, "verifier", None)
    if verifier is None or verifier.kind != "judge":
        return "exploration.judge", f"{exploration.judge!r} is not a verifier profile of kind judge"
    return None
