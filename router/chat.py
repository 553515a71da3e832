"""POST /v1/chat/completions: parse, route, answer through one `Call`, which records it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from difficulty.errors import ThinkgateError
from router.call import CLIENT_GONE, Call
from router.chat_request import parse_chat_request, parse_json, read_body
from router.errors import render_error
from router.gateway import GatewayDep, api_key_name, caller_key, require_api_key

__all__ = ["router"]

router = APIRouter()


@router.post("/v1/chat/completions", dependencies=[Depends(require_api_key)])
async def chat_completions(request: Request, gateway: GatewayDep) -> Response:
    """OpenAI-compatible chat completions, routed to the right amount of thinking."""
    limits = gateway.settings.limits
    body = await read_body(request, limits.max_body_bytes, limits.body_timeout_s)
    chat = parse_chat_request(parse_json(body), max_messages=limits.max_messages)
    key = caller_key(request, gateway)
    gateway.keys.check_model(key, chat.model, chat.n)  # before any scoring: 403 or 400
    await gateway.keys.admit(key)  # 429 over a limit
    call = await Call.start(gateway, chat, api_key_name(request))
    call.caller = key
    try:
        async with call:
            if not await call.open(request):
                return Response(status_code=CLIENT_GONE)
            if chat.stream:
                return call.stream()
            completion = await call.collect(request)
            if completion is None:
                return Response(status_code=CLIENT_GONE)
            return JSONResponse(completion, headers=call.headers)
    except ThinkgateError as exc:
        return render_error(exc, headers=call.headers)
