"""The exploration share end to end: a real gateway in front of the replay upstream, with every
request explored (share 1.0), its pair stored in SQLite and Redis, its cost in the savings."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from difficulty.outcomes import Outcome, Sample
from router.ledger.base import open_ledger
from router.ledger.counterfactual import CounterfactualRecord
from router.replay.server import ReplayUpstream
from tests.router.conftest import (
    EASY,
    RunningGateway,
    base_config,
    replay_rows,
    start_gateway,
    wait_for,
)

PRICES = {"direct": (1e-6, 2e-6), "think": (3e-6, 9e-6)}


def _counterfactuals(url: str) -> list[CounterfactualRecord]:
    import asyncio

    async def read() -> list[CounterfactualRecord]:
        ledger: Any = open_ledger(url)
        try:
            return list(await ledger.counterfactual_records())
        finally:
            await ledger.close()

    return asyncio.run(read())


def _ask(base_url: str, model: str, stream: bool = False) -> tuple[str, dict[str, Any]]:
    body = {"model": model, "messages": [{"role": "user", "content": EASY}], "stream": stream}
    if not stream:
        reply = httpx.post(f"{base_url}/chat/completions", json=body, timeout=60)
        assert reply.status_code == 200, reply.text
        data = reply.json()
        return data["choices"][0]["message"]["content"], data["usage"]
    text = ""
    with httpx.stream("POST", f"{base_url}/chat/completions", json=body, timeout=60) as reply:
        assert reply.status_code == 200
        for line in reply.iter_lines():
            if line.startswith("data: {"):
                import json

                for choice in json.loads(line[6:]).get("choices") or []:
                    text += (choice.get("delta") or {}).get("content") or ""
    return text, {}


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_an_explored_request_stores_its_pair_and_counts_its_cost(
    store: str,
    replay: ReplayUpstream,
    gateway: RunningGateway,
    gateway_factory: Callable[[dict[str, Any]], RunningGateway],
    redis_ledger_url: str,
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db" if store == "sqlite" else redis_ledger_url
    config = base_config(replay.base_url, url, exploration={"share": 1.0})
    config["ledger"]["store_text"] = True
    for name, (price_in, price_out) in PRICES.items():
        config["profiles"][name].update(price_in=price_in, price_out=price_out)
    explored = gateway_factory(config)

    # What the caller gets is what an unexplored gateway answers.
    plain_text, plain_usage = _ask(gateway.base_url, "thinkgate/direct")
    text, usage = _ask(explored.base_url, "thinkgate/direct")
    assert (text, usage) == (plain_text, plain_usage)
    assert "\\boxed{72}" in text
    assert wait_for(lambda: len(_counterfactuals(url)) == 1, timeout=20)
    streamed, _ = _ask(explored.base_url, "thinkgate/think", stream=True)
    assert "\\boxed{72}" in streamed
    assert wait_for(lambda: len(_counterfactuals(url)) == 2, timeout=20)

    first, second = _counterfactuals(url)
    records = {r.request_id: r for r in explored.records()}
    assert set(records) == {first.request_id, second.request_id}
    assert (first.chosen.profile, first.alternative.profile) == ("direct", "think")
    assert (second.chosen.profile, second.alternative.profile) == ("think", "direct")
    for pair in (first, second):
        # Both replayed profiles answer 72: agreement labels both good, no judge needed.
        assert (pair.chosen.answer, pair.alternative.answer) == ("72", "72")
        assert (pair.label, pair.chosen.good, pair.alternative.good) == ("agreement", True, True)
        assert pair.prompt == EASY and pair.error is None
        assert pair.chosen.completion_tokens == records[pair.request_id].completion_tokens
    think = first.alternative
    assert think.completion_tokens > 50  # QwQ's recorded reasoning and answer
    price_in, price_out = PRICES["think"]
    assert think.cost == pytest.approx(
        think.prompt_tokens * price_in + think.completion_tokens * price_out
    )

    savings = httpx.get(f"{explored.url}/v1/savings", timeout=10).json()
    spent = savings["exploration"]
    assert spent["runs"] == 2 and spent["labelled"] == {"agreement": 2}
    assert (
        spent["completion_tokens"] == think.completion_tokens + second.alternative.completion_tokens
    )
    assert spent["cost"] == pytest.approx(first.cost + second.cost)
    assert spent["net_saved_cost"] == pytest.approx(
        savings["money"]["saved_estimate"] - spent["cost"]
    )
    metrics = httpx.get(f"{explored.url}/metrics", timeout=10).text
    assert 'thinkgate_exploration_runs_total{label="agreement",profile="think"} 1.0' in metrics
    assert 'thinkgate_exploration_runs_total{label="agreement",profile="direct"} 1.0' in metrics


JUDGED = "A box holds 9 rows of 8 apples. How many apples are in the box?"
WRONG = "Nine rows of eight: the box holds \\boxed{70} apples."
RIGHT = "9 x 8 = 72, so the box holds \\boxed{72} apples."


def _judged_rows() -> list[Outcome]:
    """One prompt the two profiles answer differently; the samples carry the judge's grades."""
    return [
        Outcome("j", JUDGED, "Qwen2.5-32B", False, 12, samples=(Sample("70", 12, 1.0, WRONG),)),
        Outcome("j", JUDGED, "QwQ-32B", True, 14, samples=(Sample("72", 14, 9.0, RIGHT),)),
    ]


