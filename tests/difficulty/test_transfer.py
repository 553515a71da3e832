"""A fitted general model judged on a table it was not fitted on: APGR and each forecast's AUC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from difficulty.descriptions import Description
from difficulty.errors import InvalidInputError
from difficulty.general import GENERAL_MODEL_DIR, GeneralModel
from difficulty.outcomes import Outcome
from difficulty.transfer import pair_report

DATA = Path(__file__).parents[2] / "bench" / "data"
EASY = [
    "hi!",
    "thanks, that was helpful",
    "What is the capital of France?",
    "Translate 'good morning' into Spanish.",
    "Fix the grammar: 'she go to school yesterday'",
    "Write a haiku about rain.",
]
HARD = [json.loads(line)["prompt"] for line in (DATA / "competition_math.jsonl").open()][:6]
DESCRIBE = {"small": Description("direct", "weak"), "big": Description("think", "strong")}


def _table(weak_right_on_easy: bool) -> list[Outcome]:
    rows: list[Outcome] = []
    for i, prompt in enumerate(EASY + HARD):
        easy = i < len(EASY)
        rows.append(Outcome(f"q{i}", prompt, "small", easy == weak_right_on_easy, 50))
        rows.append(Outcome(f"q{i}", prompt, "big", True, 3000))
    return rows


@pytest.fixture(scope="module")
def shipped() -> GeneralModel:
    return GeneralModel.load(GENERAL_MODEL_DIR)


def test_the_weak_forecast_ranks_outcomes_that_follow_difficulty(shipped: GeneralModel) -> None:
    report = pair_report(shipped, _table(True), ("small", "big"), DESCRIBE)
    assert report["items"] == 12
    assert report["auc"]["small"] > 0.9
    assert report["auc"]["big"] is None  # the strong profile is always right: nothing to rank
    assert report["apgr"] > 0.6  # the hard half goes to the strong profile first (random: 0.5)


def test_outcomes_against_difficulty_show_an_auc_below_one_half(shipped: GeneralModel) -> None:
    report = pair_report(shipped, _table(False), ("small", "big"), DESCRIBE)
    assert report["auc"]["small"] < 0.1
    assert report["apgr"] < 0.4  # worse than random: the AUC says why


def test_a_profile_without_a_description_is_named(shipped: GeneralModel) -> None:
    with pytest.raises(InvalidInputError, match="'big'"):
        pair_report(shipped, _table(True), ("small", "big"), {"small": DESCRIBE["small"]})
