"""A conversation's earlier user turn is scored beside its latest: each profile gets the mean of
its forecasts, so a follow-up is routed partly as the thread it continues (router.conversation)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from difficulty.outcomes import Outcome
from difficulty.predictions import ProfilePrediction
from router.app import load_predictor
from router.conversation import earlier_turns, thread_forecasts
from router.pipeline import Pipeline
from router.replay.server import ReplayUpstream
from router.settings import settings_from_mapping
from tests.router.conftest import HARD, replay_rows
from tests.router.test_novelty import AIME, _described

THANKS = "thanks, that was helpful"


def test_earlier_turns_are_the_nearest_non_blank_user_messages() -> None:
    texts = ["first", "  ", "second", "third", "latest"]
    assert earlier_turns(texts, 1) == []
    assert earlier_turns(texts, 2) == ["third"]
    assert earlier_turns(texts, 3) == ["second", "third"]
    assert earlier_turns(texts, 8) == ["first", "second", "third"]
    assert earlier_turns(["only"], 2) == []


def test_each_profile_gets_the_mean_of_its_forecasts_and_the_latest_tokens() -> None:
    latest = {"direct": ProfilePrediction(0.9, 20.0), "think": ProfilePrediction(0.95, 900.0)}
    earlier = [{"direct": ProfilePrediction(0.6, 5.0), "other": ProfilePrediction(0.1, 1.0)}]
    got = thread_forecasts(latest, earlier)
    assert got["direct"].p_correct == pytest.approx(0.75) and got["direct"].tokens == 20.0
    assert got["think"] == latest["think"] and "other" not in got
    assert thread_forecasts(latest, []) == latest


def test_a_follow_up_is_routed_partly_as_the_hard_question_it_continues() -> None:
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
        pair = (alone.predictions[name].p_correct, hard.predictions[name].p_correct)
        assert thread.predictions[name].p_correct == pytest.approx(sum(pair) / 2)
    assert thread.predictions["direct"].p_correct < alone.predictions["direct"].p_correct
    assert thread.novelty == alone.novelty  # novelty is the latest message's


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
    hard = httpx.post(f"{gateway.url}/v1/route", json={"prompt": HARD}).json()
    assert (alone["profile"], hard["profile"]) == ("direct", "think")
    for name, got in routed["predictions"].items():
        mine, before = (
            alone["predictions"][name]["p_correct"],
            hard["predictions"][name]["p_correct"],
        )
        expected = mine if turns == 1 else (mine + before) / 2
        assert got["p_correct"] == pytest.approx(expected), name
        assert got["tokens"] == alone["predictions"][name]["tokens"]
    body = {"model": "thinkgate/auto", "messages": messages, "max_tokens": 64}
    resp = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-thinkgate-profile"] == routed["profile"]
