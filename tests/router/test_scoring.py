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


def test_the_model_reads_a_bounded_sanitised_part_of_a_prompt() -> None:
    from router.scoring import MAX_SCORED_CHARS, scored_text

    ordinary = HARD * 10
    assert scored_text(ordinary) == ordinary
    huge = "Q" + "x" * 1_000_000 + "What is 2 + 3?"
    text = scored_text(huge)
    assert len(text) == MAX_SCORED_CHARS + 1
    assert text.startswith("Qxxx") and text.endswith("What is 2 + 3?")
    assert scored_text("lone \ud800 surrogate") == "lone \ufffd surrogate"


def test_long_prompts_leave_the_loop_and_score_as_their_bounded_text(model: Any) -> None:
    import threading

    from router.scoring import scored_text

    seen: list[int] = []

    class Recording:
        encoder_ = model.encoder_

        def predict_one(self, prompt: str) -> Any:
            seen.append(threading.get_ident())
            return model.predict_one(prompt)

    huge = EASY + " and then " * 100_000 + HARD + " \ud800"
    scorer = Scorer(Recording(), workers=2)
    try:
        short = asyncio.run(scorer.score(EASY))
        long = asyncio.run(scorer.score(huge))
    finally:
        scorer.close()
    assert seen[0] == threading.get_ident() and seen[1] != threading.get_ident()
    assert short["QwQ-32B"].p_correct == model.predict_one(EASY)["QwQ-32B"].p_correct
    expected = model.predict_one(scored_text(huge))
    assert long["QwQ-32B"].p_correct == pytest.approx(expected["QwQ-32B"].p_correct)


def test_warm_starts_every_worker_thread_before_the_first_prompt(model: Any) -> None:
    import threading

    scorer = Scorer(model, workers=2, inline=False)
    # Threads by identity, not name: another test's scorer may still hold threads of the same
    # names (thread pools number their threads from 0 in every pool).
    before = set(threading.enumerate())
    try:
        asyncio.run(scorer.warm())
        started = set(threading.enumerate()) - before
        assert len([t for t in started if t.name.startswith("thinkgate-score")]) == 2
    finally:
        scorer.close()
