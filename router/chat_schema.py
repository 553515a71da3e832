"""The chat-completions request as thinkgate validates it, and what it does with every field.

The model covers OpenAI's whole request surface with strict types (a string temperature or a
boolean top_p is a 400, not a coercion); unknown fields are kept and relayed upstream.
`FIELDS` says, for every field of OpenAI's reference, whether thinkgate relays it, translates it
through litellm for other providers, decides it itself, or refuses it; bench/dropin.py checks
it against the `openai` package's own list and the README prints it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from policies.effort import EFFORT_LEVELS, EFFORT_MODES, client_effort
from router.conversation import earlier_turns
from router.dialects import REASONING_OUTPUTS

__all__ = [
    "STEP_BY_STEP",
    "content_text",
    "ContentPart",
    "ToolCall",
    "Message",
    "StreamOptions",
    "ThinkgateOptions",
    "ChatRequest",
    "FIELDS",
    "PART_MODALITIES",
    "part_modality",
]

_OPEN = ConfigDict(extra="allow")
# The system instruction of the step-by-step prompt style.
STEP_BY_STEP = (
    "Think step by step, showing your reasoning, then state the final answer on the last line."
)
# Content part type -> the input modality a profile must declare to take it.
PART_MODALITIES = {
    "text": "text",
    "refusal": "text",
    "image_url": "image",
    "input_audio": "audio",
    "file": "file",
}
_PART_FIELD = {"text": "text", "refusal": "refusal", "image_url": "image_url"}
_PART_FIELD |= {"input_audio": "input_audio", "file": "file"}


def part_modality(part_type: str) -> str:
    """The modality of a content part type (an unknown type is its own modality)."""
    return PART_MODALITIES.get(part_type, part_type)


class ContentPart(BaseModel):
    """One part of a message's content: text, image_url, input_audio, file, refusal, or other."""

    model_config = _OPEN
    type: StrictStr = Field(min_length=1)
    text: StrictStr | None = None
    refusal: StrictStr | None = None
    image_url: dict[str, Any] | None = None
    input_audio: dict[str, Any] | None = None
    file: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _carries_its_payload(self) -> ContentPart:
        key = _PART_FIELD.get(self.type)
        if key is not None and getattr(self, key) is None:
            raise ValueError(f"a '{self.type}' content part needs '{key}'")
        return self


def content_text(content: Any) -> str:
    """The text of a message's content: the string, or its text parts joined (parsed or raw);
    images, audio and files carry none."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        kind = part.get("type") if isinstance(part, Mapping) else getattr(part, "type", None)
        text = part.get("text") if isinstance(part, Mapping) else getattr(part, "text", None)
        if kind == "text" and isinstance(text, str):
            texts.append(text)
    return "".join(texts)


class ToolCall(BaseModel):
    """An assistant message's tool call (replayed in multi-turn conversations)."""

    model_config = _OPEN
    id: StrictStr
    type: StrictStr = "function"
    function: dict[str, Any] | None = None


class Message(BaseModel):
    """One chat message; content is text or a list of parts."""

    model_config = _OPEN
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: StrictStr | list[ContentPart] | None = None
    name: StrictStr | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: StrictStr | None = None

    @property
    def text(self) -> str:
        """The message's text (text parts joined)."""
        return content_text(self.content)

    @model_validator(mode="after")
    def _tool_reply_names_its_call(self) -> Message:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a 'tool' message needs 'tool_call_id'")
        return self


class StreamOptions(BaseModel):
    """stream_options: thinkgate always asks the upstream for usage; these say what to relay."""

    model_config = _OPEN
    include_usage: StrictBool | None = None
    include_obfuscation: StrictBool | None = None


class ThinkgateOptions(BaseModel):
    """The `thinkgate` request field (`extra_body={"thinkgate": {...}}` from the openai client)."""

    model_config = ConfigDict(extra="forbid")
    effort: Literal[EFFORT_MODES] | None = None  # type: ignore[valid-type]
    reasoning_output: Literal[REASONING_OUTPUTS] | None = None  # type: ignore[valid-type]


