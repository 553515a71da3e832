"""The Responses API translated by litellm's bridge: request to chat, chat back to Response."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from difficulty.errors import InvalidInputError
from router.assembly import BodyAssembly
from router.responses import chat_body, check_responses_request, response_body, response_events

TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
REQUEST: dict[str, Any] = {
    "model": "thinkgate/auto",
    "instructions": "Be brief.",
    "input": [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Weather in Paris?"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            ],
        },
    ],
    "tools": [TOOL],
    "reasoning": {"effort": "low"},
    "max_output_tokens": 300,
    "text": {"format": {"type": "json_object"}},
}


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 5,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


STREAM = [
    chunk({"role": "assistant", "reasoning_content": "Paris is in France. "}),
    chunk({"reasoning_content": "Call the tool."}),
    chunk({"content": "Checking."}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":'},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
    chunk({}, "tool_calls"),
    {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 5,
        "model": "m",
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
    },
]


def test_the_bridge_turns_a_responses_request_into_a_chat_request() -> None:
    chat = chat_body(REQUEST)
    assert chat["messages"][0] == {"role": "system", "content": "Be brief."}
    parts = chat["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"]
    assert chat["tools"][0]["function"]["name"] == "get_weather"
    assert chat["response_format"] == {"type": "json_object"}
    assert chat["reasoning_effort"] == "low" and chat["max_tokens"] == 300
    assert chat_body({"model": "m", "input": "hi"})["messages"] == [
        {"role": "user", "content": "hi"}
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("previous_response_id", "resp_1"),
        ("background", True),
        ("store", True),
        ("include", ["reasoning.encrypted_content"]),
        ("tools", [{"type": "web_search"}]),
        ("input", ""),
    ],
)
def test_what_needs_server_state_or_hosted_tools_is_refused_by_name(field: str, value: Any) -> None:
    with pytest.raises(InvalidInputError) as err:
        check_responses_request({**REQUEST, field: value})
    assert err.value.param is not None and err.value.param.startswith(field)


def test_a_chat_completion_becomes_a_response_the_openai_client_reads() -> None:
    acc = BodyAssembly()
    for c in STREAM:
        acc.add(c)
    out = Response.model_validate(response_body(REQUEST, acc.body("chatcmpl-x", "m", 5), "resp_x"))
    assert out.id == "resp_x"
    kinds = [item.type for item in out.output]
    assert kinds == ["reasoning", "message", "function_call"]
    call = out.output[2]
    assert call.type == "function_call" and call.arguments == '{"city":"Paris"}'
    assert out.usage is not None and out.usage.output_tokens == 9


def test_a_chunk_stream_becomes_response_events() -> None:
    async def source() -> AsyncIterator[dict[str, Any]]:
        for c in STREAM:
            yield c

    async def run() -> list[dict[str, Any]]:
        return [e async for e in response_events(REQUEST, source(), "m", "resp_y")]

    events = asyncio.run(run())
    adapter: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
    parsed = [adapter.validate_python(e) for e in events]
    assert parsed[0].type == "response.created" and parsed[-1].type == "response.completed"
    deltas = "".join(e.delta for e in parsed if e.type == "response.function_call_arguments.delta")
    assert deltas == '{"city":"Paris"}'
    final = parsed[-1].response
    assert final.id == "resp_y"
    assert [item.type for item in final.output] == ["reasoning", "message", "function_call"]
