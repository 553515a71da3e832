"""A drop-in: real clients (openai sync, async, streamed; LangChain) through the gateway to the
replay upstream, asserting on what the client got and on the body the upstream received."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai import AsyncOpenAI, BadRequestError, OpenAI

from difficulty.datasets import load_dataset
from router.chat_schema import FIELDS
from router.replay import ReplayUpstream
from router.replay.answers import recorded_answer
from tests.data.dialects.build import ITEMS
from tests.router.compat_fields import FIELD_SAMPLES, TOOL
from tests.router.conftest import EASY, RunningGateway, replay_rows, start_gateway

TRACE = next(r for r in load_dataset("mip-gsm8k") if r.id == ITEMS[0] and r.profile == "QwQ-32B")
O3 = next(r for r in load_dataset("mip-gsm8k") if r.id == ITEMS[0] and r.profile == "o3-mini")
EASY_ANSWER = next(
    r.response for r in replay_rows() if r.prompt == EASY and r.profile == "Qwen2.5-32B"
)
DIALECTS = {
    "think": "reasoning_content",
    "think_reasoning": "reasoning",
    "think_tags": "think_tags",
    "think_close": "think_close",
    "claude": "anthropic",
}
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


def _http(api_base: str, dialect: str | None = None, **extra: Any) -> dict[str, Any]:
    profile: dict[str, Any] = {"model": "openai/QwQ-32B", "api_base": api_base, **extra}
    if dialect is not None:
        profile["params"] = {"extra_headers": {"x-replay-dialect": dialect}}
    return profile


@pytest.fixture(scope="module")
def upstream() -> Iterator[ReplayUpstream]:
    rows = [*replay_rows(), TRACE, O3]
    with ReplayUpstream(rows, aliases={"claude-sonnet-4-5": "QwQ-32B"}) as replay:
        yield replay


@pytest.fixture(scope="module")
def gw(
    upstream: ReplayUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    base = upstream.base_url
    watch = {"convergence": {"enabled": True, "calibration": False}}  # the shipped threshold
    profiles = {
        "direct": {
            "model": "openai/Qwen2.5-32B",
            "api_base": base,
            "predictor": "Qwen2.5-32B",
            "modalities": ["text", "image"],
        },
        "think": {**_http(base), "predictor": "QwQ-32B", **watch},
        "think_reasoning": {**_http(base, "reasoning"), **watch},
        "think_tags": {**_http(base, "think_tags"), **watch},
        "think_close": {**_http(base, "think_close"), **watch},
        "claude": {
            "model": "anthropic/claude-sonnet-4-5",
            "api_base": upstream.url,
            "params": {"thinking": {"type": "enabled", "budget_tokens": 8000}},
            **watch,
        },
        "hidden": {
            "model": "openai/o3-mini",
            "api_base": base,
            "params": {"extra_headers": {"x-replay-dialect": "hidden"}},
        },
        "effort": {**_http(base), "params": {"reasoning_effort": "high"}},
    }
    db = tmp_path_factory.mktemp("compat") / "ledger.db"
    config = {
        "profiles": profiles,
        "policy": {"kind": "target", "epsilon": 0.05},
        "reference_profile": "think",
        "ledger": {"url": f"sqlite:///{db}"},
    }
    gateway = start_gateway(config)
    yield gateway
    gateway.server.stop()


def client(gw: RunningGateway) -> OpenAI:
    return OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)


def last_body(upstream: ReplayUpstream, path: str = "/v1/chat/completions") -> dict[str, Any]:
    body: dict[str, Any] = next(r["body"] for r in reversed(upstream.received) if r["path"] == path)
    return body


def record(gw: RunningGateway, request_id: str) -> Any:
    return next(r for r in gw.records() if r.request_id == request_id)


# -- tools and structured output ---------------------------------------------------------


def test_tool_calls_are_assembled_in_a_non_streamed_body(
    gw: RunningGateway, upstream: ReplayUpstream
) -> None:
    choice = {"type": "function", "function": {"name": "submit"}}
    reply = client(gw).chat.completions.create(
        model="thinkgate/direct",
        messages=[{"role": "user", "content": EASY}],
        tools=[TOOL],  # type: ignore[list-item]
        tool_choice=choice,  # type: ignore[arg-type]
    )
    message = reply.choices[0].message
    assert reply.choices[0].finish_reason == "tool_calls"
    assert message.content is None
    call = (message.tool_calls or [])[0]
    assert call.function.name == "submit"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"total": EASY_ANSWER}  # type: ignore[union-attr]
    sent = last_body(upstream)
    assert sent["tools"] == [TOOL] and sent["tool_choice"] == choice


def test_tool_call_deltas_stream_to_an_async_client(gw: RunningGateway) -> None:
    async def run() -> tuple[str, str, dict[str, Any]]:
        async with AsyncOpenAI(base_url=gw.base_url, api_key="unused", max_retries=0) as api:
            return await collect(api)

    async def collect(api: AsyncOpenAI) -> tuple[str, str, dict[str, Any]]:
        stream = await api.chat.completions.create(
            model="thinkgate/direct",
            messages=[{"role": "user", "content": EASY}],
            tools=[TOOL],  # type: ignore[list-item]
            tool_choice="required",
            stream=True,
        )
        name, arguments, facts = "", "", {}
        async for chunk in stream:
            facts = (chunk.model_extra or {}).get("thinkgate") or facts
            for c in chunk.choices:
                for call in c.delta.tool_calls or []:
                    name += call.function.name or "" if call.function else ""
                    arguments += (call.function.arguments or "") if call.function else ""
        return name, arguments, facts

    name, arguments, facts = asyncio.run(run())
    assert name == "submit" and json.loads(arguments) == {"total": EASY_ANSWER}
    assert facts["profile"] == "direct" and facts["early_exit"] is None


def test_a_multi_turn_tool_conversation_reaches_the_upstream_intact(
    gw: RunningGateway, upstream: ReplayUpstream
) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": EASY},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "submit", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "recorded"},
    ]
    reply = client(gw).chat.completions.create(
        model="thinkgate/auto", messages=messages, tools=[TOOL]
    )  # type: ignore[arg-type,list-item]
    assert reply.choices[0].message.content == EASY_ANSWER
    assert last_body(upstream)["messages"] == messages


def test_json_mode_on_a_thinking_profile_is_never_cut(
    gw: RunningGateway, upstream: ReplayUpstream
) -> None:
    reply = client(gw).chat.completions.create(
        model="thinkgate/think",
        messages=[{"role": "user", "content": TRACE.prompt}],
        response_format={"type": "json_object"},
    )
    assert json.loads(reply.choices[0].message.content or "") == {"answer": recorded_answer(TRACE)}
    assert (reply.model_extra or {})["thinkgate"]["early_exit"] is None
    assert last_body(upstream)["response_format"] == {"type": "json_object"}


# -- multimodal ------------------------------------------------------------------------------


def test_an_image_goes_only_to_a_profile_that_takes_images(
    gw: RunningGateway, upstream: ReplayUpstream
) -> None:
    content = [{"type": "text", "text": EASY}, IMAGE]
    raw = client(gw).chat.completions.with_raw_response.create(
        model="thinkgate/auto",
        messages=[{"role": "user", "content": content}],  # type: ignore[list-item]
    )
    assert raw.headers["x-thinkgate-profile"] == "direct"
    assert last_body(upstream)["messages"][0]["content"] == content
    with pytest.raises(BadRequestError) as err:
        client(gw).chat.completions.create(
            model="thinkgate/think",
            messages=[{"role": "user", "content": content}],  # type: ignore[list-item]
        )
    assert err.value.body["param"] == "messages"  # type: ignore[index]


# -- reasoning dialects ----------------------------------------------------------------------


def stream_facts(
    gw: RunningGateway, model: str, **extra: Any
) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    reasoning, content, facts, usage = "", "", {}, {}
    stream = client(gw).chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": TRACE.prompt}],
        stream=True,
        stream_options={"include_usage": True},
        **extra,
    )
    for chunk in stream:
        facts = (chunk.model_extra or {}).get("thinkgate") or facts
        usage = chunk.usage.model_dump() if chunk.usage else usage
        for c in chunk.choices:
            more = c.delta.model_extra or {}
            reasoning += more.get("reasoning_content") or more.get("reasoning") or ""
            content += c.delta.content or ""
    return reasoning, content, facts, usage


def test_every_dialect_exits_early_at_the_same_point(gw: RunningGateway) -> None:
    exits = {}
    for profile, dialect in DIALECTS.items():
        reasoning, content, facts, usage = stream_facts(gw, f"thinkgate/{profile}")
        assert facts["early_exit"] is not None, profile
        exits[profile] = facts["early_exit"]["tokens_at_exit"]
        assert usage["completion_tokens"] > 0
        assert record(gw, facts["request_id"]).reasoning["dialect"] == dialect
        if dialect in ("think_tags", "think_close"):
            assert "</think>" in content and "75" in content.split("</think>")[-1]
        else:
            assert reasoning and "75" in content
    assert len(set(exits.values())) == 1, exits


def test_thinking_reaches_the_client_in_the_dialect_it_asks_for(gw: RunningGateway) -> None:
    options = {"thinkgate": {"reasoning_output": "reasoning_content"}}
    reasoning, content, _, _ = stream_facts(gw, "thinkgate/think_close", extra_body=options)
    assert reasoning.startswith(TRACE.reasoning[:40])  # type: ignore[index]
    assert "</think>" not in content and "<think>" not in content


def test_hidden_reasoning_is_counted_from_the_usage(gw: RunningGateway) -> None:
    reply = client(gw).chat.completions.create(
        model="thinkgate/hidden", messages=[{"role": "user", "content": O3.prompt}]
    )
    assert reply.usage is not None and reply.usage.completion_tokens_details is not None
    thought = int((O3.extra or {})["thinking_tokens"])  # o3-mini's recorded count
    assert reply.usage.completion_tokens_details.reasoning_tokens == thought
    facts = (reply.model_extra or {})["thinkgate"]
    expected = {"dialect": "hidden", "tokens": thought, "hidden": True}
    assert record(gw, facts["request_id"]).reasoning == expected


# -- effort ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "asked", "sent", "honoured"),
    [
        ("override", "low", "high", "profile"),
        ("keep", "low", "low", "client"),
        ("cap", "low", "low", "client"),
        ("cap", "xhigh", "high", "profile"),
    ],
)
def test_the_client_effort_is_kept_capped_or_overridden(
    gw: RunningGateway, upstream: ReplayUpstream, mode: str, asked: str, sent: str, honoured: str
) -> None:
    reply = client(gw).chat.completions.create(
        model="thinkgate/effort",
        messages=[{"role": "user", "content": EASY}],
        reasoning_effort=asked,  # type: ignore[arg-type]
        extra_body={"thinkgate": {"effort": mode}},
    )
    assert last_body(upstream)["reasoning_effort"] == sent
    effort = record(gw, (reply.model_extra or {})["thinkgate"]["request_id"]).effort
    assert effort["mode"] == mode and effort["honoured"] == honoured


# -- the whole field list --------------------------------------------------------------------

RELAYED = sorted(
    f for f, (decision, _) in FIELDS.items() if decision == "relayed" and f not in ("messages", "n")
)


@pytest.mark.parametrize("field", RELAYED)
def test_every_relayed_field_reaches_the_upstream(
    gw: RunningGateway, upstream: ReplayUpstream, field: str
) -> None:
    body = {
        "model": "thinkgate/direct",
        "messages": [{"role": "user", "content": EASY}],
        field: FIELD_SAMPLES[field],
    }
    client(gw).post("/chat/completions", body=body, cast_to=object)
    assert last_body(upstream)[field] == FIELD_SAMPLES[field]


def test_n_with_routing_is_refused_by_name(gw: RunningGateway) -> None:
    with pytest.raises(BadRequestError) as err:
        client(gw).chat.completions.create(
            model="thinkgate/auto", messages=[{"role": "user", "content": EASY}], n=2
        )
    assert err.value.body["param"] == "n"  # type: ignore[index]


def test_usage_is_always_returned(gw: RunningGateway) -> None:
    reply = client(gw).chat.completions.create(
        model="thinkgate/direct", messages=[{"role": "user", "content": EASY}]
    )
    assert reply.usage is not None and reply.usage.total_tokens > 0
    _, _, facts, usage = stream_facts(gw, "thinkgate/think")
    assert usage["total_tokens"] > 0 and facts["usage_counted"] is True  # counted after the cut


# -- Responses API, completions, LangChain ---------------------------------------------------


def test_the_responses_api_is_routed_and_answered(
    gw: RunningGateway, upstream: ReplayUpstream
) -> None:
    api = client(gw)
    reply = api.responses.create(model="thinkgate/direct", input=EASY, store=False)
    assert reply.output_text == EASY_ANSWER
    tool = {"type": "function", "name": "submit", "parameters": TOOL["function"]["parameters"]}
    events = list(
        api.responses.create(
            model="thinkgate/direct",
            input=EASY,
            tools=[tool],  # type: ignore[list-item]
            tool_choice="required",
            stream=True,
            store=False,
        )
    )
    done = events[-1]
    assert done.type == "response.completed"
    calls = [item for item in done.response.output if item.type == "function_call"]
    assert calls and json.loads(calls[0].arguments) == {"total": EASY_ANSWER}
    assert last_body(upstream)["tools"][0]["function"]["name"] == "submit"
    with pytest.raises(BadRequestError) as err:
        api.responses.create(model="thinkgate/direct", input=EASY, previous_response_id="resp_1")
    assert err.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_the_responses_api_streams_reasoning_items(gw: RunningGateway) -> None:
    events = list(
        client(gw).responses.create(
            model="thinkgate/think", input=TRACE.prompt, stream=True, store=False
        )
    )
    kinds = [item.type for item in events[-1].response.output]  # type: ignore[union-attr]
    assert kinds[0] == "reasoning" and "message" in kinds


def test_completions_are_passed_through(gw: RunningGateway, upstream: ReplayUpstream) -> None:
    prompt = f"<|im_start|>user\n{EASY}<|im_end|>\n<|im_start|>assistant\n"
    reply = client(gw).completions.create(model="thinkgate/direct", prompt=prompt, max_tokens=50)
    assert (
        reply.choices[0].text.strip() and last_body(upstream, "/v1/completions")["prompt"] == prompt
    )
    assert any(r.endpoint == "completions" for r in gw.records())


def test_langchain_invokes_streams_and_calls_tools(gw: RunningGateway) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model="thinkgate/direct", base_url=gw.base_url, api_key="unused", max_retries=0
    )  # type: ignore[arg-type]
    assert llm.invoke(EASY).content == EASY_ANSWER
    assert "".join(str(c.content) for c in llm.stream(EASY)) == EASY_ANSWER
    called = llm.bind_tools([TOOL], tool_choice="submit").invoke(EASY)
    assert called.tool_calls[0]["name"] == "submit"  # type: ignore[attr-defined]
    assert called.tool_calls[0]["args"] == {"total": EASY_ANSWER}  # type: ignore[attr-defined]


def test_openapi_is_served(gw: RunningGateway) -> None:
    import httpx

    doc = httpx.get(f"{gw.url}/openapi.json").json()
    assert "/v1/responses" in doc["paths"] and "/v1/embeddings" in doc["paths"]
