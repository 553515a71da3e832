"""Verifier profiles against the replay upstream's recorded reward scores: every endpoint shape
returns the recorded score, and counts what the call spent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from difficulty.datasets import load_dataset
from difficulty.errors import ThinkgateError
from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens
from router.replay.samples import JUDGE_MODEL
from router.replay.server import ReplayUpstream
from router.settings import settings_from_mapping
from router.upstream import Upstream
from router.verifier import JUDGE_TEMPLATE, Verdict, Verifier


@pytest.fixture(scope="module")
def row() -> Outcome:
    return load_dataset("qwen25-math-eval")[0]


@pytest.fixture(scope="module")
def replay(row: Outcome) -> Iterator[ReplayUpstream]:
    with ReplayUpstream([row]) as upstream:
        yield upstream


def _score(replay: ReplayUpstream, kind: str, prompt: str, answer: str) -> Verdict:
    model = f"openai/{JUDGE_MODEL}" if kind == "judge" else "openai/reward-model"
    settings = settings_from_mapping(
        {
            "profiles": {
                "a": {"model": "openai/math-cot-sampled", "predictor": "QwQ-32B"},
                "rm": {"model": model, "api_base": replay.base_url, "verifier": {"kind": kind}},
            },
        }
    )

    async def run() -> Verdict:
        upstream = Upstream(settings.profiles)
        try:
            return await Verifier(upstream, "rm", settings.profiles["rm"]).score(prompt, answer)
        finally:
            await upstream.aclose()

    return asyncio.run(run())


@pytest.mark.parametrize("kind", ["pooling", "score"])
def test_a_reward_model_returns_the_recorded_score(
    replay: ReplayUpstream, row: Outcome, kind: str
) -> None:
    sample = (row.samples or ())[1]
    verdict = _score(replay, kind, row.prompt, sample.text or "")
    assert verdict.score == sample.score
    assert verdict.prompt_tokens == count_tokens(row.prompt) + count_tokens(sample.text or "")


def test_a_judge_grades_from_0_to_10_and_its_prompt_is_counted(
    replay: ReplayUpstream, row: Outcome
) -> None:
    sample = (row.samples or ())[2]
    verdict = _score(replay, "judge", row.prompt, sample.text or "")
    assert verdict.score == round(min(max(sample.score or 0.0, 0.0), 10.0), 2)
    question = JUDGE_TEMPLATE.format(prompt=row.prompt, answer=sample.text)
    assert verdict.prompt_tokens == count_tokens(question) and verdict.completion_tokens >= 1


def test_an_unknown_answer_is_an_upstream_error(replay: ReplayUpstream, row: Outcome) -> None:
    with pytest.raises(ThinkgateError, match="404|rejected"):
        _score(replay, "pooling", row.prompt, "an answer nobody recorded")
