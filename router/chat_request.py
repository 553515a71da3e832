"""The chat-completions request: read with a size limit, parse, validate into typed fields."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)
from starlette.requests import ClientDisconnect, Request

from difficulty.errors import InvalidInputError
from router.errors import PayloadTooLargeError, invalid_input

__all__ = [
    "Message",
    "ChatRequest",
    "PASSTHROUGH_PARAMS",
    "read_body",
    "parse_json",
    "parse_chat_request",
    "validated",
    "content_text",
    "STEP_BY_STEP",
]

M = TypeVar("M", bound=BaseModel)

# The system instruction of the step-by-step prompt style.
STEP_BY_STEP = (
    "Think step by step, showing your reasoning, then state the final answer on the last line."
)
# Sampling options a caller may set that are relayed upstream unchanged.
PASSTHROUGH_PARAMS = (
    "temperature",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "user",
)


class TextPart(BaseModel):
    """A content part; only text is accepted."""

    model_config = ConfigDict(extra="allow")
    type: StrictStr
    text: StrictStr | None = None


class Message(BaseModel):
    """One chat message with text content."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: StrictStr | list[TextPart] | None = None

    @property
    def text(self) -> str:
        """The message's text (text parts joined)."""
        return content_text(self.content)


class ChatRequest(BaseModel):
    """The fields of POST /v1/chat/completions that thinkgate reads; others are ignored."""

    model_config = ConfigDict(extra="allow")
    model: StrictStr = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: StrictBool = False
    n: StrictInt | None = Field(default=None, ge=1, le=16)
    max_tokens: StrictInt | None = Field(default=None, ge=1)
    max_completion_tokens: StrictInt | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: StrictInt | None = None
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    user: str | None = None
    stream_options: dict[str, Any] | None = None

    @field_validator("messages")
    @classmethod
    def _text_only(cls, messages: list[Message]) -> list[Message]:
        for i, m in enumerate(messages):
            if isinstance(m.content, list):
                for j, part in enumerate(m.content):
                    if part.type != "text" or part.text is None:
                        raise ValueError(
                            f"messages.{i}.content.{j}: only text content parts are supported "
                            f"(got {part.type!r})"
                        )
        return messages

    def passthrough(self) -> dict[str, Any]:
        """The caller's sampling options to relay upstream."""
        return {k: getattr(self, k) for k in PASSTHROUGH_PARAMS if getattr(self, k) is not None}

    @property
    def requested_max_tokens(self) -> int | None:
        """The caller's completion limit, whichever field carried it."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def include_usage(self) -> bool:
        """Whether a streaming caller asked for the final usage chunk."""
        return bool((self.stream_options or {}).get("include_usage"))

    @property
    def prompt(self) -> str:
        """The last user message's text: what the difficulty model scores."""
        return next((m.text for m in reversed(self.messages) if m.role == "user"), "")

    @property
    def transcript(self) -> str:
        """Every message's text, one after another (the ledger's prompt text)."""
        return "\n".join(m.text for m in self.messages)

    def upstream_messages(self, style: str) -> list[dict[str, Any]]:
        """The messages sent upstream; the step-by-step style adds a system instruction."""
        messages = [m.model_dump(exclude_none=True) for m in self.messages]
        if style == "step_by_step":
            messages.insert(0, {"role": "system", "content": STEP_BY_STEP})
        return messages

    def upstream_params(self) -> dict[str, Any]:
        """The caller's options relayed upstream: sampling options, the completion limit, n."""
        params = self.passthrough()
        if self.requested_max_tokens is not None:
            params["max_tokens"] = self.requested_max_tokens
        if self.n is not None and self.n > 1:
            params["n"] = self.n
        return params


def content_text(content: str | Sequence[TextPart | Mapping[str, Any]] | None) -> str:
    """The text of a message's content: the string, or its text parts joined (parsed or raw)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(
        str((part.get("text") if isinstance(part, Mapping) else part.text) or "")
        for part in content
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"request body is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(f"request body is over the {limit}-byte limit")
            chunks.append(chunk)
    except ClientDisconnect:
        raise InvalidInputError("the client disconnected while sending the body") from None
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """The body as JSON, or a 400 naming the problem."""
    if not body:
        raise InvalidInputError("the request body is empty; send a JSON object")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"the request body is not valid JSON ({exc})") from None


def validated(model: type[M], data: Any) -> M:
    """A parsed JSON body validated into `model`; a 400 naming the bad field otherwise."""
    if not isinstance(data, dict):
        raise InvalidInputError("the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc.errors()) from None


def parse_chat_request(data: Any, *, max_messages: int) -> ChatRequest:
    """Validate a parsed body into a ChatRequest; 400 with `param` naming the bad field."""
    request = validated(ChatRequest, data)
    if len(request.messages) > max_messages:
        raise InvalidInputError(
            f"too many messages ({len(request.messages)} > {max_messages})", param="messages"
        )
    if not any(m.role == "user" and m.text.strip() for m in request.messages):
        raise InvalidInputError(
            "messages need at least one non-empty user message", param="messages"
        )
    return request
