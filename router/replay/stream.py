"""How the replay upstream plays one recording: plan, paced SSE stream, faults, counters."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.types import Send

from difficulty.errors import InvalidInputError
from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens
from router.replay.answers import TOOL_CALL, delta
from router.replay.catalog import ReplayPiece

__all__ = [
    "Fault",
    "Pace",
    "ReplayPlan",
    "ReplayStats",
    "build_plan",
    "fault_response",
    "parse_fault",
    "sse_stream",
    "wait_or_disconnect",
]


@dataclass(frozen=True)
class Fault:
    """An injected failure: error ``status``, ``timeout`` (hang) or ``break`` after N deltas."""

    kind: str
    status: int = 0
    after: int = 0


def parse_fault(spec: str) -> Fault:
    """Parse ``500`` / ``429`` / ``timeout`` / ``break-after=N``; anything else is a 400."""
    text = spec.strip().lower()
    if text.isdigit() and 400 <= int(text) <= 599:
        return Fault("status", status=int(text))
    if text == "timeout":
        return Fault("timeout")
    if text.startswith("break-after="):
        count = text.split("=", 1)[1]
        if count.isdigit():
            return Fault("break", after=int(count))
    raise InvalidInputError(
        f"unknown fault '{spec}': use a 4xx/5xx status, 'timeout' or 'break-after=N'",
        param="x-replay-fault",
    )


def fault_response(status: int, message: str) -> JSONResponse:
    """An injected fault's OpenAI error body with its status."""
    etype = "server_error" if status >= 500 else "invalid_request_error"
    if status == 429:
        etype = "rate_limit_exceeded"
    body = {"error": {"message": message, "type": etype, "param": None, "code": "injected_fault"}}
    return JSONResponse(body, status_code=status)


async def wait_or_disconnect(request: Request, seconds: float) -> bool:
    """Sleep up to ``seconds``; True when the client went away first."""
    deadline = time.monotonic() + seconds
    while True:
        if await request.is_disconnected():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await asyncio.sleep(min(0.05, left))


@dataclass(frozen=True)
class Pace:
    """Generation speed: ``tokens_per_second`` (None = as fast as possible) after a first delay."""

    tokens_per_second: float | None = None
    first_token_delay: float = 0.0

    def duration(self, tokens: int) -> float:
        """Seconds a real model would take to produce ``tokens`` tokens: when the delta that
        completes them is due, counted from the request."""
        rate = self.tokens_per_second
        return self.first_token_delay + (tokens / rate if rate else 0.0)


@dataclass
class ReplayStats:
    """Counters the tests read: what the upstream saw, including clients that went away."""

    requests: int = 0
    completed: int = 0
    disconnects: int = 0
    broken: int = 0
    faults: int = 0
    not_found: int = 0
    bad_requests: int = 0
    active: int = 0
    completion_tokens: int = 0
    by_model: dict[str, int] = field(default_factory=dict)

    def begin(self, profile: str) -> None:
        self.requests += 1
        self.active += 1
        self.by_model[profile] = self.by_model.get(profile, 0) + 1

    def end(self, *, completed: bool, disconnected: bool = False, tokens: int = 0) -> None:
        self.active -= 1
        self.completed += int(completed)
        self.disconnects += int(disconnected)
        self.completion_tokens += tokens

    def snapshot(self) -> dict[str, Any]:
        """The counters as a JSON-ready dict."""
        return asdict(self)


@dataclass
class ReplayPlan:
    """What one request replays: (field, piece) deltas, why it stops, and the usage."""

    outcome: Outcome
    deltas: list[tuple[str, ReplayPiece]]
    finish_reason: str
    prompt_tokens: int
    texts: dict[str, str] = field(default_factory=dict)
    hidden_tokens: int = 0  # reasoning the `hidden` dialect counts but never sends
    _usage: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def tokens(self) -> int:
        """Token count of the planned deltas (used for pacing)."""
        return sum(piece.tokens for _, piece in self.deltas)

    def usage(self) -> dict[str, Any]:
        """OpenAI ``usage``; reasoning tokens count as completion tokens, as OpenAI counts them."""
        if self._usage is None:
            self._usage = self._count()
        return self._usage

    def _count(self) -> dict[str, Any]:
        thought = self.texts.get("reasoning_content", "") + self.texts.get("reasoning", "")
        reasoning = count_tokens(thought) + self.hidden_tokens
        said = [
            t for name, t in self.texts.items() if name not in ("reasoning_content", "reasoning")
        ]
        visible = count_tokens("".join(said))
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": reasoning + visible,
            "total_tokens": self.prompt_tokens + reasoning + visible,
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        }


