"""Probe mode through the gateway: a paced thinking stream, probes beside it, the exit, the ledger.

The thinking streams from the replay upstream; the probes go to a recording text-completions
endpoint that answers by a rule (test_probe_llamacpp.py runs the same path against llama.cpp).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from difficulty.outcomes import Outcome
from policies.convergence.probe import DEFAULT_SUFFIX, chatml_prompt
from policies.convergence.thinking import estimate_tokens
from router.replay.server import ReplayUpstream
from tests.router.completions_server import CompletionsServer, serve_completions
from tests.router.conftest import RunningGateway, base_config, wait_for

QUESTION = (
    "A baker makes 12 trays of cookies with 15 cookies on each tray and sells 108 of them. "
    "How many cookies are left?"
)
_OPENING = "Okay, 12 trays of 15 is 180 cookies. Selling 108 leaves 180 - 108 = 72. "
_VERIFY = "Checking the count once more: 12 times 15 gives 180, and 180 minus 108 gives 72. "
REASONING = _OPENING + _VERIFY * 60
RESPONSE = "There are \\boxed{72} cookies left."


def cookie_row(reasoning: str = REASONING) -> Outcome:
    """The recorded thinking trace the probe tests stream: the answer, then long re-checking."""
    return Outcome(
        id="cookies",
        prompt=QUESTION,
        profile="QwQ-32B",
        correct=True,
        tokens=1200,
        reasoning=reasoning,
        response=RESPONSE,
    )


@pytest.fixture(scope="module")
def paced() -> Iterator[ReplayUpstream]:
    with ReplayUpstream([cookie_row()], tokens_per_second=400) as upstream:
        yield upstream


def probe_config(
    paced: ReplayUpstream, probes_at: str, tmp_path: Any, **probe: Any
) -> dict[str, Any]:
    """The replay gateway config with probe mode on the thinking profile, probing `probes_at`."""
    config = base_config(paced.base_url, f"sqlite:///{tmp_path / 'ledger.db'}")
    think = config["profiles"]["think"]
    think["probe"] = {
        "k": 2,
        "interval_tokens": 40,
        "min_tokens": 40,
        "api_base": probes_at,
        "system": "You are a careful assistant.",
        "calibration": False,  # exit on k agreeing probes from the first stream
        **probe,
    }
    return config


def stream_chat(gw: RunningGateway) -> tuple[str, list[dict[str, Any]], list[str]]:
    """One streamed chat through the gateway: (request id, chunks, raw event payloads)."""
    body = {
        "model": "thinkgate/think",
        "messages": [{"role": "user", "content": QUESTION}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream("POST", f"{gw.base_url}/chat/completions", json=body, timeout=60) as resp:
        assert resp.status_code == 200
        rid = resp.headers["x-thinkgate-request-id"]
        events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return rid, [json.loads(e) for e in events[:-1]], events


def joined(chunks: list[dict[str, Any]], key: str) -> str:
    """The text of one delta field across the stream."""
    return "".join(c["choices"][0]["delta"].get(key) or "" for c in chunks if c["choices"])


def _answers(text: str) -> Callable[[str], str]:
    return lambda prompt: text


@pytest.fixture
def agreeing() -> Iterator[CompletionsServer]:
    with serve_completions(rule=_answers("72}\n\nSo there are 72 cookies.")) as server:
        yield server


def test_agreeing_probes_cut_the_stream(
    paced: ReplayUpstream,
    agreeing: CompletionsServer,
    gateway_factory: Callable[..., RunningGateway],
    tmp_path: Any,
) -> None:
    gw = gateway_factory(probe_config(paced, agreeing.base_url, tmp_path))
    before = paced.stats.disconnects
    rid, chunks, _ = stream_chat(gw)
    reasoning, content = joined(chunks, "reasoning_content"), joined(chunks, "content")
    assert len(reasoning) < len(REASONING) / 2
    assert "\\boxed{72}" in content
    finishes = [c["choices"][0].get("finish_reason") for c in chunks if c["choices"]]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert wait_for(lambda: paced.stats.disconnects > before)
    # Every probe is the chat as the model saw it, the thinking so far, the forcing suffix.
    bodies = agreeing.seen.bodies
    assert len(bodies) >= 2
    head = (
        "<|im_start|>system\nYou are a careful assistant.<|im_end|>\n"
        f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n<think>\n"
    )
    lengths = []
    for body in bodies:
        prompt = body["prompt"]
        assert prompt.startswith(head) and prompt.endswith(DEFAULT_SUFFIX)
        thinking = prompt[len(head) : -len(DEFAULT_SUFFIX)]
        assert thinking and reasoning.startswith(thinking)
        lengths.append(len(thinking))
        assert body["max_tokens"] == 16 and body["temperature"] == 0.0
    assert lengths == sorted(lengths) and len(set(lengths)) == len(lengths)
    record = next(r for r in gw.records() if r.request_id == rid)
    exit_ = record.early_exit
    assert exit_ is not None and exit_["answer"] == "72" and exit_["answer_from"] == "probe"
    assert exit_["mode"] == "probe" and exit_["probes"] == len(agreeing.seen.replies) == 2
    spent = sum(r["usage"]["completion_tokens"] for r in agreeing.seen.replies)
    assert record.probe_tokens == exit_["probe_tokens"] == spent
    assert exit_["probe_prompt_tokens"] == sum(
        r["usage"]["prompt_tokens"] for r in agreeing.seen.replies
    )
    assert [p["answer"] for p in exit_["probe_answers"]] == ["72", "72"]
    # Savings are net of the probes: the forecast length left unthought (by the probes' running
    # estimate of the thinking), minus the probe tokens.
    expected, thought = exit_["expected_tokens"], estimate_tokens(reasoning)
    gross = exit_["saved_before_probes"]
    assert expected > thought and gross == round(expected - thought)
    assert record.saved_by["early_exit"] == pytest.approx(gross - spent)
    # The savings aggregate counts the probe tokens as spent beside the stream.
    savings = httpx.get(f"{gw.url}/v1/savings", timeout=10).json()
    assert savings["tokens"]["probe"] == spent


def test_calibrated_probes_shadow_then_exit_on_the_certified_streak(
    paced: ReplayUpstream,
    agreeing: CompletionsServer,
    gateway_factory: Callable[..., RunningGateway],
    tmp_path: Any,
) -> None:
    # A loose guarantee: three shadow streams certify (ceil(log .25 / log .6) = 3).
    loose = {"max_changed_answers": 0.4, "miss_probability": 0.5, "shadow_share": 0.0}
    gw = gateway_factory(probe_config(paced, agreeing.base_url, tmp_path, calibration=loose))
    for _ in range(3):  # cold: probed, never cut; each a record for both keys
        _, chunks, _ = stream_chat(gw)
        assert joined(chunks, "reasoning_content") == REASONING
    rows = httpx.get(f"{gw.url}/v1/savings", timeout=10).json()["early_exit_calibration"]
    by_family = {row["family"]: row for row in rows}
    assert set(by_family) == {"default/history", "default/probe"}
    probe = by_family["default/probe"]
    assert probe["model"] == "QwQ-32B" and probe["sample_size"] == 3
    # Every probe said 72, the stream's answer: one calm probe (score 0.5) is certified.
    assert probe["threshold"] == 0.5 and probe["changed_rate"] == 0.0
    rid, chunks, _ = stream_chat(gw)
    assert len(joined(chunks, "reasoning_content")) < len(REASONING) / 2
    record = next(r for r in gw.records() if r.request_id == rid)
    assert record.early_exit is not None and record.early_exit["probes"] == 1


def test_hesitant_probes_never_cut(
    paced: ReplayUpstream, gateway_factory: Callable[..., RunningGateway], tmp_path: Any
) -> None:
    with serve_completions(rule=_answers("72}. Wait, let me recheck that.")) as server:
        gw = gateway_factory(probe_config(paced, server.base_url, tmp_path, interval_tokens=200))
        rid, chunks, _ = stream_chat(gw)
        replies = list(server.seen.replies)
    assert joined(chunks, "reasoning_content") == REASONING
    assert joined(chunks, "content") == RESPONSE
    record = next(r for r in gw.records() if r.request_id == rid)
    assert record.early_exit is None
    spent = sum(r["usage"]["completion_tokens"] for r in replies)
    assert len(replies) >= 2 and record.probe_tokens is not None
    # Probes still running when the stream ended were cancelled, not counted.
    assert 0 < record.probe_tokens <= spent
    assert record.saved_by["early_exit"] == -record.probe_tokens


def test_a_dead_probe_endpoint_leaves_the_stream_alone(
    paced: ReplayUpstream, gateway_factory: Callable[..., RunningGateway], tmp_path: Any
) -> None:
    gw = gateway_factory(probe_config(paced, "http://127.0.0.1:9/v1", tmp_path))
    rid, chunks, _ = stream_chat(gw)
    assert joined(chunks, "reasoning_content") == REASONING
    assert joined(chunks, "content") == RESPONSE
    record = next(r for r in gw.records() if r.request_id == rid)
    assert record.early_exit is None and record.status == 200
    assert record.probe_tokens == 0 and record.saved_by["early_exit"] == 0


def test_a_probe_refused_for_length_is_no_answer_and_ends_the_probing(
    paced: ReplayUpstream, gateway_factory: Callable[..., RunningGateway], tmp_path: Any
) -> None:
    # The endpoint's context holds the first probe (due at 40 thinking tokens: 24 words) but not
    # the second (80 tokens on: 46 words or more), refused as llama.cpp refuses it, with a 400.
    head = chatml_prompt(
        [("user", QUESTION)], system="You are a careful assistant.", think_open="<think>\n"
    )
    context = len(head.split()) + 35 + len(DEFAULT_SUFFIX.split()) + 16
    rule = _answers("72}\n\nSo there are 72 cookies.")
    with serve_completions(rule=rule, context=context) as server:
        gw = gateway_factory(probe_config(paced, server.base_url, tmp_path))
        rid, chunks, _ = stream_chat(gw)
        replies = list(server.seen.replies)
    # The stream ran whole: one agreeing answer and a refusal are not k=2 agreeing probes.
    assert joined(chunks, "reasoning_content") == REASONING
    assert joined(chunks, "content") == RESPONSE
    answered = [r for r in replies if "choices" in r]
    refused = [r["error"]["code"] for r in replies if "error" in r]
    # Every later probe is longer: the first refusal ended the probing of this stream.
    assert len(answered) == 1 and refused == ["context_length_exceeded"]
    record = next(r for r in gw.records() if r.request_id == rid)
    assert record.early_exit is None and record.status == 200
    # Only the answered probe's tokens are spent; the refused one cost nothing.
    assert record.probe_tokens == answered[0]["usage"]["completion_tokens"] > 0
    assert record.saved_by["early_exit"] == -record.probe_tokens


def test_with_prefill_the_continuation_answers_non_streamed_requests_too(
    paced: ReplayUpstream,
    agreeing: CompletionsServer,
    gateway_factory: Callable[..., RunningGateway],
    tmp_path: Any,
) -> None:
    config = probe_config(paced, agreeing.base_url, tmp_path)
    config["profiles"]["think"]["prefill"] = True
    gw = gateway_factory(config)
    body = {"model": "thinkgate/think", "messages": [{"role": "user", "content": QUESTION}]}
    reply = httpx.post(f"{gw.base_url}/chat/completions", json=body, timeout=60).json()
    message = reply["choices"][0]["message"]
    assert "\\boxed{72}" in message["content"]  # the replayed answer after the closed thinking
    assert len(message["reasoning_content"]) < len(REASONING) / 2
    facts = reply["thinkgate"]["early_exit"]
    assert facts["mode"] == "probe" and facts["answer_from"] == "continuation"
    assert facts["probes"] == 2 and facts["probe_tokens"] > 0
