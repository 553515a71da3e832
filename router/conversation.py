"""What of a conversation the difficulty model scores: its latest user turns, each on its own,
and for each profile the lowest P(good) among them.

A follow-up ("Now rewrite it as a limerick", "critique your own answer") is as hard as the
thread it continues, and read alone it looks easy. Scoring the latest user message and the one
before it, and keeping each profile's lowest forecast, routes MT-Bench's second turns better
than the latest message alone (`python bench/conversation_figures.py`, a general model that
never saw MT-Bench). The price: a short closer after a hard question ("thanks!") is routed as
that question was. `turns: 1` scores the latest user message only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ConversationSettings", "earlier_turns", "lowest_forecasts"]


class ConversationSettings(BaseModel):
    """How many of the latest user messages the difficulty model scores (1: the last only)."""

    model_config = ConfigDict(extra="forbid")
    turns: int = Field(default=2, ge=1, le=8)


def earlier_turns(texts: Sequence[str], turns: int) -> list[str]:
    """Of a conversation's user message texts (the latest last), the earlier ones scored beside
    the latest: up to `turns` - 1 of them, the nearest, blank ones skipped."""
    if turns <= 1:
        return []
    kept = [t for t in texts[:-1] if t.strip()]
    return kept[-(turns - 1) :]


def lowest_forecasts(
    latest: Mapping[str, Any], earlier: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Per profile, the prediction with the lowest P(good) among the latest turn's and the
    earlier turns' (a profile the latest turn has no prediction for is left out)."""
    out = dict(latest)
    for predictions in earlier:
        for name, prediction in predictions.items():
            if name in out and prediction.p_correct < out[name].p_correct:
                out[name] = prediction
    return out
