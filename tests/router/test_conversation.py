"""A conversation's earlier user turn is scored beside its latest: each profile keeps its lowest
forecast, so a follow-up is routed as the thread it continues (router.conversation)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from difficulty.outcomes import Outcome
from router.app import load_predictor
from router.conversation import earlier_turns, lowest_forecasts
from router.pipeline import Pipeline
from router.replay.server import ReplayUpstream
from router.settings import settings_from_mapping
from tests.router.conftest import HARD, replay_rows
from tests.router.test_novelty import AIME, _described


def test_earlier_turns_are_the_nearest_non_blank_user_messages() -> None:
    texts = ["first", "  ", "second", "third", "latest"]
    assert earlier_turns(texts, 1) == []
    assert earlier_turns(texts, 2) == ["third"]
    assert earlier_turns(texts, 3) == ["second", "third"]
    assert earlier_turns(texts, 8) == ["first", "second", "third"]
    assert earlier_turns(["only"], 2) == []


def test_each_profile_keeps_its_lowest_forecast() -> None:
    def p(x: float) -> Any:
        return SimpleNamespace(p_correct=x)

    latest = {"direct": p(0.9), "think": p(0.95)}
    earlier = [{"direct": p(0.6), "think": p(0.97), "other": p(0.1)}]
    got = lowest_forecasts(latest, earlier)
    assert {k: v.p_correct for k, v in got.items()} == {"direct": 0.6, "think": 0.95}
    assert lowest_forecasts(latest, []) == latest


def test_a_follow_up_is_routed_as_the_hard_question_it_continues() -> None:
    settings = settings_from_mapping(_described("http://127.0.0.1:9/v1", "sqlite:///unused.db"))
    pipeline = Pipeline(settings, load_predictor(settings))
    follow_up = "Thanks! Now explain the last step more simply."
    try:
        alone = asyncio.run(pipeline.route("thinkgate/auto", follow_up))
        hard = asyncio.run(pipeline.route("thinkgate/auto", AIME))
        thread = asyncio.run(pipeline.route("thinkgate/auto", follow_up, earlier=[AIME]))
    finally:
        pipeline.close()
    for name in ("direct", "think"):
        expected = min(alone.predictions[name].p_correct, hard.predictions[name].p_correct)
        assert thread.predictions[name].p_correct == expected
    assert thread.predictions["direct"].p_correct < alone.predictions["direct"].p_correct
    assert thread.profile == hard.profile == "think"
    assert thread.novelty == alone.novelty  # novelty is the latest message's


THANKS = "thanks, that was helpful"


@pytest.fixture(scope="module")
def thanks_upstream() -> Any:
    """The replay upstream, also answering the closer (both profiles)."""
    rows = replay_rows()
    for profile, tokens in (("Qwen2.5-32B", 8), ("QwQ-32B", 30)):
        reasoning = "The user is thanking me." if profile == "QwQ-32B" else None
        rows.append(
            Outcome(
                id="t-thanks",
                prompt=THANKS,
                profile=profile,
                correct=True,
                tokens=tokens,
                reasoning=reasoning,
                response="You're welcome!",
            )
        )
    with ReplayUpstream(rows) as upstream:
        yield upstream


@pytest.mark.parametrize("turns", [1, 2])
def test_chat_and_route_score_the_earlier_turn_unless_turns_is_one(
    turns: int, thanks_upstream: ReplayUpstream, gateway_factory: Any, tmp_path: Path
) -> None:
    config = _described(thanks_upstream.base_url, f"sqlite:///{tmp_path / 'ledger.db'}")
    config["conversation"] = {"turns": turns}
    gateway = gateway_factory(config)
    messages = [
        {"role": "user", "content": HARD},
        {"role": "assistant", "content": "The minimum is -1, at x = 1."},
        {"role": "user", "content": THANKS},
    ]
    routed = httpx.post(f"{gateway.url}/v1/route", json={"messages": messages}).json()
    alone = httpx.post(f"{gateway.url}/v1/route", json={"prompt": THANKS}).json()
    assert alone["profile"] == "direct"
    expected = "think" if turns == 2 else "direct"
    assert routed["profile"] == expected, routed
    if turns == 1:
        assert routed["predictions"] == alone["predictions"]
    else:
        assert (
            routed["predictions"]["direct"]["p_correct"]
            < alone["predictions"]["direct"]["p_correct"]
        )
    body = {"model": "thinkgate/auto", "messages": messages, "max_tokens": 64}
    resp = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-thinkgate-profile"] == expected
