"""A text-completions endpoint for probe-mode tests: records every request it gets.

It either forwards each request to a real server (llama.cpp) and relays the reply, or answers
with a rule of the test's (a network-boundary stand-in for an endpoint that is not installed).
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


def _app(seen: Recorded, forward_to: str | None, rule: Rule | None, delay_s: float) -> Any:
    import anyio
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    client = httpx.AsyncClient(timeout=60.0)

    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        seen.bodies.append(body)
        if forward_to is not None:
            reply = (await client.post(f"{forward_to}/completions", json=body)).json()
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
        return JSONResponse(reply)

    return Starlette(routes=[Route("/v1/completions", completions, methods=["POST"])])


@contextmanager
def serve_completions(
    *, forward_to: str | None = None, rule: Rule | None = None, delay_s: float = 0.0
) -> Iterator[CompletionsServer]:
    """Serve the recording endpoint on a free port for the duration of the block."""
    seen = Recorded()
    with ServerThread(_app(seen, forward_to, rule, delay_s)) as server:
        yield CompletionsServer(f"{server.url}/v1", seen)
