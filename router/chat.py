"""POST /v1/chat/completions: parse, route, call upstream, relay, record."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from difficulty.errors import ThinkgateError
from router.chat_request import (
    ChatRequest,
    message_text,
    parse_chat_request,
    parse_json,
    read_body,
)
from router.errors import render_error
from router.gateway import Gateway, GatewayDep, require_api_key
from router.pipeline import CallStats, Routing
from router.streaming import ChunkSource, RelayResponse, collect, relay

__all__ = ["router", "STEP_BY_STEP", "upstream_messages", "open_source"]

router = APIRouter()
_log = logging.getLogger("thinkgate.chat")

T = TypeVar("T")

STEP_BY_STEP = (
    "Think step by step, showing your reasoning, then state the final answer on the last line."
)


def upstream_messages(request: ChatRequest, style: str) -> list[dict[str, Any]]:
    """The messages sent upstream; the step-by-step style adds a system instruction."""
    messages = [m.model_dump(exclude_none=True) for m in request.messages]
    if style == "step_by_step":
        messages.insert(0, {"role": "system", "content": STEP_BY_STEP})
    return messages


def _params(request: ChatRequest) -> dict[str, Any]:
    params = request.passthrough()
    if request.requested_max_tokens is not None:
        params["max_tokens"] = request.requested_max_tokens
    if request.n is not None and request.n > 1:
        params["n"] = request.n
    return params


async def open_source(
    gateway: Gateway, routing: Routing, request: ChatRequest, stats: CallStats
) -> ChunkSource:
    """Open the stream that answers: a plain upstream stream, a search, or a watched stream."""
    upstream = gateway.ready_upstream()
    profile = gateway.settings.profiles[routing.profile]
    messages = upstream_messages(request, profile.prompt_style)
    params = _params(request)
    if routing.decision.sampling is not None and routing.decision.sampling.max_samples > 1:
        from router.search import open_search

        return await open_search(upstream, routing, messages, params, stats)
    if profile.watches_convergence:
        from router.early_exit import open_watched

        return await open_watched(upstream, routing, profile, messages, params, stats)
    stream = await upstream.open(routing.profile, messages, params)
    stats.profile = stream.profile
    return stream


async def _record(gateway: Gateway, routing: Routing, stats: CallStats, *, stream: bool) -> None:
    pipeline = gateway.ready_pipeline()
    record = pipeline.record(routing, stats, stream=stream)
    if gateway.metrics is not None:
        gateway.metrics.observe(record)
    try:
        await gateway.ready_ledger().append(record)
    except Exception:
        # The caller still gets the answer; /readyz reports the ledger down so the load balancer
        # moves traffic away, and the log keeps the record id that was not stored.
        _log.exception("ledger append failed for request %s", record.request_id)


async def _unless_gone(request: Request, make: Callable[[], Awaitable[T]]) -> tuple[T | None, bool]:
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


async def _gone(gateway: Gateway, routing: Routing, stats: CallStats, *, stream: bool) -> Response:
    stats.status, stats.error = 499, "client disconnected"
    with anyio.CancelScope(shield=True):
        await _record(gateway, routing, stats, stream=stream)
    return Response(status_code=499)


@router.post("/v1/chat/completions", dependencies=[Depends(require_api_key)])
async def chat_completions(request: Request, gateway: GatewayDep) -> Response:
    """OpenAI-compatible chat completions, routed to the right amount of thinking."""
    settings = gateway.settings
    pipeline = gateway.ready_pipeline()
    body = await read_body(request, settings.limits.max_body_bytes)
    chat = parse_chat_request(parse_json(body), max_messages=settings.limits.max_messages)
    prompt = next(message_text(m) for m in reversed(chat.messages) if m.role == "user")
    routing = await pipeline.route(chat.model, prompt, n=chat.n)
    if gateway.metrics is not None:
        gateway.metrics.observe_decision(routing.decision_ms / 1000.0)
    stats = CallStats(prompt_text="\n".join(message_text(m) for m in chat.messages))
    headers = routing.headers()
    completion_id = f"chatcmpl-{routing.request_id}"
    model = settings.profiles[routing.profile].upstream_name
    try:
        # A search or a slow first token can take long: a caller who leaves cancels it.
        opened, gone = await _unless_gone(
            request, lambda: open_source(gateway, routing, chat, stats)
        )
    except ThinkgateError as exc:
        stats.status, stats.error = exc.status, exc.message
        with anyio.CancelScope(shield=True):
            await _record(gateway, routing, stats, stream=chat.stream)
        return render_error(exc, headers=headers)
    if opened is None or gone:
        if opened is not None:
            await opened.aclose()
        return await _gone(gateway, routing, stats, stream=chat.stream)
    source = opened
    if stats.samples is not None:
        headers["x-thinkgate-samples"] = str(stats.samples)
    if stats.profile and stats.profile != routing.profile:
        headers["x-thinkgate-profile"] = stats.profile
        model = settings.profiles[stats.profile].upstream_name
    if chat.stream:

        async def finish() -> None:
            await _record(gateway, routing, stats, stream=True)

        events = relay(
            source,
            stats,
            completion_id=completion_id,
            model=model,
            include_usage=chat.include_usage,
            on_finish=finish,
        )
        return RelayResponse(events, media_type="text/event-stream", headers=headers)
    try:
        acc, gone = await _unless_gone(request, lambda: collect(source, stats))
    except ThinkgateError as exc:
        stats.status, stats.error = exc.status, exc.message
        with anyio.CancelScope(shield=True):
            await _record(gateway, routing, stats, stream=False)
        return render_error(exc, headers=headers)
    if acc is None or gone:
        return await _gone(gateway, routing, stats, stream=False)
    payload = acc.completion(completion_id, model)
    facts = routing.facts()
    facts["profile"] = stats.profile or routing.profile
    facts["samples"] = stats.samples
    facts["early_exit"] = stats.early_exit
    payload["thinkgate"] = facts
    await _record(gateway, routing, stats, stream=False)
    return JSONResponse(payload, headers=headers)
