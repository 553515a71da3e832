"""What bench/soak.py sends: streamed and plain chat requests, slow connections, raw bad requests,
and the leaky upstream that echoes credentials and prompts in its errors (a real failure mode)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["Result", "Tally", "chat", "slow_connection", "raw_request", "leaky_upstream_app"]


@dataclass
class Result:
    """One chat request as the client saw it."""

    status: int | None  # None: no HTTP response (transport error)
    kind: str  # "ok", "http-<status>", "sse-<code>", "transport-<Exception>"
    request_id: str | None
    started: float
    total_s: float
    ttft_s: float | None = None
    max_gap_s: float = 0.0
    error_text: str = ""


@dataclass
class Tally:
    """Every result of the run, and the error texts clients saw (grepped for secrets)."""

    results: list[Result] = field(default_factory=list)

    def kinds(self, since: int = 0) -> dict[str, int]:
        return dict(Counter(r.kind for r in self.results[since:]))

    def request_ids(self) -> set[str]:
        return {r.request_id for r in self.results if r.request_id}

    def statuses(self) -> Counter[int | None]:
        return Counter(r.status for r in self.results)


async def chat(
    client: httpx.AsyncClient,
    url: str,
    prompt: str,
    *,
    model: str = "thinkgate/direct",
    stream: bool = True,
    max_tokens: int = 64,
    headers: dict[str, str] | None = None,
) -> Result:
    """Send one chat request; read a stream to its end, timing the gaps between chunks."""
    body = {"model": model, "stream": stream, "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": prompt}]}  # fmt: skip
    t0 = time.perf_counter()
    started = time.monotonic()
    try:
        async with client.stream("POST", url, json=body, headers=headers) as resp:
            rid = resp.headers.get("x-thinkgate-request-id")
            if resp.status_code != 200:
                text = (await resp.aread()).decode(errors="replace")
                return Result(resp.status_code, f"http-{resp.status_code}", rid, started,
                              time.perf_counter() - t0, error_text=text)  # fmt: skip
            if not stream:
                await resp.aread()
                return Result(200, "ok", rid, started, time.perf_counter() - t0)
            return await _read_stream(resp, rid, started, t0)
    except httpx.HTTPError as exc:
        name = type(exc).__name__
        return Result(None, f"transport-{name}", None, started, time.perf_counter() - t0)


async def _read_stream(resp: httpx.Response, rid: str | None, started: float, t0: float) -> Result:
    ttft = None
    last = None
    gap = 0.0
    async for line in resp.aiter_lines():
        if not line.startswith("data: "):
            continue
        now = time.perf_counter()
        if last is not None:
            gap = max(gap, now - last)
        last = now
        if line == "data: [DONE]":
            return Result(200, "ok", rid, started, now - t0, ttft, gap)
        chunk = json.loads(line[6:])
        if "error" in chunk:
            code = chunk["error"].get("code") or "error"
            return Result(200, f"sse-{code}", rid, started, now - t0, ttft, gap, line)
        if ttft is None:
            ttft = now - t0
    return Result(200, "sse-no-done", rid, started, time.perf_counter() - t0, ttft, gap)


async def slow_connection(port: int, kind: str, interval: float, cap: float) -> float | None:
    """A slow client: `headers` (a header line that never ends), `body` (a 100 kB body a byte at
    a time) or `idle` (nothing). Seconds until the server closed it; None if open at `cap`."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return 0.0
    start = time.monotonic()
    head = b"POST /v1/route HTTP/1.1\r\nHost: gw\r\n"
    if kind == "body":
        head += b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
    elif kind == "headers":
        head += b"X-Slow: "
    if kind != "idle":
        writer.write(head)

    async def trickle() -> None:
        while True:
            await asyncio.sleep(interval)
            if kind != "idle":
                writer.write(b"a" if kind == "headers" else b" ")
                await writer.drain()

    drip = asyncio.ensure_future(trickle())
    closed: float | None = None
    try:
        while (left := cap - (time.monotonic() - start)) > 0:
            if not await asyncio.wait_for(reader.read(65536), left):
                closed = time.monotonic() - start
                break
    except TimeoutError:
        closed = None
    except OSError:
        closed = time.monotonic() - start
    drip.cancel()
    writer.close()
    return closed


async def raw_request(port: int, request: bytes, then: bytes | None = None) -> tuple[str, bool]:
    """Send raw bytes; (status line, whether the connection stayed usable for `then`)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            part = await asyncio.wait_for(reader.read(65536), 10)
            if not part:
                break
            data += part
        status = data.split(b"\r\n", 1)[0].decode(errors="replace")
        if then is None:
            return status, False
        writer.write(then)
        await writer.drain()
        more = await asyncio.wait_for(reader.read(65536), 3)
        # The first reply's body may still be arriving: look for a second status line.
        while more and b"HTTP/1.1 " not in more:
            more = await asyncio.wait_for(reader.read(65536), 3)
        return status, bool(more)
    except (TimeoutError, OSError):
        return data.split(b"\r\n", 1)[0].decode(errors="replace"), False
    finally:
        writer.close()


def leaky_upstream_app() -> Starlette:
    """An OpenAI-compatible endpoint whose errors quote what it was sent: a 401 that echoes the
    Authorization header, a 404 that quotes the prompt (both seen from real providers)."""
    calls = {"n": 0}

    async def completions(request: Request) -> JSONResponse:
        calls["n"] += 1
        body: dict[str, Any] = json.loads(await request.body())
        prompt = str(body.get("messages", [{}])[-1].get("content", ""))[:200]
        if calls["n"] % 2:
            auth = request.headers.get("authorization", "")
            message = f"Incorrect API key provided: {auth}. Check your key."
            return JSONResponse({"error": {"message": message, "type": "auth"}}, 401)
        message = f"The model could not answer the prompt '{prompt}': not found"
        return JSONResponse({"error": {"message": message, "type": "not_found"}}, 404)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"]),
                             Route("/healthz", healthz)])  # fmt: skip