def _judged_config(api_base: str, url: str) -> dict[str, Any]:
    config = base_config(api_base, url, exploration={"share": 1.0, "judge": "grader"})
    config["ledger"]["store_text"] = True
    config["profiles"]["grader"] = {
        "model": "openai/replay-judge",
        "api_base": api_base,
        "verifier": {"kind": "judge"},
        "price_in": 1e-6,
        "price_out": 1e-6,
    }
    return config


def test_answers_that_differ_are_labelled_by_the_judge(
    gateway_factory: Callable[[dict[str, Any]], RunningGateway], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    with ReplayUpstream(_judged_rows()) as upstream:
        gw = gateway_factory(_judged_config(upstream.base_url, url))
        body = {"model": "thinkgate/direct", "messages": [{"role": "user", "content": JUDGED}]}
        reply = httpx.post(f"{gw.base_url}/chat/completions", json=body, timeout=60)
        assert reply.json()["choices"][0]["message"]["content"] == WRONG
        assert wait_for(lambda: len(_counterfactuals(url)) == 1, timeout=20)
    (pair,) = _counterfactuals(url)
    assert (pair.chosen.answer, pair.alternative.answer, pair.agree) == ("70", "72", False)
    assert (pair.label, pair.judge) == ("judge", "grader")
    assert (pair.chosen.grade, pair.alternative.grade) == (1.0, 9.0)
    assert (pair.chosen.good, pair.alternative.good) == (False, True)
    assert pair.judge_prompt_tokens > 2 * len(JUDGED.split())  # two grading prompts
    assert pair.judge_cost == pytest.approx(
        (pair.judge_prompt_tokens + pair.judge_completion_tokens) * 1e-6
    )
    assert pair.cost == pytest.approx(pair.alternative.cost + pair.judge_cost)


@pytest.mark.parametrize("grace_s", [0.0, 30.0])
def test_shutdown_waits_grace_s_for_a_running_exploration_then_cancels_it(
    grace_s: float, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    # Every answer starts after 2 s: the second one is still running when the gateway stops.
    with ReplayUpstream(replay_rows(), first_token_delay=2.0) as upstream:
        config = base_config(upstream.base_url, url, exploration={"share": 1.0, "grace_s": grace_s})
        config["ledger"]["store_text"] = True
        gw = start_gateway(config)
        try:
            text, _ = _ask(gw.base_url, "thinkgate/direct")
            assert "\\boxed{72}" in text
            assert wait_for(lambda: upstream.stats.requests == 2, timeout=10)
        finally:
            started = time.monotonic()
            gw.server.stop()
            stopped_in = time.monotonic() - started
        stored = _counterfactuals(url)
    if grace_s == 0.0:
        assert stored == [] and stopped_in < 1.8  # cancelled, not waited for
    else:
        assert len(stored) == 1 and stored[0].label == "agreement"


def test_past_max_running_a_sampled_request_is_skipped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    with ReplayUpstream(replay_rows(), first_token_delay=1.0) as upstream:
        config = base_config(upstream.base_url, url, exploration={"share": 1.0, "max_running": 1})
        gw = start_gateway(config)
        try:
            with ThreadPoolExecutor(2) as pool:  # answered together: the second finds one running
                texts = list(pool.map(lambda _: _ask(gw.base_url, "thinkgate/direct")[0], "ab"))
            assert all("\\boxed{72}" in t for t in texts)
            assert wait_for(lambda: upstream.stats.requests == 3, timeout=10)
            assert wait_for(lambda: len(_counterfactuals(url)) == 1, timeout=10)
            (pair,) = _counterfactuals(url)
            assert pair.label == "agreement"  # labelled on the answers, which are not kept:
            assert (pair.prompt, pair.chosen.answer, pair.alternative.answer) == (None,) * 3
            metrics = httpx.get(f"{gw.url}/metrics", timeout=10).text
            assert "thinkgate_exploration_skipped_total 1.0" in metrics
        finally:
            gw.server.stop()
        assert upstream.stats.requests == 3  # two answers, one exploration