class ChatRequest(BaseModel):
    """POST /v1/chat/completions: OpenAI's request fields, strictly typed; extras are relayed."""

    model_config = _OPEN
    model: StrictStr = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    n: StrictInt | None = Field(default=None, ge=1, le=16)
    max_tokens: StrictInt | None = Field(default=None, ge=1)
    max_completion_tokens: StrictInt | None = Field(default=None, ge=1)
    temperature: StrictFloat | None = Field(default=None, ge=0.0, le=2.0)
    top_p: StrictFloat | None = Field(default=None, ge=0.0, le=1.0)
    stop: StrictStr | list[StrictStr] | None = Field(default=None)
    seed: StrictInt | None = None
    presence_penalty: StrictFloat | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: StrictFloat | None = Field(default=None, ge=-2.0, le=2.0)
    user: StrictStr | None = None
    logit_bias: dict[str, StrictInt] | None = None
    logprobs: StrictBool | None = None
    top_logprobs: StrictInt | None = Field(default=None, ge=0, le=20)
    tools: list[dict[str, Any]] | None = None
    tool_choice: StrictStr | dict[str, Any] | None = None
    parallel_tool_calls: StrictBool | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: StrictStr | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    reasoning_effort: Literal[EFFORT_LEVELS] | None = None  # type: ignore[valid-type]
    verbosity: Literal["low", "medium", "high"] | None = None
    metadata: dict[str, StrictStr] | None = None
    store: StrictBool | None = None
    service_tier: StrictStr | None = None
    safety_identifier: StrictStr | None = None
    prompt_cache_key: StrictStr | None = None
    prompt_cache_options: dict[str, Any] | None = None
    prompt_cache_retention: StrictStr | None = None
    moderation: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    web_search_options: dict[str, Any] | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    audio: dict[str, Any] | None = None
    thinkgate: ThinkgateOptions | None = None
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ChatRequest:
        """Validate a parsed JSON body, keeping it as sent for relaying."""
        request = cls.model_validate(body)
        request.keep_raw(body)
        return request

    def keep_raw(self, body: dict[str, Any]) -> None:
        """Keep the body as the client sent it: messages and fields are relayed from it."""
        self._raw = body

    @property
    def raw_messages(self) -> list[dict[str, Any]]:
        """The messages exactly as the client sent them."""
        raw = self._raw.get("messages")
        if isinstance(raw, list):
            return [dict(m) for m in raw]
        return [m.model_dump(exclude_none=True) for m in self.messages]

    def passthrough(self) -> dict[str, Any]:
        """Every field relayed upstream as the client sent it: OpenAI's and unknown extras,
        minus what thinkgate decides (model, stream, n, token limits, effort controls)."""
        raw = self._raw or self.model_dump(exclude_none=True)
        out = {k: v for k, v in raw.items() if k not in _DECIDED and v is not None}
        kwargs = out.get("chat_template_kwargs")
        if isinstance(kwargs, dict) and "enable_thinking" in kwargs:
            rest = {k: v for k, v in kwargs.items() if k != "enable_thinking"}
            if rest:
                out["chat_template_kwargs"] = rest
            else:
                del out["chat_template_kwargs"]
        return out

    def effort(self) -> dict[str, Any]:
        """The client's explicit reasoning-effort controls (policies.effort)."""
        return client_effort(self._raw or self.model_dump(exclude_none=True))

    @property
    def prompt(self) -> str:
        """The last user message's text: what the difficulty model scores."""
        return next((m.text for m in reversed(self.messages) if m.role == "user"), "")

    def earlier_turns(self, turns: int) -> list[str]:
        """The user messages before the last one that the difficulty model scores too
        (router.conversation: the latest `turns` user turns in all)."""
        return earlier_turns([m.text for m in self.messages if m.role == "user"], turns)

    @property
    def transcript(self) -> str:
        """Every message's text, one after another (the ledger's prompt text)."""
        return "\n".join(m.text for m in self.messages)

    def upstream_messages(self, style: str) -> list[dict[str, Any]]:
        """The messages sent upstream, as the client sent them; the step-by-step style adds a
        system instruction."""
        messages = self.raw_messages
        if style == "step_by_step":
            messages.insert(0, {"role": "system", "content": STEP_BY_STEP})
        return messages

    def upstream_params(self) -> dict[str, Any]:
        """The caller's options relayed upstream: every relayed field, the limit, n."""
        params = self.passthrough()
        if self.max_completion_tokens is not None:
            params["max_completion_tokens"] = self.max_completion_tokens
        elif self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        if self.n is not None and self.n > 1:
            params["n"] = self.n
        return params

    @property
    def requested_max_tokens(self) -> int | None:
        """The caller's completion limit, whichever field carried it."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def include_usage(self) -> bool:
        """Whether a streaming caller asked for the final usage chunk."""
        return bool(self.stream_options and self.stream_options.include_usage)

    @field_validator("stream", mode="before")
    @classmethod
    def _null_stream(cls, value: Any) -> Any:
        return False if value is None else value  # OpenAI takes `stream: null` as false

    @model_validator(mode="after")
    def _shapes(self) -> ChatRequest:
        if self.response_format is not None and not isinstance(
            self.response_format.get("type"), str
        ):
            raise ValueError("response_format needs a 'type' (text, json_object or json_schema)")
        for i, tool in enumerate(self.tools or ()):
            if not isinstance(tool.get("type"), str):
                raise ValueError(f"tools.{i} needs a 'type'")
        return self


# Fields thinkgate sets itself rather than relaying them as sent.
_DECIDED = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "n",
        "max_tokens",
        "max_completion_tokens",
        "thinkgate",
        "reasoning_effort",
        "thinking",
        "reasoning",
    }
)

# Field -> (decision, what thinkgate does). relayed: sent to the chosen upstream as given
# (litellm translates it for providers that are not OpenAI-compatible); decided: thinkgate sets
# it; refused: a 400 naming the field. Every row is checked against openai's own list.
FIELDS: dict[str, tuple[str, str]] = {
    "model": (
        "decided",
        "thinkgate/auto, thinkgate/auto?target=NAME, thinkgate/<profile> or an upstream model name",
    ),
    "messages": (
        "relayed",
        "intact (tool calls, tool results; multimodal parts only to profiles whose `modalities` "
        "take them); step-by-step profiles add one system message",
    ),
    "stream": (
        "decided",
        "the upstream is always streamed (so the watcher can act); the client gets SSE or one body",
    ),
    "stream_options": (
        "decided",
        "the upstream is always asked for usage; the client gets the usage chunk when "
        "`include_usage` is set",
    ),
    "n": ("relayed", "on a forced profile or upstream model; refused (400) with thinkgate/auto"),
    "max_tokens": ("relayed", "capped by the profile's `max_tokens`"),
    "max_completion_tokens": ("relayed", "capped by the profile's `max_tokens`"),
    "temperature": ("relayed", ""),
    "top_p": ("relayed", ""),
    "stop": ("relayed", ""),
    "seed": ("relayed", ""),
    "presence_penalty": ("relayed", ""),
    "frequency_penalty": ("relayed", ""),
    "user": ("relayed", ""),
    "logit_bias": ("relayed", ""),
    "logprobs": ("relayed", "non-streamed: joined into `choices[].logprobs`"),
    "top_logprobs": ("relayed", ""),
    "tools": (
        "relayed",
        "tool-call deltas relayed; non-streamed: assembled into `message.tool_calls`; "
        "early exit off",
    ),
    "tool_choice": ("relayed", ""),
    "parallel_tool_calls": ("relayed", ""),
    "functions": ("relayed", "legacy; `function_call` deltas assembled"),
    "function_call": ("relayed", "legacy"),
    "response_format": ("relayed", "JSON mode and JSON schema; early exit off"),
    "reasoning_effort": (
        "decided",
        "the effort policy: override (default), keep or cap; litellm translates it "
        "(e.g. to Anthropic `thinking`)",
    ),
    "verbosity": ("relayed", ""),
    "metadata": ("relayed", ""),
    "store": ("relayed", ""),
    "service_tier": ("relayed", ""),
    "safety_identifier": ("relayed", ""),
    "prompt_cache_key": ("relayed", ""),
    "prompt_cache_options": ("relayed", ""),
    "prompt_cache_retention": ("relayed", ""),
    "moderation": ("relayed", ""),
    "prediction": ("relayed", ""),
    "web_search_options": ("relayed", ""),
    "modalities": (
        "relayed",
        "audio output only to profiles with `audio` in `output_modalities`, else 400",
    ),
    "audio": (
        "relayed",
        "with `modalities: [audio]`; non-streamed audio deltas joined into `message.audio`",
    ),
}
