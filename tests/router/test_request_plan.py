"""Needs, eligible profiles, refusals that name the field, and the effort sent upstream."""

from __future__ import annotations

from typing import Any

import pytest

from difficulty.errors import InvalidInputError
from router.chat_schema import ChatRequest
from router.request_plan import capabilities, plan_chat, upstream_params
from router.settings import settings_from_mapping
from router.upstream import Upstream

PROFILES: dict[str, Any] = {
    "small": {
        "model": "openai/small",
        "api_base": "http://127.0.0.1:9/v1",
        "predictor": "Qwen2.5-32B",
    },
    "vision": {
        "model": "openai/vision",
        "api_base": "http://127.0.0.1:9/v1",
        "predictor": "Qwen2.5-32B",
        "modalities": ["text", "image"],
    },
    "qwen3": {
        "model": "openai/qwen3",
        "api_base": "http://127.0.0.1:9/v1",
        "predictor": "QwQ-32B",
        "params": {"extra_body": {"chat_template_kwargs": {"enable_thinking": True, "x": 1}}},
    },
    "claude": {
        "model": "anthropic/claude-sonnet-4-5",
        "predictor": "QwQ-32B",
        "params": {"thinking": {"type": "enabled", "budget_tokens": 8000}},
    },
}
PROFILES["vote"] = {
    "model": "openai/vote",
    "api_base": "http://127.0.0.1:9/v1",
    "predictor": "QwQ-32B",
    "search": {"max_samples": 4},
}
SETTINGS = settings_from_mapping(
    {"profiles": PROFILES, "auth": {"api_key_envs": []}, "effort": {"mode": "override"}}
)
CAPS = capabilities(
    SETTINGS,
    {n: None for n in PROFILES}
    | {"claude": frozenset({"tools", "temperature", "thinking", "reasoning_effort"})},
)
IMAGE = [
    {"type": "text", "text": "what is this?"},
    {"type": "image_url", "image_url": {"url": "data:,"}},
]


def chat(**fields: Any) -> ChatRequest:
    body = {"model": "thinkgate/auto", "messages": [{"role": "user", "content": "hi"}], **fields}
    return ChatRequest.from_body(body)


def test_an_image_is_only_eligible_where_the_profile_takes_images() -> None:
    plan = plan_chat(SETTINGS, chat(messages=[{"role": "user", "content": IMAGE}]), CAPS, None)
    assert plan.eligible == ("vision",)
    with pytest.raises(InvalidInputError) as err:
        plan.check("small")
    assert err.value.param == "messages" and "image" in err.value.message


def test_no_profile_for_audio_output_is_a_400_naming_modalities() -> None:
    with pytest.raises(InvalidInputError) as err:
        plan_chat(SETTINGS, chat(modalities=["text", "audio"]), CAPS, None)
    assert err.value.param == "modalities"


def test_a_field_the_provider_does_not_take_excludes_it() -> None:
    plan = plan_chat(SETTINGS, chat(logprobs=True), CAPS, None)
    assert "claude" not in plan.eligible
    with pytest.raises(InvalidInputError) as err:
        plan.check("claude")
    assert err.value.param == "logprobs"


def test_tools_and_json_mode_mark_the_request_constrained() -> None:
    assert plan_chat(
        SETTINGS, chat(tools=[{"type": "function", "function": {"name": "f"}}]), CAPS, None
    ).constrained
    assert plan_chat(
        SETTINGS, chat(response_format={"type": "json_object"}), CAPS, None
    ).constrained
    assert not plan_chat(SETTINGS, chat(response_format={"type": "text"}), CAPS, None).constrained


def sent(body: dict[str, Any], profile: str) -> dict[str, Any]:
    request = chat(**body)
    plan = plan_chat(SETTINGS, request, CAPS, None)
    params, _ = upstream_params(request, SETTINGS.profiles[profile], plan)
    merged: dict[str, Any] = Upstream._params(None, SETTINGS.profiles[profile], params)  # type: ignore[arg-type]
    return merged


def test_override_sends_the_profile_effort_and_drops_the_client_one() -> None:
    out = sent(
        {"reasoning_effort": "low", "chat_template_kwargs": {"enable_thinking": False, "y": 2}},
        "qwen3",
    )
    assert "reasoning_effort" not in out
    assert out["chat_template_kwargs"] == {"y": 2}
    assert out["extra_body"]["chat_template_kwargs"] == {"enable_thinking": True, "x": 1}


def test_keep_sends_the_client_effort_instead_of_the_profile_one() -> None:
    out = sent(
        {"chat_template_kwargs": {"enable_thinking": False}, "thinkgate": {"effort": "keep"}},
        "qwen3",
    )
    assert out["extra_body"]["chat_template_kwargs"] == {"enable_thinking": False, "x": 1}
    out = sent({"reasoning_effort": "low", "thinkgate": {"effort": "keep"}}, "claude")
    assert out["reasoning_effort"] == "low" and "thinking" not in out


def test_cap_lowers_only() -> None:
    low = sent({"reasoning_effort": "low", "thinkgate": {"effort": "cap"}}, "claude")
    assert low["reasoning_effort"] == "low" and "thinking" not in low
    high = sent({"reasoning_effort": "max", "thinkgate": {"effort": "cap"}}, "claude")
    assert "reasoning_effort" not in high and high["thinking"]["budget_tokens"] == 8000


def test_every_other_field_and_unknown_extras_are_relayed() -> None:
    body = {
        "logprobs": True,
        "top_logprobs": 2,
        "seed": 7,
        "top_k": 20,
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    out = sent(body, "small")
    assert {k: out[k] for k in body} == body


def test_a_search_profile_does_not_vote_over_tool_calls() -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    plan = plan_chat(SETTINGS, chat(tools=tools), CAPS, None)
    assert "vote" not in plan.eligible and "small" in plan.eligible
    with pytest.raises(InvalidInputError) as err:
        plan.check("vote")
    assert err.value.param == "tools"
    assert "vote" in plan_chat(SETTINGS, chat(), CAPS, None).eligible
