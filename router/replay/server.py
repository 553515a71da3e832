"""The replay upstream: an OpenAI-compatible server answering from recorded real model outputs.

An evaluation tool, not a mock: the request's ``model`` picks a recorded profile (e.g.
``QwQ-32B``), the last user message picks the item by exact prompt (whitespace-normalised), and
the recorded reasoning streams as ``reasoning_content`` deltas, then the response as ``content``,
paced at a token rate, with ``usage`` counted by :func:`difficulty.tokens.count_tokens`.

Evaluation extras: ``GET /replay/stats`` (requests, completions, client disconnects, faults) and
fault injection, per request with the header ``x-replay-fault`` or server-side with
``POST /replay/faults`` ``{"fault": ..., "count": n}``. A fault is ``<status>`` (e.g. ``500``,
``503``, ``429``: an OpenAI error body with that status), ``timeout`` (no response until the
client gives up) or ``break-after=N`` (N deltas, then the connection drops mid-body).
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from difficulty.answers import THINK_CLOSE, with_thinking
from difficulty.errors import InvalidInputError, ThinkgateError
from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens
from router.chat_request import ChatRequest, parse_json, validated
from router.errors import render_error
from router.replay.answers import DIALECT_HEADER, chat_parts, message
from router.replay.catalog import ReplayCatalog, split_pieces
from router.replay.samples import JUDGE_MODEL, SampleBook, judge_reply, score_routes
from router.replay.stream import (
    Fault,
    Pace,
    ReplayPlan,
    ReplayStats,
    build_plan,
    fault_response,
    parse_fault,
    sse_stream,
    wait_or_disconnect,
)
from router.server_thread import ServerThread

__all__ = ["FAULT_HEADER", "CompletionRequest", "ReplayUpstream", "create_replay_app"]

FAULT_HEADER = "x-replay-fault"


class CompletionRequest(BaseModel):
    """The fields of POST /v1/completions that the replay reads; others are ignored."""

    model_config = ConfigDict(extra="allow")
    model: StrictStr = Field(min_length=1)
    prompt: StrictStr | list[StrictStr]
    stream: StrictBool = False
    n: StrictInt | None = Field(default=None, ge=1)
    max_tokens: StrictInt | None = Field(default=None, ge=1)
    stream_options: dict[str, Any] | None = None

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, prompt: str | list[str]) -> str | list[str]:
        if isinstance(prompt, list):
            if len(prompt) != 1:
                raise ValueError("give one prompt")
            prompt = prompt[0]
        if not prompt:
            raise ValueError("the prompt is empty")
        return prompt

    @property
    def text(self) -> str:
        """The one prompt."""
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


@dataclass(frozen=True)
class _Reply:
    """How to answer: the plan, its kind ("chat" or "text"), and the caller's options."""

    plan: ReplayPlan
    kind: str
    model: str
    stream: bool
    include_usage: bool
    n: int


class _ReplayState:
    """Everything the replay app shares between requests."""

    def __init__(
        self,
        catalog: ReplayCatalog,
        outcomes: Sequence[Outcome],
        tokens_per_second: float | None,
        first_token_delay: float,
        hang_seconds: float,
        reasoning_format: str = "reasoning_content",
    ) -> None:
        if tokens_per_second is not None and tokens_per_second <= 0:
            raise InvalidInputError("tokens_per_second must be positive", param="tokens_per_second")
        self.catalog = catalog
        self.samples = SampleBook(outcomes)
        self.pace = Pace(tokens_per_second, first_token_delay)
        self.hang_seconds = hang_seconds
        self.stats = ReplayStats()
        self.scheduled: list[Fault] = []
        self.reasoning_format = reasoning_format
        # The request bodies received, newest last: tests assert on what the upstream got.
        self.received: deque[dict[str, Any]] = deque(maxlen=1000)

    def receive(self, request: Request, body: Any) -> Any:
        """Keep a request body (as parsed) and hand it back."""
        self.received.append({"path": request.url.path, "body": body})
        return body

    def take_fault(self, header: str | None) -> Fault | None:
        if header:
            return parse_fault(header)
        if self.scheduled:
            return self.scheduled.pop(0)
        return None


def _state(request: Request) -> _ReplayState:
    state: _ReplayState = request.app.state.replay
    return state


def _body(reply: _Reply) -> dict[str, Any]:
    """The whole (non-streamed) completion of a plan, `n` times the same choice."""
    plan, chat = reply.plan, reply.kind == "chat"
    if chat:
        choice: dict[str, Any] = {"message": message(plan.texts, plan.outcome)}
    else:
        choice = {"text": plan.texts.get("text", "")}
    return {
        "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": reply.model,
        "choices": [
            {"index": i, **choice, "finish_reason": plan.finish_reason, "logprobs": None}
            for i in range(reply.n)
        ],
        "usage": plan.usage(),
    }


