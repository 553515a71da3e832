"""The Responses API (`POST /v1/responses`) over thinkgate's chat pipeline, translated by litellm.

A Responses request becomes a chat-completions request with litellm's own bridge
(`LiteLLMCompletionResponsesConfig`: instructions, input items with images and files, function
tools, `text.format`, `reasoning.effort`, `max_output_tokens`), goes through the same routing,
watcher, ledger and metrics as any chat request, and comes back as a Response object or as
`response.*` events through litellm's `LiteLLMCompletionStreamingIterator` (reasoning items,
function-call items, usage). What thinkgate cannot honour without keeping state or running
hosted tools is refused with a 400 naming it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from difficulty.errors import InvalidInputError
from router.chat_schema import StreamOptions, ThinkgateOptions

__all__ = [
    "ResponsesRequest",
    "REFUSED",
    "RELAYED",
    "check_responses_request",
    "chat_body",
    "response_body",
    "response_events",
    "sse_event",
]


class ResponsesRequest(BaseModel):
    """POST /v1/responses: the fields thinkgate takes, strictly typed; see REFUSED for the rest."""

    model_config = ConfigDict(extra="allow")
    model: StrictStr = Field(min_length=1)
    input: StrictStr | list[dict[str, Any]]
    instructions: StrictStr | None = None
    max_output_tokens: StrictInt | None = Field(default=None, ge=1)
    metadata: dict[str, StrictStr] | None = None
    parallel_tool_calls: StrictBool | None = None
    reasoning: dict[str, Any] | None = None
    temperature: StrictFloat | None = Field(default=None, ge=0.0, le=2.0)
    text: dict[str, Any] | None = None
    tool_choice: StrictStr | dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    top_p: StrictFloat | None = Field(default=None, ge=0.0, le=1.0)
    top_logprobs: StrictInt | None = Field(default=None, ge=0, le=20)
    user: StrictStr | None = None
    service_tier: StrictStr | None = None
    safety_identifier: StrictStr | None = None
    prompt_cache_key: StrictStr | None = None
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    truncation: StrictStr | None = None
    store: StrictBool | None = None
    thinkgate: ThinkgateOptions | None = None


# Fields the bridge translates into the chat request.
RELAYED: tuple[str, ...] = (
    "model",
    "input",
    "instructions",
    "max_output_tokens",
    "metadata",
    "parallel_tool_calls",
    "reasoning",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_p",
    "user",
    "service_tier",
    "safety_identifier",
    "stream",
    "stream_options",
    "truncation",
    "store",
    "prompt_cache_key",
    "top_logprobs",
)
# Fields that need server-side state, hosted tools or background jobs thinkgate does not run.
REFUSED: dict[str, str] = {
    "previous_response_id": "thinkgate keeps no responses; send the whole conversation as input",
    "conversation": "thinkgate keeps no conversations; send the whole conversation as input",
    "background": "background responses are not supported",
    "prompt": "stored prompt templates are not supported",
    "include": "thinkgate returns no encrypted reasoning or hosted-tool outputs",
    "max_tool_calls": "hosted tools are not supported",
}


def check_responses_request(body: Mapping[str, Any]) -> None:
    """400 naming the first field thinkgate cannot honour."""
    for key, why in REFUSED.items():
        value = body.get(key)
        if value is not None and value is not False and value != []:
            raise InvalidInputError(f"'{key}' is not supported: {why}", param=key)
    if body.get("store") is True:
        raise InvalidInputError(
            "'store': true is not supported: thinkgate keeps no responses (send store: false)",
            param="store",
        )
    for i, tool in enumerate(body.get("tools") or ()):
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        if kind != "function":
            raise InvalidInputError(
                f"tools.{i}: only function tools are supported (got {kind!r})", param=f"tools.{i}"
            )
    if not isinstance(body.get("input"), str | list) or not body.get("input"):
        raise InvalidInputError("'input' must be a non-empty string or list", param="input")


def _request_params(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k in RELAYED and k not in ("model", "input")}


def chat_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """The chat-completions request for a (checked) Responses request, via litellm's bridge."""
    from litellm.responses.litellm_completion_transformation.transformation import (
        LiteLLMCompletionResponsesConfig as Bridge,
    )

    try:
        chat = Bridge.transform_responses_api_request_to_chat_completion_request(
            model=str(body["model"]),
            input=body["input"],
            responses_api_request=_request_params(body),  # type: ignore[arg-type]
            custom_llm_provider="openai",
            stream=bool(body.get("stream")),
        )
    except Exception as exc:  # the bridge raises its own errors on malformed input items
        raise InvalidInputError(f"invalid Responses request: {exc}", param="input") from None
    chat.pop("custom_llm_provider", None)
    chat.pop("stream_options", None)
    chat.pop("reasoning_summary", None)
    for key in ("prompt_cache_key", "top_logprobs"):
        if body.get(key) is not None:
            chat[key] = body[key]
    return chat


