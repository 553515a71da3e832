"""The difficulty level shown to people: the cheapest profile that is about as good as the best."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from difficulty.errors import InvalidInputError, NotFoundError
from difficulty.predictions import ProfilePrediction

__all__ = ["difficulty_level", "cost_order"]


def cost_order(preds: Mapping[str, ProfilePrediction]) -> list[str]:
    """Profiles from cheapest to dearest by expected tokens (unknown tokens last, then by name)."""

    def key(name: str) -> tuple[float, str]:
        tokens = preds[name].tokens
        return (math.inf if tokens is None or math.isnan(tokens) else tokens, name)

    return sorted(preds, key=key)


def difficulty_level(
    preds: Mapping[str, ProfilePrediction],
    profile_order: Sequence[str] | None = None,
    tolerance: float = 0.02,
) -> str:
    """The first profile in `profile_order` (cheapest first; by expected tokens when None)
    whose predicted success is within `tolerance` of the best profile's."""
    if not preds:
        raise InvalidInputError("no profile predictions to derive a level from")
    if tolerance < 0:
        raise InvalidInputError("tolerance must be non-negative")
    order = list(profile_order) if profile_order is not None else cost_order(preds)
    for name in order:
        if name not in preds:
            raise NotFoundError(f"unknown profile '{name}' in profile order")
    if not order:
        raise InvalidInputError("empty profile order")
    best = max(preds[name].p_correct for name in order)
    for name in order:
        if preds[name].p_correct >= best - tolerance:
            return name
    return order[-1]  # unreachable: the best profile itself always qualifies
