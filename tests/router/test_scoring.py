"""Scoring off the event loop: concurrent prompts run in parallel and get their own predictions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from router.app import default_model_dir
from router.scoring import Scorer
from tests.router.conftest import EASY, HARD


@pytest.fixture(scope="module")
def model() -> Any:
    from difficulty.encoder import Encoder
    from difficulty.model import DifficultyModel

    loaded = DifficultyModel.load(default_model_dir())
    loaded.encoder_ = Encoder(loaded.encoder_.name, use_cache=False, progress=False, threads=1)
    return loaded


def test_concurrent_prompts_get_their_own_predictions(model: Any) -> None:
    prompts = [EASY, HARD, f"{EASY} ", "What is 7 + 8?"]
    scorer = Scorer(model, workers=2)

    async def run() -> list[Any]:
        return list(await asyncio.gather(*(scorer.score(p) for p in prompts)))

    try:
        rows = asyncio.run(run())
    finally:
        scorer.close()
    for prompt, row in zip(prompts, rows, strict=True):
        alone = model.predict_one(prompt)
        assert set(row) == set(alone) >= {"Qwen2.5-32B", "QwQ-32B"}
        for name, pred in alone.items():
            assert row[name].p_correct == pytest.approx(pred.p_correct, abs=1e-6)
    assert rows[0]["QwQ-32B"].p_correct != rows[1]["QwQ-32B"].p_correct


def test_errors_reach_the_caller(model: Any) -> None:
    from difficulty.errors import InvalidInputError

    scorer = Scorer(model, workers=1)
    try:
        with pytest.raises(InvalidInputError):
            asyncio.run(scorer.score("   "))
    finally:
        scorer.close()
