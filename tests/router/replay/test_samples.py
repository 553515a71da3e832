"""Recorded searches in the replay upstream: the next sample each time, and recorded scores."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from difficulty.outcomes import Outcome, Sample
from router.replay.server import ReplayUpstream

ROW = Outcome(
    "s-1",
    "What is 6 times 7?",
    "sampler",
    True,
    5,
    gold="42",
    samples=(
        Sample("42", 5, score=2.5, text="6 x 7 = \\boxed{42}"),
        Sample("41", 5, score=-1.0, text="I think \\boxed{41}"),
    ),
)


@pytest.fixture(scope="module")
def replay() -> Iterator[ReplayUpstream]:
    with ReplayUpstream([ROW]) as upstream:
        yield upstream


def _chat(replay: ReplayUpstream) -> str:
    body = {"model": "sampler", "messages": [{"role": "user", "content": ROW.prompt}]}
    reply = httpx.post(f"{replay.base_url}/chat/completions", json=body, timeout=10)
    return str(reply.json()["choices"][0]["message"]["content"])


def test_each_request_gets_the_next_recorded_sample_in_order(replay: ReplayUpstream) -> None:
    replay.reset_samples()
    assert [_chat(replay) for _ in range(3)] == [
        "6 x 7 = \\boxed{42}",
        "I think \\boxed{41}",
        "6 x 7 = \\boxed{42}",  # round again
    ]
    httpx.delete(f"{replay.url}/replay/stats")
    assert _chat(replay) == "6 x 7 = \\boxed{42}"


def test_scores_come_back_in_vllms_shapes(replay: ReplayUpstream) -> None:
    pooled = httpx.post(
        f"{replay.url}/pooling",
        json={
            "model": "rm",
            "messages": [
                {"role": "user", "content": ROW.prompt},
                {"role": "assistant", "content": "I think \\boxed{41}"},
            ],
        },
    ).json()
    assert pooled["data"][0]["data"] == [-1.0] and pooled["usage"]["prompt_tokens"] > 0
    body = {"model": "rm", "text_1": ROW.prompt, "text_2": ["6 x 7 = \\boxed{42}"]}
    assert httpx.post(f"{replay.base_url}/score", json=body).json()["data"][0]["score"] == 2.5
    missing = httpx.post(f"{replay.base_url}/score", json=body | {"text_2": "42"})
    assert missing.status_code == 404
