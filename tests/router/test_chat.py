"""POST /v1/chat/completions through a real gateway and the replay upstream."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from difficulty.tokens import count_tokens
from policies.decision import SamplingPlan
from policies.search import run_vote, sample_weight
from router.replay.catalog import split_pieces
from router.replay.server import ReplayUpstream
from tests.router.conftest import (
    EASY,
    HARD,
    RunningGateway,
    base_config,
    read_records,
    replay_rows,
)


def _client(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)


def _record(gw: RunningGateway, request_id: str) -> Any:
    found = [r for r in gw.records() if r.request_id == request_id]
    assert len(found) == 1
    return found[0]


def test_auto_non_streamed_with_the_openai_client(gateway: RunningGateway) -> None:
    raw = _client(gateway).chat.completions.with_raw_response.create(
        model="thinkgate/auto", messages=[{"role": "user", "content": EASY}]
    )
    reply = raw.parse()
    profile = raw.headers["x-thinkgate-profile"]
    assert profile in ("direct", "think")
    assert "72" in (reply.choices[0].message.content or "")
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    facts = json.loads(raw.http_response.text)["thinkgate"]
    assert facts["request_id"] == raw.headers["x-thinkgate-request-id"]
    assert facts["profile"] == profile
    assert facts["difficulty"] == raw.headers["x-thinkgate-difficulty"] or (
        facts["difficulty"] is None and raw.headers["x-thinkgate-difficulty"] == "unknown"
    )
    record = _record(gateway, facts["request_id"])
    assert record.profile == profile and record.model == "thinkgate/auto"
    assert record.completion_tokens == reply.usage.completion_tokens
    assert record.prompt_tokens == reply.usage.prompt_tokens
    assert record.tokens_counted is False and record.stream is False and record.status == 200
    assert set(record.predictions) == {"direct", "think"}
    # The savings, by hand: routing saves the reference's forecast minus the answering
    # profile's; nothing was cut or sampled.
    forecast = {name: pred["tokens"] for name, pred in record.predictions.items()}
    assert record.reference_profile == "think"
    assert record.reference_tokens_estimate == forecast["think"]
    routed = forecast["think"] - forecast[profile]
    assert record.saved_by == {"routing": pytest.approx(routed), "early_exit": 0.0, "sampling": 0.0}
    assert record.saved_tokens_estimate == pytest.approx(routed)
    assert record.prompt is None and record.completion is None  # text is not stored by default


def test_forced_thinking_streams_reasoning_then_answer(gateway: RunningGateway) -> None:
    stream = _client(gateway).chat.completions.create(
        model="thinkgate/think",
        messages=[{"role": "user", "content": EASY}],
        stream=True,
        stream_options={"include_usage": True},
    )
    reasoning: list[str] = []
    content: list[str] = []
    usage: Any = None
    ids: set[str] = set()
    for chunk in stream:
        ids.add(chunk.id)
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            delta: Any = choice.delta
            if getattr(delta, "reasoning_content", None):
                assert not content, "reasoning must come before the answer"
                reasoning.append(delta.reasoning_content)
            if delta.content:
                content.append(delta.content)
    assert "48 + 24 = 72" in "".join(reasoning)
    assert "\\boxed{72}" in "".join(content)
    # The upstream's usage, relayed: the recorded reasoning and answer, counted.
    think = next(r for r in replay_rows() if r.profile == "QwQ-32B" and r.prompt == EASY)
    expected = count_tokens(think.reasoning or "") + count_tokens(think.response or "")
    assert usage is not None and usage.completion_tokens == expected
    assert len(ids) == 1
    rid = next(iter(ids)).removeprefix("chatcmpl-")
    record = _record(gateway, rid)
    assert record.profile == "think" and record.stream is True and record.status == 200
    assert record.decision_reason.startswith("forced")
    assert record.completion_tokens == usage.completion_tokens
    assert record.ttft_ms is not None and record.ttft_ms <= record.latency_ms


def test_stream_is_relayed_chunk_by_chunk_without_usage_unless_asked(
    gateway: RunningGateway,
) -> None:
    body = {
        "model": "thinkgate/direct",
        "messages": [{"role": "user", "content": EASY}],
        "stream": True,
    }
    with httpx.stream("POST", f"{gateway.base_url}/chat/completions", json=body) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["x-thinkgate-profile"] == "direct"
        events = [line for line in resp.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    # One chunk per replayed token, not one buffered blob: the role, each piece, the stop.
    answer = next(r.response or "" for r in replay_rows() if r.profile == "Qwen2.5-32B")
    assert len(chunks) == len(split_pieces(answer, 1)) + 2
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == answer
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_upstream_model_name_is_passed_through(gateway: RunningGateway) -> None:
    raw = _client(gateway).chat.completions.with_raw_response.create(
        model="QwQ-32B", messages=[{"role": "user", "content": EASY}]
    )
    assert raw.headers["x-thinkgate-profile"] == "think"
    record = _record(gateway, raw.headers["x-thinkgate-request-id"])
    assert record.model == "QwQ-32B" and "passed through" in record.decision_reason


def test_named_target(gateway: RunningGateway) -> None:
    raw = _client(gateway).chat.completions.with_raw_response.create(
        model="thinkgate/auto?target=accurate", messages=[{"role": "user", "content": EASY}]
    )
    assert raw.headers["x-thinkgate-profile"] == "think"


def test_step_by_step_style_and_list_content(
    replay: ReplayUpstream, gateway_factory: Callable[..., RunningGateway], tmp_path: Any
) -> None:
    config = base_config(replay.base_url, f"sqlite:///{tmp_path / 'l.db'}")
    config["profiles"]["direct"]["prompt_style"] = "step_by_step"
    config["ledger"]["store_text"] = True
    gw = gateway_factory(config)
    reply = _client(gw).chat.completions.create(
        model="thinkgate/direct",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": EASY}]},
        ],
    )
    assert "72" in (reply.choices[0].message.content or "")
    record = gw.records()[-1]
    assert record.prompt is not None and EASY in record.prompt
    assert record.completion is not None and "72" in record.completion


BAD_BODIES: list[tuple[str, bytes | dict[str, Any], int, str | None]] = [
    ("malformed json", b'{"model": "thinkgate/auto", "messages": [', 400, None),
    ("not an object", b"[1, 2]", 400, None),
    ("empty body", b"", 400, None),
    ("missing messages", {"model": "thinkgate/auto"}, 400, "messages"),
    ("empty messages", {"model": "thinkgate/auto", "messages": []}, 400, "messages"),
    ("missing model", {"messages": [{"role": "user", "content": "hi"}]}, 400, "model"),
    (
        "unknown model",
        {"model": "gpt-17", "messages": [{"role": "user", "content": "hi"}]},
        404,
        "model",
    ),
    (
        "unknown profile",
        {"model": "thinkgate/huge", "messages": [{"role": "user", "content": "hi"}]},
        404,
        "model",
    ),
    (
        "unknown target",
        {"model": "thinkgate/auto?target=x", "messages": [{"role": "user", "content": "hi"}]},
        400,
        "model",
    ),
    (
        "wrong role",
        {"model": "thinkgate/auto", "messages": [{"role": "robot", "content": "hi"}]},
        400,
        "messages.0.role",
    ),
    (
        "content number",
        {"model": "thinkgate/auto", "messages": [{"role": "user", "content": 5}]},
        400,
        None,
    ),
    (
        "stream string",
        {
            "model": "thinkgate/auto",
            "stream": "yes",
            "messages": [{"role": "user", "content": "hi"}],
        },
        400,
        "stream",
    ),
    (
        "max_tokens string",
        {
            "model": "thinkgate/auto",
            "max_tokens": "9",
            "messages": [{"role": "user", "content": "hi"}],
        },
        400,
        "max_tokens",
    ),
    (
        "temperature range",
        {
            "model": "thinkgate/auto",
            "temperature": 7,
            "messages": [{"role": "user", "content": "hi"}],
        },
        400,
        "temperature",
    ),
    (
        "image part",
        {
            "model": "thinkgate/auto",
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "http://x/a.png"}}],
                }
            ],
        },
        400,
        None,
    ),
    (
        "no user text",
        {"model": "thinkgate/auto", "messages": [{"role": "system", "content": "hi"}]},
        400,
        "messages",
    ),
    (
        "n > 1 with auto",
        {"model": "thinkgate/auto", "n": 3, "messages": [{"role": "user", "content": "hi"}]},
        400,
        "n",
    ),
    ("messages not a list", {"model": "thinkgate/auto", "messages": "hi"}, 400, "messages"),
]


@pytest.mark.parametrize(
    ("name", "body", "status", "param"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_bad_input_gets_an_openai_error(
    gateway: RunningGateway, name: str, body: bytes | dict[str, Any], status: int, param: str | None
) -> None:
    url = f"{gateway.base_url}/chat/completions"
    if isinstance(body, bytes):
        resp = httpx.post(url, content=body, headers={"content-type": "application/json"})
    else:
        resp = httpx.post(url, json=body)
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["message"]
    if param is not None:
        assert error["param"] == param
    assert "Traceback" not in resp.text


def test_body_over_the_limit_is_413(gateway: RunningGateway) -> None:
    huge = "x" * (gateway.settings.limits.max_body_bytes + 10)
    body = {"model": "thinkgate/auto", "messages": [{"role": "user", "content": huge}]}
    resp = httpx.post(f"{gateway.base_url}/chat/completions", json=body)
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Any:  # no content-length: the limit must hold while reading
        data = json.dumps(body).encode()
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    resp = httpx.post(f"{gateway.base_url}/chat/completions", content=chunks())
    assert resp.status_code == 413


def test_openai_client_sees_bad_requests_as_typed_errors(gateway: RunningGateway) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        _client(gateway).chat.completions.create(
            model="gpt-17", messages=[{"role": "user", "content": EASY}]
        )
    assert info.value.code == "model_not_found"


def test_redis_ledger_records_the_request(
    replay: ReplayUpstream,
    gateway_factory: Callable[..., RunningGateway],
    redis_ledger_url: str,
) -> None:
    gw = gateway_factory(base_config(replay.base_url, redis_ledger_url))
    raw = _client(gw).chat.completions.with_raw_response.create(
        model="thinkgate/think", messages=[{"role": "user", "content": HARD}]
    )
    rid = raw.headers["x-thinkgate-request-id"]
    records = read_records(redis_ledger_url)
    assert [r.request_id for r in records] == [rid]
    assert httpx.get(f"{gw.url}/v1/savings").json()["requests"] == 1


def test_search_profile_votes_and_says_how_many_samples_ran(
    replay: ReplayUpstream, gateway_factory: Callable[..., RunningGateway], tmp_path: Any
) -> None:
    config = base_config(replay.base_url, f"sqlite:///{tmp_path / 's.db'}")
    config["profiles"]["vote"] = {
        "model": "openai/Qwen2.5-32B",
        "api_base": replay.base_url,
        "predictor": "Qwen2.5-32B",
        "search": {"max_samples": 8, "min_samples": 2, "wave": 2, "threshold": 0.9},
    }
    gw = gateway_factory(config)
    before = replay.stats.requests
    raw = _client(gw).chat.completions.with_raw_response.create(
        model="thinkgate/vote", messages=[{"role": "user", "content": EASY}]
    )
    reply = raw.parse()
    samples = int(raw.headers["x-thinkgate-samples"])
    record = _record(gw, raw.headers["x-thinkgate-request-id"])
    # Every recorded sample agrees: the vote stops where the plan's rule says, with the
    # difficulty model's forecast as its prior and each sample weighed by its length against
    # the forecast length, long before the plan's maximum.
    forecast = record.predictions["vote"]
    plan = SamplingPlan(8, 0.9, 2, forecast["p_correct"], forecast["tokens"])
    length = count_tokens(replay_rows()[0].response or "")
    weight = sample_weight(length, plan.typical_tokens, None)
    stop = run_vote([0] * 8, plan, [weight] * 8)
    assert samples == stop.samples < 8
    assert json.loads(raw.http_response.text)["thinkgate"]["samples"] == samples
    assert "\\boxed{72}" in (reply.choices[0].message.content or "")
    assert replay.stats.requests - before >= samples
    # The usage is every sample's tokens; the saving, the samples not drawn at that rate.
    per_sample = count_tokens(replay_rows()[0].response or "")
    assert reply.usage is not None and reply.usage.completion_tokens == samples * per_sample
    assert record.samples == samples and record.completion_tokens == samples * per_sample
    assert record.saved_by["sampling"] == pytest.approx((8 - samples) * per_sample)
    planned = 8 * record.predictions["vote"]["tokens"]  # a search plans its maximum
    assert record.saved_by["routing"] == pytest.approx(
        record.predictions["think"]["tokens"] - planned
    )

    events = list(
        _client(gw).chat.completions.create(
            model="thinkgate/vote", messages=[{"role": "user", "content": EASY}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in events if c.choices)
    assert "\\boxed{72}" in text