def build_plan(
    outcome: Outcome,
    parts: Sequence[tuple[str, list[ReplayPiece]]],
    max_tokens: int | None,
    prompt_tokens: int,
    hidden_tokens: int = 0,
) -> ReplayPlan:
    """Lay the parts end to end, stopping (finish ``length``) before ``max_tokens`` is passed;
    hidden reasoning tokens (spent before any visible one) count against it too."""
    deltas: list[tuple[str, ReplayPiece]] = []
    spent = hidden_tokens
    finish = "stop"
    for name, pieces in parts:
        for piece in pieces:
            if max_tokens is not None and spent + piece.tokens > max_tokens:
                finish = "length"
                break
            deltas.append((name, piece))
            spent += piece.tokens
        if finish == "length":
            break
    texts: dict[str, list[str]] = {}
    for name, piece in deltas:
        texts.setdefault(name, []).append(piece.text)
    joined = {name: "".join(chunks) for name, chunks in texts.items()}
    if finish == "stop" and any(name.startswith(TOOL_CALL) for name in joined):
        finish = "tool_calls"
    return ReplayPlan(outcome, deltas, finish, prompt_tokens, joined, hidden_tokens)


class _BrokenStream(Exception):
    """Raised inside the body iterator to drop the connection mid-body (the ``break`` fault)."""


class _ReplayResponse(StreamingResponse):
    """A streaming response that closes its generator at once and can end without completing."""

    async def stream_response(self, send: Send) -> None:
        iterator = self.body_iterator
        try:
            await super().stream_response(send)
        except _BrokenStream:
            return  # uvicorn closes a response left incomplete: the client sees a broken body
        finally:
            # Close the generator now (not at garbage collection) so its counters update at once.
            with anyio.CancelScope(shield=True):
                await iterator.aclose()  # type: ignore[attr-defined]


def sse_stream(
    stats: ReplayStats,
    pace: Pace,
    plan: ReplayPlan,
    kind: str,
    model: str,
    include_usage: bool,
    fault: Fault | None,
    headers: dict[str, str],
    body_json: dict[str, Any] | None = None,
) -> StreamingResponse:
    """A streaming response playing ``plan`` (``kind`` chat or text); counts how it ended."""
    break_after = fault.after if fault is not None and fault.kind == "break" else None
    if body_json is not None:
        return _ReplayResponse(
            _broken_body(stats, json.dumps(body_json)),
            media_type="application/json",
            headers=headers,
        )
    return _ReplayResponse(
        _events(stats, pace, plan, kind, model, include_usage, break_after),
        media_type="text/event-stream",
        headers={**headers, "cache-control": "no-cache"},
    )


async def _broken_body(stats: ReplayStats, text: str) -> AsyncIterator[bytes]:
    stats.broken += 1
    stats.end(completed=False)
    yield text[: len(text) // 2].encode()
    raise _BrokenStream()


class _Chunks:
    """The chunks of one replayed completion: chat deltas or text pieces, one id throughout."""

    def __init__(self, kind: str, model: str) -> None:
        self.chat = kind == "chat"
        self.id = f"{'chatcmpl' if self.chat else 'cmpl'}-{uuid.uuid4().hex[:24]}"
        self.object = "chat.completion.chunk" if self.chat else "text_completion"
        self.created = int(time.time())
        self.model = model

    def event(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        """One SSE event carrying a chunk with these choices."""
        chunk = {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        chunk.update(extra)
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()

    def choice(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        """Choice 0 carrying `delta` (chat) or its text (completions)."""
        if self.chat:
            return {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {
            "index": 0,
            "text": delta.get("text", ""),
            "finish_reason": finish,
            "logprobs": None,
        }


async def _events(
    stats: ReplayStats,
    pace: Pace,
    plan: ReplayPlan,
    kind: str,
    model: str,
    include_usage: bool,
    break_after: int | None,
) -> AsyncIterator[bytes]:
    chunks = _Chunks(kind, model)
    event, choice = chunks.event, chunks.choice
    outcome = "disconnected"
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        if pace.first_token_delay:
            await asyncio.sleep(pace.first_token_delay)
        if chunks.chat:
            yield event([choice({"role": "assistant", "content": ""})])
        spent = 0
        started: set[str] = set()
        for index, (name, piece) in enumerate(plan.deltas):
            if break_after is not None and index >= break_after:
                outcome = "broken"
                raise _BrokenStream()
            spent += piece.tokens
            if pace.tokens_per_second:
                # Pace against the start time so per-delta sleeps do not accumulate drift.
                delay = start + pace.duration(spent) - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            yield event([choice(delta(name, piece.text, name not in started, plan.outcome))])
            started.add(name)
        if break_after is not None:
            outcome = "broken"
            raise _BrokenStream()
        yield event([choice({}, plan.finish_reason)])
        if include_usage:
            yield event([], usage=plan.usage())
        # Counted before the last write: a client closing right after [DONE] is not a disconnect.
        outcome = "completed"
        yield b"data: [DONE]\n\n"
    finally:
        if outcome == "completed":
            stats.end(completed=True, tokens=plan.usage()["completion_tokens"])
        elif outcome == "broken":
            stats.broken += 1
            stats.end(completed=False)
        else:
            stats.end(completed=False, disconnected=True)
