"""The chat request model: OpenAI's whole field list, strict types, and a decision per field."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat.completion_create_params import CompletionCreateParamsStreaming
from pydantic import ValidationError

from router.chat_schema import FIELDS, ChatRequest

OPENAI_FIELDS = sorted(CompletionCreateParamsStreaming.__annotations__)
BASE: dict[str, Any] = {"model": "thinkgate/auto", "messages": [{"role": "user", "content": "hi"}]}


def test_every_openai_field_has_a_decision_and_a_typed_slot() -> None:
    assert len(OPENAI_FIELDS) >= 37
    assert [f for f in OPENAI_FIELDS if f not in FIELDS] == []
    assert [f for f in OPENAI_FIELDS if f not in ChatRequest.model_fields] == []
    assert {decision for decision, _ in FIELDS.values()} <= {"relayed", "decided", "refused"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", "0.7"),
        ("top_p", True),
        ("n", 2.0),
        ("stream", "yes"),
        ("logprobs", 1),
        ("max_tokens", "10"),
        ("seed", 1.5),
        ("reasoning_effort", "extreme"),
        ("logit_bias", {"50256": "-100"}),
        ("stop", 7),
        ("thinkgate", {"effort": "always"}),
        ("thinkgate", {"unknown": 1}),
    ],
)
def test_wrong_types_are_refused_not_coerced(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as err:
        ChatRequest.model_validate({**BASE, field: value})
    assert err.value.errors()[0]["loc"][0] == field


def test_multimodal_tool_and_extra_fields_validate() -> None:
    body = {
        **BASE,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is in this picture?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        ],
        "temperature": 1,
        "top_k": 20,
        "chat_template_kwargs": {"enable_thinking": False},
    }
    request = ChatRequest.model_validate(body)
    assert request.temperature == 1.0
    assert request.model_extra == {"top_k": 20, "chat_template_kwargs": {"enable_thinking": False}}
    with pytest.raises(ValidationError, match="needs 'image_url'"):
        ChatRequest.model_validate(
            {**BASE, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}
        )
    with pytest.raises(ValidationError, match="tool_call_id"):
        ChatRequest.model_validate({**BASE, "messages": [{"role": "tool", "content": "x"}]})
