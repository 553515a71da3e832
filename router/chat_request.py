"""The chat-completions request: read with a size limit, parse, validate into typed fields."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from difficulty.errors import InvalidInputError
from router.chat_schema import (
    STEP_BY_STEP,
    ChatRequest,
    ContentPart,
    Message,
    content_text,
    part_modality,
)
from router.errors import PayloadTooLargeError, RequestTimeoutError, invalid_input
from router.json_body import parse_json_body

__all__ = [
    "Message",
    "ContentPart",
    "ChatRequest",
    "read_body",
    "parse_json",
    "parse_chat_request",
    "validated",
    "content_text",
    "request_modalities",
    "STEP_BY_STEP",
]

M = TypeVar("M", bound=BaseModel)


def request_modalities(request: ChatRequest) -> frozenset[str]:
    """The input modalities of every message's content parts (always text)."""
    found = {"text"}
    for message in request.messages:
        if isinstance(message.content, list):
            found.update(part_modality(p.type) for p in message.content)
    return frozenset(found)


async def read_body(request: Request, limit: int, timeout_s: float = 10.0) -> bytes:
    """The raw body, refused with 413 as soon as it passes `limit` bytes and with 408 when it has
    not all arrived within `timeout_s` (a client trickling a body holds no worker for long)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"request body is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLargeError(f"request body is over the {limit}-byte limit")
                chunks.append(chunk)
    except ClientDisconnect:
        raise InvalidInputError("the client disconnected while sending the body") from None
    except TimeoutError:
        raise RequestTimeoutError(f"the request body took longer than {timeout_s:g} s") from None
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """The body as bounded JSON (router.json_body), or a 400 naming the problem."""
    return parse_json_body(body)


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
    request.keep_raw(data)
    if len(request.messages) > max_messages:
        raise InvalidInputError(
            f"too many messages ({len(request.messages)} > {max_messages})", param="messages"
        )
    if not any(m.role == "user" and _has_content(m) for m in request.messages):
        raise InvalidInputError(
            "messages need at least one non-empty user message", param="messages"
        )
    return request


def _has_content(message: Message) -> bool:
    if isinstance(message.content, list):
        return any(p.type != "text" or (p.text or "").strip() for p in message.content)
    return bool((message.content or "").strip())
