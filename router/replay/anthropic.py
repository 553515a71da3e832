"""The replay upstream's Anthropic Messages API (`POST /v1/messages`), for litellm's own client.

A recording answers as Claude with extended thinking would: a `thinking` block (its deltas, then
a signature) when the request enables thinking, then a `text` block, then the stop reason and
usage; streamed as Anthropic's named SSE events, or as one message. A gateway profile
`model: anthropic/<name>` with this server as `api_base` then sees thinking blocks exactly as
litellm turns them into chat chunks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from difficulty.errors import InvalidInputError
from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens
from router.replay.catalog import ReplayCatalog, ReplayPiece
from router.replay.stream import Pace, ReplayStats

__all__ = [
    "thinking_enabled",
    "anthropic_events",
    "anthropic_message",
    "anthropic_sse",
    "messages_reply",
]


def thinking_enabled(body: Mapping[str, Any]) -> bool:
    """Whether the request turned extended thinking on."""
    thinking = body.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")


def _usage(outcome: Outcome, thought: list[ReplayPiece], said: list[ReplayPiece]) -> dict[str, int]:
    output = sum(p.tokens for p in thought) + sum(p.tokens for p in said)
    return {"input_tokens": count_tokens(outcome.prompt), "output_tokens": output}


def anthropic_events(
    outcome: Outcome, thought: list[ReplayPiece], said: list[ReplayPiece], model: str
) -> Iterator[tuple[dict[str, Any], int]]:
    """(event, tokens it carries) for the recording as Anthropic streams it."""
    message: dict[str, Any] = {
        "id": f"msg_{outcome.id}",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**_usage(outcome, [], []), "output_tokens": 1},
    }
    yield {"type": "message_start", "message": message}, 0
    index = 0
    if thought:
        block = {"type": "thinking", "thinking": "", "signature": ""}
        yield {"type": "content_block_start", "index": 0, "content_block": block}, 0
        for piece in thought:
            delta = {"type": "thinking_delta", "thinking": piece.text}
            yield {"type": "content_block_delta", "index": 0, "delta": delta}, piece.tokens
        signature = {"type": "signature_delta", "signature": f"sig-{outcome.id}"}
        yield {"type": "content_block_delta", "index": 0, "delta": signature}, 0
        yield {"type": "content_block_stop", "index": 0}, 0
        index = 1
    yield (
        {
            "type": "content_block_start",
            "index": index,
            "content_block": {"type": "text", "text": ""},
        },
        0,
    )
    for piece in said:
        delta = {"type": "text_delta", "text": piece.text}
        yield {"type": "content_block_delta", "index": index, "delta": delta}, piece.tokens
    yield {"type": "content_block_stop", "index": index}, 0
    end = {"stop_reason": "end_turn", "stop_sequence": None}
    usage = {"output_tokens": _usage(outcome, thought, said)["output_tokens"]}
    yield {"type": "message_delta", "delta": end, "usage": usage}, 0
    yield {"type": "message_stop"}, 0


def anthropic_message(
    outcome: Outcome, thought: list[ReplayPiece], said: list[ReplayPiece], model: str
) -> dict[str, Any]:
    """The recording as one (non-streamed) Anthropic message."""
    content: list[dict[str, Any]] = []
    if thought:
        text = "".join(p.text for p in thought)
        content.append({"type": "thinking", "thinking": text, "signature": f"sig-{outcome.id}"})
    content.append({"type": "text", "text": "".join(p.text for p in said)})
    return {
        "id": f"msg_{outcome.id}",
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": model,
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": _usage(outcome, thought, said),
    }


async def anthropic_sse(
    events: Iterator[tuple[dict[str, Any], int]], pace: Pace
) -> AsyncIterator[bytes]:
    """Anthropic's named server-sent events, paced like a model."""
    loop = asyncio.get_running_loop()
    start = loop.time() + pace.first_token_delay
    if pace.first_token_delay:
        await asyncio.sleep(pace.first_token_delay)
    spent = 0
    for event, tokens in events:
        spent += tokens
        if pace.tokens_per_second and tokens:
            delay = start + spent / pace.tokens_per_second - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def messages_reply(
    body: Mapping[str, Any], catalog: ReplayCatalog, stats: ReplayStats, pace: Pace
) -> Response:
    """The reply to `POST /v1/messages`: the recording for the last user message's text."""
    users = [
        m for m in body.get("messages") or () if isinstance(m, Mapping) and m.get("role") == "user"
    ]
    if not users:
        raise InvalidInputError("no user message to match a recording", param="messages")
    content = users[-1].get("content")
    if isinstance(content, list):
        content = "".join(str(b.get("text", "")) for b in content if isinstance(b, Mapping))
    outcome = catalog.find(catalog.resolve_model(str(body["model"])), str(content or ""))
    thought = catalog.pieces(outcome, "reasoning") if thinking_enabled(body) else []
    said = catalog.pieces(outcome, "response")
    model = str(body["model"])
    stats.begin(outcome.profile)
    stats.end(completed=True, tokens=sum(p.tokens for p in [*thought, *said]))
    if not body.get("stream"):
        return JSONResponse(anthropic_message(outcome, thought, said, model))
    events = anthropic_events(outcome, thought, said, model)
    return StreamingResponse(anthropic_sse(events, pace), media_type="text/event-stream")
