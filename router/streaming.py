"""Relaying an upstream stream to the caller: chunks joined into one body, or SSE as they come.

Chunks are forwarded as they arrive (no buffering), reasoning deltas included; events that
arrived together go out in one write.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from functools import partial
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

__all__ = ["Accumulator", "RelayResponse", "buffered"]


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
    `on_end` runs once the response is over, however it ended, even when the body never began
    (a client that left before the first event).
    """

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        on_end: Callable[[], Awaitable[None]],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self.on_end = on_end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as tg:

                async def run(func: Callable[[], Awaitable[None]]) -> None:
                    with contextlib.suppress(OSError):  # the client went away mid-write
                        await func()
                    tg.cancel_scope.cancel()

                tg.start_soon(run, partial(self.stream_response, send))
                await run(partial(self.listen_for_disconnect, receive))
        finally:
            with anyio.CancelScope(shield=True):
                await self.on_end()


def buffered(source: object) -> int:
    """Chunks a source already holds (sources that cannot tell say 0: send each at once)."""
    count = getattr(source, "buffered", None)
    return int(count()) if count is not None else 0
