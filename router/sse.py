"""Server-sent events: reading an upstream's OpenAI-compatible SSE body; writing to callers."""

from __future__ import annotations

import contextlib
import json
from collections import deque
from typing import Any

import anyio

from difficulty.errors import ThinkgateError
from router.errors import UpstreamError
from router.redact import upstream_summary

__all__ = ["SSE_DONE", "SSEReader", "chunk_from_completion", "sse"]

# Read after [DONE] for the body's end, at most this long (see SSEReader._drain).
_DRAIN_S = 0.5
SSE_DONE = b"data: [DONE]\n\n"

Chunk = dict[str, Any]


def sse(obj: dict[str, Any]) -> bytes:
    """One server-sent event carrying `obj` as JSON."""
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


class SSEReader:
    """Chat-completion chunks from an OpenAI-compatible SSE body (or a plain JSON reply).

    Reads raw bytes and splits events itself (httpx's line iterator decodes and re-splits text
    on every read, a large part of the relay's CPU); every event that one read brought is parsed
    at once, so `pending()` tells the relay whether more are already here to send in one write.
    """

    def __init__(self, response: Any, where: str) -> None:
        self.response = response
        self.where = where
        self.raw = response.content.iter_any()
        self.sse = response.headers.get("content-type", "").startswith("text/event-stream")
        self.done = False
        self.buffer = b""
        self.ready: deque[Chunk] = deque()
        self.failure: ThinkgateError | None = None

    def pending(self) -> int:
        """How many parsed chunks are waiting (available without another read)."""
        return len(self.ready)

    async def next(self) -> Chunk | None:
        """The next chunk; None at the end of the stream."""
        while not self.ready:
            if self.failure is not None:
                raise self.failure
            if self.done:
                return None
            if not self.sse:
                self.done = True
                return chunk_from_completion(json.loads(await self.response.read()))
            try:
                data = await self.raw.__anext__()
            except StopAsyncIteration:
                self._feed(b"\n")  # a last line without its newline still counts
                self.done = True
                continue
            self._feed(data)
            if self.done:
                await self._drain()
        return self.ready.popleft()

    def _feed(self, data: bytes) -> None:
        lines = (self.buffer + data).split(b"\n")
        self.buffer = lines.pop()
        for line in lines:
            if self.done or self.failure is not None:
                return
            if not line.startswith(b"data:"):
                continue  # blank separators, comments, event names
            payload = line[5:].strip()
            if payload == b"[DONE]":
                self.done = True
                return
            try:
                chunk = json.loads(payload)
            except (json.JSONDecodeError, UnicodeDecodeError):
                self.failure = UpstreamError(f"{self.where} sent a malformed event")
                return
            if isinstance(chunk, dict) and "error" in chunk:
                # Its type/code only: the provider's text may quote the request back.
                summary = upstream_summary(None, chunk)
                self.failure = UpstreamError(f"{self.where} failed mid-stream with {summary}")
                return
            self.ready.append(chunk)

    async def _drain(self) -> None:
        # Read the body's end after [DONE] so the connection goes back to the pool instead of
        # being dropped (a new TCP connection per request costs both sides CPU); bounded, since
        # an upstream that keeps the body open must not hold the caller's end of stream.
        with anyio.move_on_after(_DRAIN_S), contextlib.suppress(Exception):
            async for _ in self.raw:
                pass


def chunk_from_completion(body: Chunk) -> Chunk:
    """A non-streamed chat.completion body as one chunk."""
    choices = [
        {
            "index": c.get("index", 0),
            "delta": c.get("message") or {},
            "finish_reason": c.get("finish_reason"),
        }
        for c in body.get("choices") or ()
    ]
    out = {k: v for k, v in body.items() if k not in ("choices", "object")}
    return {**out, "object": "chat.completion.chunk", "choices": choices}