async def _serve(request: Request, reply: _Reply) -> Response:
    """Play the plan: an injected fault, a paced stream, or the whole body after its time."""
    state = _state(request)
    plan = reply.plan
    fault = state.take_fault(request.headers.get(FAULT_HEADER))
    state.stats.begin(plan.outcome.profile)
    headers = {"x-replay-item": plan.outcome.id}
    if fault is not None:
        state.stats.faults += 1
        if fault.kind == "status":
            state.stats.end(completed=False)
            return fault_response(fault.status, f"injected fault {fault.status}")
        if fault.kind == "timeout":
            gone = await wait_or_disconnect(request, state.hang_seconds)
            state.stats.end(completed=False, disconnected=gone)
            return fault_response(504, "injected timeout")
    args = (state.stats, state.pace, plan, reply.kind, reply.model)
    if reply.stream:
        return sse_stream(*args, reply.include_usage, fault, headers)
    if await wait_or_disconnect(request, state.pace.duration(plan.tokens)):
        state.stats.end(completed=False, disconnected=True)
        return Response(status_code=499)
    payload = _body(reply)
    if fault is not None and fault.kind == "break":
        return sse_stream(*args, False, fault, headers, body_json=payload)
    state.stats.end(completed=True, tokens=plan.usage()["completion_tokens"])
    return JSONResponse(payload, headers=headers)


_routes = APIRouter()


@_routes.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    """A recorded chat answer: the reasoning in the asked dialect, then the response (text, a
    JSON object or a tool call; see router.replay.answers)."""
    state = _state(request)
    raw = state.receive(request, parse_json(await request.body()))
    chat = validated(ChatRequest, raw)
    if chat.stream and (chat.n or 1) > 1:
        raise InvalidInputError(
            "n > 1 with stream is not supported by the replay upstream", param="n"
        )
    catalog = state.catalog
    users = [m for m in chat.messages if m.role == "user"]
    if not users:
        raise InvalidInputError("no user message to match a recording", param="messages")
    prompt_tokens = sum(count_tokens(m.text) for m in chat.messages)
    if chat.model == JUDGE_MODEL:
        grade = judge_reply(state.samples, users[-1].text)
        judged = Outcome("judge", users[-1].text, JUDGE_MODEL, None, None, response=grade)
        plan = build_plan(judged, [("content", split_pieces(grade))], None, prompt_tokens)
        return await _serve(request, _Reply(plan, "chat", chat.model, chat.stream, True, 1))
    # A recorded search answers with its next sample each time.
    outcome = state.samples.next_sample(
        catalog.find(catalog.resolve_model(chat.model), users[-1].text)
    )
    dialect = request.headers.get(DIALECT_HEADER) or state.reasoning_format
    parts, hidden = chat_parts(catalog, outcome, dialect, raw)
    parts = [(k, v) for k, v in parts if v]
    plan = build_plan(outcome, parts, chat.requested_max_tokens, prompt_tokens, hidden)
    reply = _Reply(plan, "chat", chat.model, chat.stream, chat.include_usage, chat.n or 1)
    return await _serve(request, reply)


@_routes.post("/v1/completions")
async def completions(request: Request) -> Response:
    """A recorded answer as raw text, continued after whatever of it the prompt already holds."""
    state = _state(request)
    body = validated(CompletionRequest, state.receive(request, parse_json(await request.body())))
    catalog = state.catalog
    outcome = catalog.find_within(catalog.resolve_model(body.model), body.text)
    pieces = split_pieces(_continuation(outcome, body.text), catalog.chunk_tokens)
    plan = build_plan(outcome, [("text", pieces)], body.max_tokens, count_tokens(body.text))
    usage = bool((body.stream_options or {}).get("include_usage"))
    reply = _Reply(plan, "text", body.model, body.stream, usage, body.n or 1)
    return await _serve(request, reply)


@_routes.post("/v1/messages")
async def messages(request: Request) -> Response:
    """Anthropic's Messages API (see router.replay.anthropic)."""
    from router.replay.anthropic import messages_reply

    state = _state(request)
    body = state.receive(request, parse_json(await request.body()))
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise InvalidInputError("'model' is required", param="model")
    return messages_reply(body, state.catalog, state.stats, state.pace)


@_routes.get("/replay/requests")
async def received(request: Request) -> list[dict[str, Any]]:
    """The request bodies received, newest last."""
    return list(_state(request).received)


@_routes.delete("/replay/requests")
async def forget_received(request: Request) -> dict[str, Any]:
    """Forget the received bodies."""
    _state(request).received.clear()
    return {"received": 0}


