"""`/v1/responses` (routed, through litellm's bridge), `/v1/completions` and `/v1/embeddings`
(passed through), with the same auth, ledger and metrics as chat completions."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from difficulty.errors import InvalidInputError, ThinkgateError
from difficulty.tokens import count_tokens
from router.call import CLIENT_GONE, Call
from router.chat_request import parse_chat_request, parse_json, read_body
from router.errors import render_error
from router.gateway import Gateway, GatewayDep, api_key_name, caller_key, require_api_key
from router.keys import ApiKey
from router.ledger.record import LedgerRecord
from router.passthrough import CompletionRequest, EmbeddingRequest, forward
from router.responses import (
    ResponsesRequest,
    chat_body,
    check_responses_request,
    response_body,
    response_events,
    sse_event,
)
from router.upstream import uses_http_transport

__all__ = ["router"]

router = APIRouter()


def _validate(model: type[BaseModel], data: Any) -> Any:
    if not isinstance(data, dict):
        raise InvalidInputError("the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        param = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        raise InvalidInputError(f"invalid '{param}': {message}", param=param) from None


async def _body(request: Request, gateway: Gateway) -> Any:
    limits = gateway.settings.limits
    return parse_json(await read_body(request, limits.max_body_bytes, limits.body_timeout_s))


async def _admit(request: Request, gateway: Gateway, model: str) -> ApiKey:
    """The caller's key, once it may use `model` (403) and is under its limits (429)."""
    key = caller_key(request, gateway)
    gateway.keys.check_model(key, model, None)
    await gateway.keys.admit(key)
    return key


@router.post("/v1/responses", dependencies=[Depends(require_api_key)])
async def responses(request: Request, gateway: GatewayDep) -> Response:
    """OpenAI's Responses API, routed like chat completions (translated by litellm)."""
    data = await _body(request, gateway)
    parsed: ResponsesRequest = _validate(ResponsesRequest, data)
    check_responses_request(data)
    chat_data = chat_body(data)
    chat_data.update(model=parsed.model, stream=parsed.stream)
    if parsed.thinkgate is not None:
        chat_data["thinkgate"] = parsed.thinkgate.model_dump(exclude_none=True)
    chat = parse_chat_request(chat_data, max_messages=gateway.settings.limits.max_messages)
    key = caller_key(request, gateway)
    gateway.keys.check_model(key, chat.model, chat.n)  # 403 or 400 before any scoring
    await gateway.keys.admit(key)  # 429 over a limit
    call = await Call.start(gateway, chat, api_key_name(request), endpoint="responses")
    call.caller = key
    response_id = f"resp_{call.routing.request_id}"
    try:
        async with call:
            if not await call.open(request):
                return Response(status_code=CLIENT_GONE)
            if parsed.stream:
                return call.stream(_response_stream(call, data, response_id))
            completion = await call.collect(request)
            if completion is None:
                return Response(status_code=CLIENT_GONE)
            body = response_body(data, completion, response_id)
            body["thinkgate"] = completion["thinkgate"]
            return JSONResponse(body, headers=call.headers)
    except ThinkgateError as exc:
        return render_error(exc, headers=call.headers)


async def _response_stream(call: Call, data: Any, response_id: str) -> AsyncIterator[bytes]:
    """The call's chunks as `response.*` events; an error ends the stream with an error event."""
    model = call.settings.profiles[call.routing.profile].upstream_name
    try:
        async for event in response_events(data, call.chunks(), model, response_id):
            yield sse_event(event)
    except Exception as exc:
        err = call.fail(exc)
        yield sse_event(
            {"type": "error", "code": err.code, "message": err.message, "param": err.param}
        )
    except BaseException:
        call.fail(None)
        raise
    finally:
        await call.close()


@router.post("/v1/completions", dependencies=[Depends(require_api_key)])
async def completions(request: Request, gateway: GatewayDep) -> Response:
    """Text completions, passed through to the profile the model names."""
    data = await _body(request, gateway)
    parsed: CompletionRequest = _validate(CompletionRequest, data)
    key = await _admit(request, gateway, parsed.model)
    return await _pass(
        gateway, "completions", data, parsed.model, parsed.stream, parsed.prompt, key
    )


