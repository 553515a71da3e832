"""Relaying an upstream stream to the caller: chunks joined into one body, or SSE as they come.

Chunks are forwarded as they arrive (no buffering), reasoning deltas included; events that
arrived together go out in one write.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from functools import partial
from typing import Any, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from router.assembly import BodyAssembly, ChoiceAssembly

__all__ = ["Accumulator", "RelayResponse", "buffered", "unless_gone"]


class Accumulator(BodyAssembly):
    """Everything a stream carried, joined (router.assembly), with the views relaying needs."""

    def choice(self, index: int = 0) -> ChoiceAssembly:
        """One choice's assembly (empty when the stream had none)."""
        return self.choices.get(index) or ChoiceAssembly(index)

    @property
    def finish(self) -> dict[int, str | None]:
        """Each choice's finish reason."""
        return {i: c.finish_reason for i, c in self.choices.items()}

    def text(self, index: int = 0) -> str:
        """The joined content of one choice."""
        return self.choice(index).joined("content") or ""

    def reasoning_text(self, index: int = 0) -> str:
        """The joined reasoning of one choice, whichever field carried it."""
        c = self.choice(index)
        return (c.joined("reasoning_content") or "") + (c.joined("reasoning") or "")

    def all_text(self) -> str:
        """Every choice's output text (reasoning, content, refusal, call arguments), for
        counting tokens when the upstream sent no usage."""
        parts: list[str] = []
        for i in sorted(self.choices):
            c = self.choices[i]
            parts += ["".join(v) for v in c.text.values()]
            parts += [call["function"]["arguments"] for call in c.tool_calls.values()]
            if c.function_call is not None:
                parts.append(c.function_call["arguments"])
        return "".join(parts)

    def completion(self, completion_id: str, model: str) -> dict[str, Any]:
        """The non-streamed chat.completion body."""
        return self.body(completion_id, model, int(time.time()))


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


T = TypeVar("T")


async def unless_gone(request: Request, make: Callable[[], Awaitable[T]]) -> tuple[T | None, bool]:
    """Run `make()`, cancelling it if the caller disconnects meanwhile: (result, gone)."""
    result: list[T] = []
    failure: list[BaseException] = []
    gone = False

    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            nonlocal gone
            while (await request.receive())["type"] != "http.disconnect":
                pass
            gone = True
            tg.cancel_scope.cancel()

        async def run() -> None:
            try:
                result.append(await make())
            except Exception as exc:  # re-raised below, outside the task group's wrapping
                failure.append(exc)
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        tg.start_soon(run)
    if failure:
        raise failure[0]
    return (result[0] if result else None), gone