@_routes.get("/v1/models")
async def models(request: Request) -> dict[str, Any]:
    """The recorded profiles, and their aliases, as models."""
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "thinkgate-replay"}
        for name in _state(request).catalog.model_names()
    ]
    return {"object": "list", "data": data}


@_routes.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    """Liveness, with what is recorded."""
    catalog = _state(request).catalog
    return {"status": "ok", "items": len(catalog), "profiles": catalog.profiles}


@_routes.get("/replay/stats")
async def stats(request: Request) -> dict[str, Any]:
    """The counters: requests, completions, disconnects, faults."""
    return _state(request).stats.snapshot()


@_routes.delete("/replay/stats")
async def reset_stats(request: Request) -> dict[str, Any]:
    """Start the counters again, and every recorded search at its first sample."""
    state = _state(request)
    state.stats = ReplayStats()
    state.samples.turns.clear()
    return state.stats.snapshot()


@_routes.post("/replay/faults")
async def schedule_faults(request: Request) -> dict[str, Any]:
    """Make the next `count` requests fail with `fault` (see `parse_fault`)."""
    body = parse_json(await request.body())
    if not isinstance(body, dict) or not isinstance(body.get("fault"), str):
        raise InvalidInputError("body must be {'fault': SPEC, 'count': N}", param="fault")
    scheduled = _state(request).scheduled
    scheduled.extend([parse_fault(body["fault"])] * int(body.get("count", 1)))
    return {"scheduled": len(scheduled)}


@_routes.delete("/replay/faults")
async def clear_faults(request: Request) -> dict[str, Any]:
    """Drop the scheduled faults."""
    _state(request).scheduled.clear()
    return {"scheduled": 0}


async def _on_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ThinkgateError)
    counters = _state(request).stats
    if exc.status == 404:
        counters.not_found += 1
    else:
        counters.bad_requests += 1
    return render_error(exc)


def create_replay_app(
    outcomes: Sequence[Outcome],
    *,
    tokens_per_second: float | None = None,
    aliases: Mapping[str, str] | None = None,
    chunk_tokens: int = 1,
    first_token_delay: float = 0.0,
    hang_seconds: float = 300.0,
    reasoning_format: str = "reasoning_content",
) -> FastAPI:
    """A FastAPI app replaying ``outcomes`` (rows with ``reasoning``/``response`` text);
    thinking streams in ``reasoning_format`` unless a request's ``x-replay-dialect`` says."""
    catalog = ReplayCatalog(outcomes, aliases=aliases, chunk_tokens=chunk_tokens)
    app = FastAPI(title="thinkgate replay upstream", docs_url=None, redoc_url=None)
    app.state.replay = _ReplayState(
        catalog, outcomes, tokens_per_second, first_token_delay, hang_seconds, reasoning_format
    )
    app.add_exception_handler(ThinkgateError, _on_error)
    app.include_router(_routes)
    app.include_router(score_routes)
    return app


def _continuation(outcome: Outcome, prompt: str) -> str:
    """Raw completion text: recorded thinking and answer, continued after what the prompt holds."""
    response = outcome.response or ""
    full = with_thinking(outcome.reasoning, response)
    tail = (
        prompt[prompt.find(outcome.prompt) + len(outcome.prompt) :]
        if outcome.prompt in prompt
        else ""
    )
    if THINK_CLOSE in tail:
        return response  # thinking already closed by the caller: only the answer remains
    probe = tail.strip()[-48:]
    if len(probe) >= 16:
        at = full.find(probe)
        if at >= 0:
            return full[at + len(probe) :]
    return full


class ReplayUpstream(ServerThread):
    """The replay app on a free port in a background thread: ``with ReplayUpstream(rows):``."""

    def __init__(
        self,
        outcomes: Sequence[Outcome],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        **options: Any,
    ) -> None:
        super().__init__(create_replay_app(outcomes, **options), host=host, port=port)

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``.../v1``) to give a client or a litellm ``api_base``."""
        return f"{self.url}/v1"

    @property
    def stats(self) -> ReplayStats:
        """The live counters (read from the test's thread; ints, so reads are safe)."""
        return self.app.state.replay.stats

    @property
    def received(self) -> list[dict[str, Any]]:
        """The request bodies this upstream received (newest last), with their paths."""
        return list(self.app.state.replay.received)

    def reset_samples(self) -> None:
        """Every recorded search starts again at its first sample."""
        self.app.state.replay.samples.turns.clear()

    def schedule_fault(self, spec: str, count: int = 1) -> None:
        """Make the next ``count`` requests fail with ``spec`` (see :func:`parse_fault`)."""
        self.app.state.replay.scheduled.extend([parse_fault(spec)] * count)