def response_body(
    body: Mapping[str, Any], completion: Mapping[str, Any], response_id: str
) -> dict[str, Any]:
    """The Response object for a finished chat completion."""
    from litellm.responses.litellm_completion_transformation.transformation import (
        LiteLLMCompletionResponsesConfig as Bridge,
    )
    from litellm.types.utils import ModelResponse

    response = Bridge.transform_chat_completion_response_to_responses_api_response(
        request_input=body["input"],
        responses_api_request=_request_params(body),  # type: ignore[arg-type]
        chat_completion_response=ModelResponse(**completion),
    )
    out: dict[str, Any] = _conform(response.model_dump(mode="json", exclude_none=True))
    out["id"] = response_id
    return out


def _conform(obj: Any) -> Any:
    """Fill in what OpenAI's schema requires and litellm leaves out (reasoning summaries,
    reasoning_text parts, usage details), so strict clients parse every object."""
    if isinstance(obj, list):
        return [_conform(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: _conform(v) for k, v in obj.items()}
    if out.get("type") == "reasoning":
        out.setdefault("summary", [])
        out.pop("role", None)
        for part in out.get("content") or ():
            if part.get("type") == "output_text":
                part["type"] = "reasoning_text"
                part.pop("annotations", None)
    if "input_tokens" in out and "output_tokens" in out:
        inputs = out.get("input_tokens_details") or {}
        out["input_tokens_details"] = {"cached_tokens": 0, "cache_write_tokens": 0, **inputs}
        out.setdefault("output_tokens_details", {"reasoning_tokens": 0})
    if out.get("type") in ("response.output_text.delta", "response.output_text.done"):
        out.setdefault("logprobs", [])
    return out


async def response_events(
    body: Mapping[str, Any], chunks: AsyncIterator[dict[str, Any]], model: str, response_id: str
) -> AsyncIterator[dict[str, Any]]:
    """`response.*` events for a stream of chat-completion chunks (litellm's own converter)."""
    from litellm.litellm_core_utils.litellm_logging import Logging
    from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper
    from litellm.responses.litellm_completion_transformation.streaming_iterator import (
        LiteLLMCompletionStreamingIterator,
    )
    from litellm.types.utils import ModelResponseStream

    async def typed() -> AsyncIterator[ModelResponseStream]:
        async for chunk in chunks:
            yield ModelResponseStream(**chunk)

    log = Logging(
        model=model,
        messages=[],
        stream=True,
        call_type="aresponses",
        start_time=datetime.now(),
        litellm_call_id="thinkgate",
        function_id="thinkgate",
    )
    # "cached_response": litellm's provider for a stream of already-parsed chunks.
    log.update_environment_variables(
        model=model,
        user=None,
        optional_params={},
        litellm_params={},
        custom_llm_provider="cached_response",
    )
    wrapper = CustomStreamWrapper(
        completion_stream=typed(),
        model=model,
        logging_obj=log,
        custom_llm_provider="cached_response",
        stream_options={"include_usage": True},
    )
    events = LiteLLMCompletionStreamingIterator(
        model=model,
        litellm_custom_stream_wrapper=wrapper,
        request_input=body["input"],
        responses_api_request=_request_params(body),  # type: ignore[arg-type]
        custom_llm_provider="openai",
    )
    async for event in events:
        out: dict[str, Any] = _conform(event.model_dump(mode="json", exclude_none=True))
        if isinstance(out.get("response"), dict):
            out["response"]["id"] = response_id  # one id, the gateway's, in every event
        yield out


def sse_event(event: Mapping[str, Any]) -> bytes:
    """One Responses server-sent event (`event:` names its type, as OpenAI sends it)."""
    data = json.dumps(event, separators=(",", ":"))
    return f"event: {event.get('type', 'message')}\ndata: {data}\n\n".encode()
