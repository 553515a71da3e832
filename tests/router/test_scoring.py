"""Scoring inline or on worker threads: concurrent prompts get their own predictions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from difficulty.model import DEFAULT_MODEL_DIR
from router.scoring import Scorer, scores_inline
from tests.router.conftest import EASY, HARD


@pytest.fixture(scope="module")
def model() -> Any:
    from difficulty.encoder import Encoder
    from difficulty.model import DifficultyModel

    loaded = DifficultyModel.load(DEFAULT_MODEL_DIR)
    loaded.encoder_ = Encoder(loaded.encoder_.name, use_cache=False, progress=False, threads=1)
    return loaded


@pytest.mark.parametrize("inline", [True, False])
def test_concurrent_prompts_get_their_own_predictions(model: Any, inline: bool) -> None:
    prompts = [EASY, HARD, f"{EASY} ", "What is 7 + 8?"]
    scorer = Scorer(model, workers=2, inline=inline)

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


def test_a_static_encoder_model_scores_on_the_loop_and_minilm_on_threads(model: Any) -> None:
    import threading

    from difficulty.encoder import Encoder

    assert scores_inline(model)  # the shipped model is on the static encoder
    seen: list[int] = []

    class Recording:
        encoder_ = model.encoder_

        def predict_one(self, prompt: str) -> Any:
            seen.append(threading.get_ident())
            return model.predict_one(prompt)

    minilm = Recording()
    minilm.encoder_ = Encoder("all-MiniLM-L6-v2", use_cache=False)
    assert not scores_inline(minilm)
    for predictor, on_loop in ((Recording(), True), (minilm, False)):
        scorer = Scorer(predictor, workers=1)
        try:
            asyncio.run(scorer.score(EASY))
        finally:
            scorer.close()
        assert (seen.pop() == threading.get_ident()) is on_loop
