"""Relaying an upstream stream to the caller: SSE chunk by chunk, or joined into one body.

Chunks are forwarded as they arrive (no buffering), reasoning deltas included. A stream that
breaks mid-way ends with an error event; a caller that disconnects cancels the upstream call.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any, Protocol

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from difficulty.errors import ThinkgateError
from router.errors import UpstreamError, error_body
from router.pipeline import CallStats

__all__ = [
    "ChunkSource",
    "Accumulator",
    "RelayResponse",
    "sse",
    "SSE_DONE",
    "relay",
    "collect",
]

SSE_DONE = b"data: [DONE]\n\n"


class ChunkSource(Protocol):
    """Anything that yields OpenAI chat-completion chunk dicts and can be closed early."""

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...

    async def aclose(self) -> None: ...


def sse(obj: dict[str, Any]) -> bytes:
    """One server-sent event carrying `obj` as JSON."""
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


class Accumulator:
    """Joins chunks into per-choice content, reasoning and finish reasons, and keeps usage."""

    def __init__(self) -> None:
        self.content: dict[int, list[str]] = {}
        self.reasoning: dict[int, list[str]] = {}
        self.finish: dict[int, str | None] = {}
        self.usage: dict[str, Any] | None = None
        self.created: int | None = None

    def add(self, chunk: dict[str, Any]) -> bool:
        """Take one chunk; True when it carried text (content or reasoning)."""
        if self.created is None:
            self.created = chunk.get("created")
        usage = chunk.get("usage")
        if usage:
            self.usage = usage
        text = False
        for choice in chunk.get("choices") or ():
            i = int(choice.get("index", 0))
            delta = choice.get("delta") or {}
            c = delta.get("content")
            r = delta.get("reasoning_content")
            self.content.setdefault(i, [])
            if c:
                self.content[i].append(c)
                text = True
            if r:
                self.reasoning.setdefault(i, []).append(r)
                text = True
            if choice.get("finish_reason"):
                self.finish[i] = choice["finish_reason"]
        return text

    def text(self, index: int = 0) -> str:
        """The joined content of one choice."""
        return "".join(self.content.get(index, ()))

    def reasoning_text(self, index: int = 0) -> str:
        """The joined reasoning of one choice."""
        return "".join(self.reasoning.get(index, ()))

    def all_text(self) -> str:
        """Every choice's reasoning and content, for token counting."""
        parts = [self.reasoning_text(i) + self.text(i) for i in sorted(self.content)]
        return "".join(parts)

    def fill(self, stats: CallStats) -> None:
        """Copy usage (when the upstream gave it) and the joined text into `stats`."""
        if self.usage:
            stats.prompt_tokens = self.usage.get("prompt_tokens")
            stats.completion_tokens = self.usage.get("completion_tokens")
        stats.completion_text = self.all_text()

    def completion(self, completion_id: str, model: str) -> dict[str, Any]:
        """The non-streamed chat.completion body."""
        choices = []
        for i in sorted(self.content) or [0]:
            message: dict[str, Any] = {"role": "assistant", "content": self.text(i)}
            if i in self.reasoning:
                message["reasoning_content"] = self.reasoning_text(i)
            choices.append(
                {
                    "index": i,
                    "message": message,
                    "finish_reason": self.finish.get(i, "stop"),
                    "logprobs": None,
                }
            )
        body: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion",
            "created": self.created or int(time.time()),
            "model": model,
            "choices": choices,
        }
        if self.usage:
            body["usage"] = self.usage
        return body


class RelayResponse(StreamingResponse):
    """A streaming response that always watches for the client leaving and then cancels.

    Starlette skips the disconnect listener on ASGI 2.4 servers and only notices a gone client
    on the next write; an upstream that is thinking silently would keep generating meanwhile.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as tg:

            async def run(func: Callable[[], Awaitable[None]]) -> None:
                with contextlib.suppress(OSError):  # the client went away mid-write
                    await func()
                tg.cancel_scope.cancel()

            tg.start_soon(run, partial(self.stream_response, send))
            await run(partial(self.listen_for_disconnect, receive))


async def relay(
    source: ChunkSource,
    stats: CallStats,
    *,
    completion_id: str,
    model: str,
    include_usage: bool,
    on_finish: Callable[[], Awaitable[None]],
) -> AsyncIterator[bytes]:
    """SSE bytes for the caller from `source`; always closes the source and calls on_finish."""
    acc = Accumulator()
    recorded = False

    async def finish() -> None:
        nonlocal recorded
        if not recorded:
            recorded = True
            await source.aclose()
            acc.fill(stats)
            await on_finish()

    out: list[bytes] = []  # events not yet handed to the server
    try:
        async for chunk in source:
            chunk["id"] = completion_id
            chunk["model"] = model
            if acc.add(chunk):
                stats.first_token()
            if "usage" in chunk and not include_usage:
                if chunk.get("choices"):
                    del chunk["usage"]
                    out.append(sse(chunk))
            else:
                out.append(sse(chunk))
            # Events that arrived together go out in one write; none waits for the network.
            if out and not _buffered(source):
                yield b"".join(out)
                out.clear()
        if out:
            yield b"".join(out)
            out.clear()
        # Record before the caller sees the end, so a finished stream is always in the ledger.
        with anyio.CancelScope(shield=True):
            await finish()
        yield SSE_DONE
    except ThinkgateError as exc:
        stats.status, stats.error = exc.status, exc.message
        yield b"".join(out) + sse(error_body(exc))
    except Exception as exc:  # a bug must still end the stream cleanly, not hang it
        err = UpstreamError(f"the stream failed: {type(exc).__name__}")
        stats.status, stats.error = 500, err.message
        yield b"".join(out) + sse(error_body(err))
    except BaseException:
        if not recorded:
            stats.status, stats.error = 499, "client disconnected"
        raise
    finally:
        with anyio.CancelScope(shield=True):
            await finish()


def _buffered(source: ChunkSource) -> int:
    """Chunks the source already holds (sources that cannot tell say 0: send each at once)."""
    buffered = getattr(source, "buffered", None)
    return int(buffered()) if buffered is not None else 0


async def collect(source: ChunkSource, stats: CallStats) -> Accumulator:
    """Read `source` to its end into an Accumulator (for non-streamed responses)."""
    acc = Accumulator()
    try:
        async for chunk in source:
            if acc.add(chunk):
                stats.first_token()
    finally:
        with anyio.CancelScope(shield=True):
            await source.aclose()
        acc.fill(stats)
    return acc
