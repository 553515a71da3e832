"""A text-completions endpoint for probe-mode tests: records every request it gets.

It either forwards each request to a real server (llama.cpp) and relays the reply and its
status, or answers with a rule of the test's (a network-boundary stand-in for an endpoint that is
not installed), refusing a prompt and completion over its `context` (in the words it counts as
tokens) as llama.cpp does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from router.server_thread import ServerThread

__all__ = ["Recorded", "CompletionsServer", "serve_completions"]


@dataclass
class Recorded:
    """What the endpoint saw: request bodies and the replies it sent."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CompletionsServer:
    """The running endpoint: its `/v1` base URL and what it recorded."""

    base_url: str
    seen: Recorded


Rule = Callable[[str], str]


def context_length_exceeded(prompt_tokens: int, max_tokens: int, n_ctx: int) -> dict[str, Any]:
    """llama-cpp-python's 400 body for a text completion over its context (0.3.36, verbatim)."""
    message = (
        f"This model's maximum context length is {n_ctx} tokens, however you requested "
        f"{prompt_tokens + max_tokens} tokens ({prompt_tokens} in your prompt; {max_tokens} "
        "for the completion). Please reduce your prompt; or completion length."
    )
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }


def _app(
    seen: Recorded,
    forward_to: str | None,
    rule: Rule | None,
    delay_s: float,
    context: int | None,
) -> Any:
    import anyio
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    # No timeout of its own: the gateway's probe timeout is the one under test.
    client = httpx.AsyncClient(timeout=None)

    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        seen.bodies.append(body)
        status = 200
        if forward_to is not None:
            answer = await client.post(f"{forward_to}/completions", json=body)
            reply, status = answer.json(), answer.status_code
        elif context is not None and len(body["prompt"].split()) + body["max_tokens"] > context:
            await anyio.sleep(delay_s)
            words = len(body["prompt"].split())
            reply, status = context_length_exceeded(words, body["max_tokens"], context), 400
        else:
            assert rule is not None
            await anyio.sleep(delay_s)
            text = rule(body["prompt"])
            reply = {
                "object": "text_completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [{"index": 0, "text": text, "finish_reason": "length"}],
                "usage": {
                    "prompt_tokens": len(body["prompt"].split()),
                    "completion_tokens": len(text.split()) + 1,
                    "total_tokens": 0,
                },
            }
        seen.replies.append(reply)
        return JSONResponse(reply, status_code=status)

    return Starlette(routes=[Route("/v1/completions", completions, methods=["POST"])])


@contextmanager
def serve_completions(
    *,
    forward_to: str | None = None,
    rule: Rule | None = None,
    delay_s: float = 0.0,
    context: int | None = None,
) -> Iterator[CompletionsServer]:
    """Serve the recording endpoint on a free port for the duration of the block."""
    seen = Recorded()
    with ServerThread(_app(seen, forward_to, rule, delay_s, context)) as server:
        yield CompletionsServer(f"{server.url}/v1", seen)
