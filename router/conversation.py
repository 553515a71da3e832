"""What of a conversation the difficulty model scores: its latest user turns, each on its own,
and for each profile the mean of their P(good).

A follow-up ("Now rewrite it as a limerick", "critique your own answer") is about as hard as the
thread it continues, and read alone it looks easy. Scoring the latest user message and the one
before it and averaging each profile's forecasts routes MT-Bench's second turns better than the
latest message alone (`python bench/conversation_figures.py`, a general model that never saw
MT-Bench). The price: a short closer after a hard question ("thanks!") is routed partly as that
question was. `turns: 1` scores the latest user message only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from difficulty.predictions import ProfilePrediction
from policies.routing import PredictionLike

__all__ = ["ConversationSettings", "earlier_turns", "thread_forecasts"]


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


def thread_forecasts(
    latest: Mapping[str, PredictionLike], earlier: Sequence[Mapping[str, PredictionLike]]
) -> dict[str, PredictionLike]:
    """Per profile of the latest turn's forecasts: the mean P(good) over the latest and the
    earlier turns' forecasts, with the latest turn's token forecast (what this answer writes)."""
    out: dict[str, PredictionLike] = {}
    for name, prediction in latest.items():
        values = [prediction.p_correct] + [f[name].p_correct for f in earlier if name in f]
        out[name] = ProfilePrediction(sum(values) / len(values), prediction.tokens)
    return out
