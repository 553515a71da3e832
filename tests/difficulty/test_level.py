"""The difficulty level: the cheapest profile whose success is close to the best."""

from __future__ import annotations

import pytest

from difficulty.errors import InvalidInputError, NotFoundError
from difficulty.level import cost_order, difficulty_level
from difficulty.predictions import ProfilePrediction as P

PREDS = {
    "direct": P(p_correct=0.80, tokens=200.0),
    "cot": P(p_correct=0.90, tokens=600.0),
    "think": P(p_correct=0.91, tokens=3000.0),
}


def test_cheapest_within_tolerance() -> None:
    assert difficulty_level(PREDS, ["direct", "cot", "think"]) == "cot"


def test_zero_tolerance_picks_the_best() -> None:
    assert difficulty_level(PREDS, ["direct", "cot", "think"], tolerance=0.0) == "think"


def test_large_tolerance_picks_the_cheapest() -> None:
    assert difficulty_level(PREDS, ["direct", "cot", "think"], tolerance=0.5) == "direct"


def test_order_defaults_to_expected_tokens() -> None:
    preds = {"think": PREDS["think"], "direct": PREDS["direct"], "x": P(0.1, None)}
    assert cost_order(preds) == ["direct", "think", "x"]
    assert difficulty_level({"b": P(0.9, 50.0), "a": P(0.9, 500.0)}) == "b"


def test_bad_input() -> None:
    with pytest.raises(InvalidInputError):
        difficulty_level({})
    with pytest.raises(NotFoundError):
        difficulty_level(PREDS, ["direct", "nope"])
    with pytest.raises(InvalidInputError):
        difficulty_level(PREDS, tolerance=-1)