@router.post("/v1/embeddings", dependencies=[Depends(require_api_key)])
async def embeddings(request: Request, gateway: GatewayDep) -> Response:
    """Embeddings, passed through to the profile the model names."""
    data = await _body(request, gateway)
    parsed: EmbeddingRequest = _validate(EmbeddingRequest, data)
    key = await _admit(request, gateway, parsed.model)
    return await _pass(gateway, "embeddings", data, parsed.model, False, parsed.input, key)


async def _pass(
    gateway: Gateway,
    endpoint: str,
    data: dict[str, Any],
    model: str,
    stream: bool,
    text: Any,
    key: ApiKey,
) -> Response:
    name = gateway.ready_pipeline().resolve(model).profile
    if name is None:
        raise InvalidInputError(
            f"/v1/{endpoint} is not routed: name a profile (thinkgate/<profile>) "
            "or an upstream model",
            param="model",
        )
    profile = gateway.settings.profiles[name]
    if stream and not uses_http_transport(profile):
        raise InvalidInputError(
            f"streamed completions need an OpenAI-compatible profile; {name!r} is not one",
            param="stream",
        )
    started = time.perf_counter()
    outcome = _Passed(gateway, endpoint, model, name, started, _text(text), stream)
    outcome.key = key
    try:
        body, events = await forward(gateway.ready_upstream(), name, endpoint, data)
    except ThinkgateError as exc:
        await outcome.record(None, exc)
        return render_error(exc)
    if events is None:
        assert body is not None
        await outcome.record(body.get("usage"), None)
        return JSONResponse(body)
    return StreamingResponse(outcome.relay(events), media_type="text/event-stream")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(v for v in value if isinstance(v, str))
    return ""


class _Passed:
    """One passed-through request: its ledger record once it has ended."""

    def __init__(
        self,
        gateway: Gateway,
        endpoint: str,
        model: str,
        profile: str,
        started: float,
        prompt: str,
        stream: bool,
    ) -> None:
        self.gateway, self.endpoint, self.model, self.profile = gateway, endpoint, model, profile
        self.started, self.prompt, self.stream = started, prompt, stream
        self.key: ApiKey | None = None  # whose limits the usage counts to

    async def relay(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Relay a streamed completion as it comes; its usage is read from the last events."""
        tail = b""
        error: ThinkgateError | None = None
        try:
            async for data in events:
                tail = (tail + data)[-8192:]
                yield data
        except ThinkgateError as exc:
            error = exc
        finally:
            await self.record(_last_usage(tail), error)

    async def record(self, usage: dict[str, Any] | None, error: ThinkgateError | None) -> None:
        """Write the ledger record and metrics (a failure to store is logged, not raised)."""
        usage = usage or {}
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        record = LedgerRecord(
            request_id=uuid.uuid4().hex,
            time=time.time(),
            model=self.model,
            profile=self.profile,
            decision_reason=f"passed through: /v1/{self.endpoint}",
            predictions={},
            difficulty=None,
            reference_profile=None,
            prompt_tokens=int(prompt if prompt is not None else count_tokens(self.prompt)),
            completion_tokens=int(completion or 0),
            tokens_counted=prompt is None,
            reference_tokens_estimate=None,
            saved_tokens_estimate=0.0,
            saved_by={"routing": 0.0, "early_exit": 0.0, "sampling": 0.0},
            early_exit=None,
            samples=None,
            latency_ms=(time.perf_counter() - self.started) * 1000.0,
            ttft_ms=None,
            stream=self.stream,
            status=error.status if error is not None else 200,
            error=self.gateway.redactor.scrub(error.message) if error is not None else None,
            endpoint=self.endpoint,
        )
        if self.gateway.metrics is not None:
            self.gateway.metrics.observe(record)
        pipeline = self.gateway.pipeline
        prices = pipeline.costs.get(self.profile) if pipeline is not None else None
        await self.gateway.keys.charge(self.key, record, prices)
        try:
            await self.gateway.ready_ledger().append(record)
        except Exception:
            import logging

            logging.getLogger("thinkgate.chat").exception(
                "ledger append failed for %s", record.request_id
            )


def _last_usage(tail: bytes) -> dict[str, Any] | None:
    for line in reversed(tail.split(b"\n")):
        if line.startswith(b"data: {") and b'"usage"' in line:
            try:
                usage = json.loads(line[6:]).get("usage")
            except ValueError:
                return None
            return usage if isinstance(usage, dict) else None
    return None
