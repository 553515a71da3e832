"""Joining streamed chunks into one body, exactly as OpenAI's non-streamed API shapes it."""

from __future__ import annotations

from typing import Any

from openai.types.chat import ChatCompletion

from router.assembly import BodyAssembly


def chunk(delta: dict[str, Any], finish: str | None = None, **choice: Any) -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 7,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, **choice}],
    }


# Two parallel calls, as OpenAI streams them: id, type and name once, arguments in pieces.
TOOL_STREAM = [
    chunk({"role": "assistant", "content": None}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Pa'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ris"}'}}]}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": ""},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
    chunk({}, "tool_calls"),
    {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 7,
        "model": "m",
        "choices": [],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
    },
]


def test_tool_call_deltas_become_message_tool_calls() -> None:
    acc = BodyAssembly()
    for c in TOOL_STREAM:
        acc.add(c)
    body = acc.body("chatcmpl-1", "gpt", 1)
    parsed = ChatCompletion.model_validate(body)  # the openai client's own schema accepts it
    message = parsed.choices[0].message
    assert message.content is None
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []] == [  # type: ignore[union-attr]
        ("call_a", "get_weather", '{"city": "Paris"}'),
        ("call_b", "get_time", "{}"),
    ]
    assert parsed.choices[0].finish_reason == "tool_calls"
    assert body["usage"]["total_tokens"] == 13
    assert body["created"] == 7


def test_text_logprobs_reasoning_and_refusal_are_joined() -> None:
    top = {"token": "4", "logprob": -0.01, "bytes": [52], "top_logprobs": []}
    acc = BodyAssembly()
    acc.add(chunk({"role": "assistant", "reasoning_content": "2+2"}))
    acc.add(chunk({"reasoning_content": " is 4"}))
    acc.add(chunk({"content": "4"}, logprobs={"content": [top]}))
    acc.add(chunk({"content": "."}, logprobs={"content": [{**top, "token": "."}]}))
    acc.add(chunk({}, "stop"))
    body = acc.body("c", "m", 1)
    parsed = ChatCompletion.model_validate(body)
    assert parsed.choices[0].message.content == "4."
    assert body["choices"][0]["message"]["reasoning_content"] == "2+2 is 4"
    assert [t.token for t in parsed.choices[0].logprobs.content or []] == ["4", "."]  # type: ignore[union-attr]
    assert "usage" not in body


def test_legacy_function_call_and_audio_are_assembled() -> None:
    acc = BodyAssembly()
    acc.add(chunk({"function_call": {"name": "f", "arguments": '{"a"'}}))
    acc.add(chunk({"function_call": {"arguments": ": 1}"}}))
    acc.add(chunk({"audio": {"id": "aud_1", "data": "AAA", "transcript": "hel", "expires_at": 9}}))
    acc.add(chunk({"audio": {"data": "BBB", "transcript": "lo"}}, "function_call"))
    message = acc.body("c", "m", 1)["choices"][0]["message"]
    assert message["function_call"] == {"name": "f", "arguments": '{"a": 1}'}
    assert message["audio"] == {
        "id": "aud_1",
        "data": "AAABBB",
        "transcript": "hello",
        "expires_at": 9,
    }
    assert message["content"] is None


def test_anthropic_thinking_blocks_keep_their_signature() -> None:
    acc = BodyAssembly()
    acc.add(
        chunk(
            {
                "reasoning_content": "a",
                "thinking_blocks": [{"index": 0, "type": "thinking", "thinking": "a"}],
            }
        )
    )
    acc.add(
        chunk(
            {
                "reasoning_content": "b",
                "thinking_blocks": [{"index": 0, "type": "thinking", "thinking": "b"}],
            }
        )
    )
    acc.add(
        chunk(
            {
                "thinking_blocks": [
                    {"index": 0, "type": "thinking", "thinking": "", "signature": "sig"}
                ]
            }
        )
    )
    acc.add(chunk({"content": "ok"}, "stop"))
    message = acc.body("c", "m", 1)["choices"][0]["message"]
    assert message["thinking_blocks"] == [
        {"type": "thinking", "thinking": "ab", "signature": "sig"}
    ]
    assert message["reasoning_content"] == "ab" and message["content"] == "ok"
