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

import asyncio
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from difficulty.errors import InvalidInputError, ThinkgateError
from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens
from router.replay.catalog import ReplayCatalog, split_pieces
from router.replay.stream import (
    Fault,
    Pace,
    ReplayPlan,
    ReplayStats,
    build_plan,
    parse_fault,
    sse_stream,
)
from router.server_thread import ServerThread

__all__ = ["FAULT_HEADER", "ReplayUpstream", "create_replay_app"]

FAULT_HEADER = "x-replay-fault"
_THINK_CLOSE = "</think>"


def _error(
    status: int, message: str, *, etype: str, code: str | None, param: str | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": etype, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def _render(exc: ThinkgateError) -> JSONResponse:
    return _error(exc.status, exc.message, etype=exc.type, code=exc.code, param=exc.param)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _int_option(body: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"'{name}' must be a positive integer", param=name)
        return value
    return None


class _ReplayState:
    """Everything the replay app shares between requests."""

    def __init__(
        self,
        catalog: ReplayCatalog,
        tokens_per_second: float | None,
        first_token_delay: float,
        hang_seconds: float,
    ) -> None:
        if tokens_per_second is not None and tokens_per_second <= 0:
            raise InvalidInputError("tokens_per_second must be positive", param="tokens_per_second")
        self.catalog = catalog
        self.pace = Pace(tokens_per_second, first_token_delay)
        self.hang_seconds = hang_seconds
        self.stats = ReplayStats()
        self.scheduled: list[Fault] = []

    def take_fault(self, header: str | None) -> Fault | None:
        if header:
            return parse_fault(header)
        if self.scheduled:
            return self.scheduled.pop(0)
        return None


async def _wait_or_disconnect(request: Request, seconds: float) -> bool:
    """Sleep up to ``seconds``; True when the client went away first."""
    deadline = time.monotonic() + seconds
    while True:
        if await request.is_disconnected():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await asyncio.sleep(min(0.05, left))


def create_replay_app(
    outcomes: Sequence[Outcome],
    *,
    tokens_per_second: float | None = None,
    aliases: Mapping[str, str] | None = None,
    chunk_tokens: int = 1,
    first_token_delay: float = 0.0,
    hang_seconds: float = 300.0,
) -> FastAPI:
    """A FastAPI app replaying ``outcomes`` (rows with ``reasoning``/``response`` text)."""
    catalog = ReplayCatalog(outcomes, aliases=aliases, chunk_tokens=chunk_tokens)
    state = _ReplayState(catalog, tokens_per_second, first_token_delay, hang_seconds)
    app = FastAPI(title="thinkgate replay upstream", docs_url=None, redoc_url=None)
    app.state.replay = state

    @app.exception_handler(ThinkgateError)
    async def _on_error(request: Request, exc: ThinkgateError) -> Response:
        if exc.status == 404:
            state.stats.not_found += 1
        else:
            state.stats.bad_requests += 1
        return _render(exc)

    async def _body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidInputError("request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise InvalidInputError("request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise InvalidInputError("'model' is required", param="model")
        return body

    async def _serve(
        request: Request, body: dict[str, Any], plan: ReplayPlan, kind: str
    ) -> Response:
        stream = bool(body.get("stream"))
        opts = body.get("stream_options")
        include_usage = isinstance(opts, dict) and bool(opts.get("include_usage"))
        n = _int_option(body, "n") or 1  # validated before any counter moves
        fault = state.take_fault(request.headers.get(FAULT_HEADER))
        state.stats.begin(plan.outcome.profile)
        headers = {"x-replay-item": plan.outcome.id}
        if fault is not None:
            state.stats.faults += 1
            if fault.kind == "status":
                state.stats.end(completed=False)
                etype = "server_error" if fault.status >= 500 else "invalid_request_error"
                if fault.status == 429:
                    etype = "rate_limit_exceeded"
                return _error(
                    fault.status,
                    f"injected fault {fault.status}",
                    etype=etype,
                    code="injected_fault",
                )
            if fault.kind == "timeout":
                gone = await _wait_or_disconnect(request, state.hang_seconds)
                state.stats.end(completed=False, disconnected=gone)
                return _error(504, "injected timeout", etype="server_error", code="injected_fault")
        model = str(body["model"])
        if stream:
            return sse_stream(
                state.stats, state.pace, plan, kind, model, include_usage, fault, headers
            )
        if await _wait_or_disconnect(request, state.pace.duration(plan.tokens)):
            state.stats.end(completed=False, disconnected=True)
            return Response(status_code=499)
        if kind == "chat":
            message: dict[str, Any] = {
                "role": "assistant",
                "content": plan.texts.get("content", ""),
            }
            if "reasoning_content" in plan.texts:
                message["reasoning_content"] = plan.texts["reasoning_content"]
            choices = [
                {
                    "index": i,
                    "message": message,
                    "finish_reason": plan.finish_reason,
                    "logprobs": None,
                }
                for i in range(n)
            ]
        else:
            choices = [
                {
                    "index": i,
                    "text": plan.texts.get("text", ""),
                    "finish_reason": plan.finish_reason,
                    "logprobs": None,
                }
                for i in range(n)
            ]
        payload = {
            "id": f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion" if kind == "chat" else "text_completion",
            "created": int(time.time()),
            "model": model,
            "choices": choices,
            "usage": plan.usage(),
        }
        if fault is not None and fault.kind == "break":
            return sse_stream(
                state.stats, state.pace, plan, kind, model, False, fault, headers, body_json=payload
            )
        state.stats.end(completed=True, tokens=plan.usage()["completion_tokens"])
        return JSONResponse(payload, headers=headers)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        body = await _body(request)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InvalidInputError("'messages' must be a non-empty list", param="messages")
        if not all(isinstance(m, dict) for m in messages):
            raise InvalidInputError("each message must be an object", param="messages")
        if body.get("stream") and (_int_option(body, "n") or 1) > 1:
            raise InvalidInputError(
                "n > 1 with stream is not supported by the replay upstream", param="n"
            )
        profile = catalog.resolve_model(str(body["model"]))
        users = [m for m in messages if m.get("role") == "user"]
        if not users:
            raise InvalidInputError("no user message to match a recording", param="messages")
        outcome = catalog.find(profile, _text_of(users[-1].get("content")))
        prompt_tokens = sum(count_tokens(_text_of(m.get("content"))) for m in messages)
        if messages[-1].get("role") == "assistant":
            # A continuation after the caller closed the thinking: answer only (the recorded one).
            parts = [("content", catalog.pieces(outcome, "response"))]
        else:
            parts = [
                ("reasoning_content", catalog.pieces(outcome, "reasoning")),
                ("content", catalog.pieces(outcome, "response")),
            ]
        max_tokens = _int_option(body, "max_completion_tokens", "max_tokens")
        plan = build_plan(outcome, [(k, v) for k, v in parts if v], max_tokens, prompt_tokens)
        return await _serve(request, body, plan, "chat")

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body = await _body(request)
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1:
            prompt = prompt[0]
        if not isinstance(prompt, str) or not prompt:
            raise InvalidInputError("'prompt' must be a non-empty string", param="prompt")
        profile = catalog.resolve_model(str(body["model"]))
        outcome = catalog.find_within(profile, prompt)
        text = _continuation(outcome, prompt)
        max_tokens = _int_option(body, "max_tokens")
        pieces = split_pieces(text, catalog.chunk_tokens)
        plan = build_plan(outcome, [("text", pieces)], max_tokens, count_tokens(prompt))
        return await _serve(request, body, plan, "text")

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "thinkgate-replay"}
            for name in catalog.model_names()
        ]
        return {"object": "list", "data": data}

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "items": len(catalog), "profiles": catalog.profiles}

    @app.get("/replay/stats")
    async def stats() -> dict[str, Any]:
        return state.stats.snapshot()

    @app.delete("/replay/stats")
    async def reset_stats() -> dict[str, Any]:
        state.stats = ReplayStats()
        return state.stats.snapshot()

    @app.post("/replay/faults")
    async def schedule_faults(request: Request) -> dict[str, Any]:
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("fault"), str):
            raise InvalidInputError("body must be {'fault': SPEC, 'count': N}", param="fault")
        count = int(body.get("count", 1))
        state.scheduled.extend([parse_fault(body["fault"])] * count)
        return {"scheduled": len(state.scheduled)}

    @app.delete("/replay/faults")
    async def clear_faults() -> dict[str, Any]:
        state.scheduled.clear()
        return {"scheduled": 0}

    return app


def _continuation(outcome: Outcome, prompt: str) -> str:
    """Raw completion text: recorded thinking and answer, continued after what the prompt holds."""
    reasoning, response = outcome.reasoning or "", outcome.response or ""
    full = f"{reasoning}\n{_THINK_CLOSE}\n\n{response}" if reasoning else response
    tail = (
        prompt[prompt.find(outcome.prompt) + len(outcome.prompt) :]
        if outcome.prompt in prompt
        else ""
    )
    if _THINK_CLOSE in tail:
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

    def schedule_fault(self, spec: str, count: int = 1) -> None:
        """Make the next ``count`` requests fail with ``spec`` (see :func:`parse_fault`)."""
        self.app.state.replay.scheduled.extend([parse_fault(spec)] * count)
