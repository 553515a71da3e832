"""Live convergence pruning through the gateway, against a paced replay of a thinking trace."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens
from policies.convergence import REMAINING_PER_TOKEN, estimate_tokens
from router.early_exit import shadow_final
from router.replay.server import ReplayUpstream
from tests.router.conftest import RunningGateway, base_config, wait_for

QUESTION = (
    "A baker makes 12 trays of cookies with 15 cookies on each tray and sells 108 of them. "
    "How many cookies are left?"
)
_OPENING = (
    "Okay, 12 trays with 15 cookies each is 12 * 15 = 180 cookies. She sells 108, so "
    "180 - 108 = 72 cookies are left. So the answer is 72. "
)
# A reasoning model re-verifying an answer it already has: long, calm, always 72.
_VERIFY = "Checking the count once more: 12 times 15 gives 180, and 180 minus 108 gives 72. "
REASONING = _OPENING + _VERIFY * 60
RESPONSE = "There are \\boxed{72} cookies left."


@pytest.fixture(scope="module")
def paced() -> Iterator[ReplayUpstream]:
    rows = [
        Outcome(
            id="cookies",
            prompt=QUESTION,
            profile="QwQ-32B",
            correct=True,
            tokens=1200,
            reasoning=REASONING,
            response=RESPONSE,
        )
    ]
    with ReplayUpstream(rows, tokens_per_second=400) as upstream:
        yield upstream


def _config(paced: ReplayUpstream, tmp_path: Any, *, prefill: bool) -> dict[str, Any]:
    config = base_config(paced.base_url, f"sqlite:///{tmp_path / 'ledger.db'}")
    think = config["profiles"]["think"]
    # The streak rule, so the test pins the mechanics rather than the learned rule's confidence.
    think["convergence"] = {
        "enabled": True,
        "rule": "streak",
        "k": 2,
        "interval_tokens": 40,
        "min_tokens": 60,
    }
    think["prefill"] = prefill
    return config


@pytest.fixture(scope="module")
def gw(paced: ReplayUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    from tests.router.conftest import start_gateway

    gateway = start_gateway(_config(paced, tmp_path_factory.mktemp("ee"), prefill=True))
    yield gateway
    gateway.server.stop()


def test_streamed_thinking_is_cut_once_the_answer_settles(
    gw: RunningGateway, paced: ReplayUpstream
) -> None:
    before = paced.stats.disconnects
    body = {
        "model": "thinkgate/think",
        "messages": [{"role": "user", "content": QUESTION}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream("POST", f"{gw.base_url}/chat/completions", json=body, timeout=30) as resp:
        assert resp.status_code == 200
        rid = resp.headers["x-thinkgate-request-id"]
        events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    reasoning = "".join(
        c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks if c["choices"]
    )
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    finishes = [c["choices"][0].get("finish_reason") for c in chunks if c["choices"]]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert "\\boxed{72}" in content  # the continuation after the closed thinking
    assert len(reasoning) < len(REASONING) / 2 and REASONING.startswith(reasoning)
    # The upstream saw its client leave: it stopped generating the rest of the trace.
    assert wait_for(lambda: paced.stats.disconnects > before)
    record = next(r for r in gw.records() if r.request_id == rid)
    assert record.early_exit is not None
    assert record.early_exit["answer"] == "72"
    assert record.early_exit["answer_from"] == "continuation"
    # The thinking relayed is the thinking counted; the usage adds the continuation's answer.
    at_exit = record.early_exit["tokens_at_exit"]
    assert at_exit == count_tokens(reasoning) and 0 < at_exit < 400
    usage = chunks[-1]["usage"]
    assert (
        usage["completion_tokens"] == record.completion_tokens == at_exit + count_tokens(RESPONSE)
    )
    assert record.tokens_counted is True and record.status == 200
    # The saving, by hand: the forecast length left unthought (else 0.59 per token thought),
    # from the watcher's own running estimate of the thinking (within ~3% of the count above).
    expected = record.early_exit["expected_tokens"]
    assert expected == record.predictions["think"]["tokens"]
    thought = estimate_tokens(reasoning)
    left = expected - thought if expected > thought else thought * REMAINING_PER_TOKEN
    assert record.saved_by["early_exit"] == round(left)
    assert record.saved_tokens_estimate == pytest.approx(sum(record.saved_by.values()))


def test_non_streamed_requests_are_watched_too(gw: RunningGateway) -> None:
    client = openai.OpenAI(base_url=gw.base_url, api_key="x", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="thinkgate/think", messages=[{"role": "user", "content": QUESTION}]
    )
    reply = raw.parse()
    assert "72" in (reply.choices[0].message.content or "")
    facts = json.loads(raw.http_response.text)["thinkgate"]
    assert facts["early_exit"]["answer"] == "72"
    message: Any = reply.choices[0].message
    assert len(message.reasoning_content) < len(REASONING) / 2


def test_without_prefill_the_converged_candidate_answers(
    paced: ReplayUpstream, gateway_factory: Callable[..., RunningGateway], tmp_path: Any
) -> None:
    gw = gateway_factory(_config(paced, tmp_path, prefill=False))
    client = openai.OpenAI(base_url=gw.base_url, api_key="x", max_retries=0)
    text = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="thinkgate/think",
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
        )
        if c.choices
    )
    assert "\\boxed{72}" in text
    record = gw.records()[-1]
    assert record.early_exit is not None and record.early_exit["answer_from"] == "candidate"


def test_a_shadow_stream_ends_on_the_answer_its_response_states() -> None:
    thinking = "12 * 15 = 180, 180 - 108 = 72. So the answer is 72. " * 20
    assert shadow_final(RESPONSE, thinking) == "72"
    assert shadow_final("", thinking) == "72"  # no response outside the thinking
    email = (
        "Dear Ms. Patel,\n\nI am writing to let you know that my son will leave school at 72 "
        "minutes past noon on Thursday for a dentist appointment, and he will be back in class "
        "on Friday morning. Please let me know if he needs to catch up on anything or if there "
        "is a form I should sign.\n\nThank you for your understanding,\nAnna"
    )
    # A free-form response states no answer: an exit on "72" is not counted as unchanged.
    assert shadow_final(email, thinking) is None
