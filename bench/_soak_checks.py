"""The soak's checks: bad input sent raw, records expected vs stored, planted secrets searched."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from _soak_client import raw_request

__all__ = ["bad_input", "records", "leaks"]


async def bad_input(soak: Any) -> int:
    """The malformed requests a client can send; how many got a 500 (each status is shown)."""
    deep = b'{"model": "thinkgate/auto", "messages": ' + b"[" * 1200 + b"]" * 1200 + b"}"
    big_int = b'{"model": "thinkgate/auto", "n": ' + b"9" * 5000 + b', "messages": []}'
    surrogate = (b'{"model": "thinkgate/auto", "messages": [{"role": "user", "content": '
                 b'"what is 2+2? \\ud800"}]}')  # fmt: skip
    auth = f"Authorization: Bearer {soak.planted['gateway key']}\r\n".encode()
    admin = f"Authorization: Bearer {soak.planted['admin key']}\r\n".encode()

    def post(path: str, body: bytes, key: bytes = auth, method: str = "POST") -> bytes:
        return (f"{method} {path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n").encode() + key + b"\r\n" + body  # fmt: skip

    probe = b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n"
    cases = {
        "deep JSON chat": post("/v1/chat/completions", deep),
        "deep JSON route": post("/v1/route", deep),
        "5000-digit integer": post("/v1/chat/completions", big_int),
        "lone surrogate chat": post("/v1/chat/completions", surrogate),
        "lone surrogate route": post("/v1/route", b'{"prompt": "hi \\udfff there"}'),  # fmt: skip
        "Infinity policy": post(
            "/admin/policy", b'{"kind": "utility", "lam": 1e999}', admin, "PUT"
        ),
        "CL+TE": (
            b"POST /v1/route HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n" + auth + b"\r\n"
            b'10\r\n{"prompt": "hi"}\r\n0\r\n\r\n'
        ),
    }
    fivehundreds = 0
    shown = {}
    for name, request in cases.items():
        status, kept = await raw_request(soak.port, request, then=probe)
        fivehundreds += " 500 " in status + " "
        shown[name] = f"{status[9:]}; connection {'kept' if kept else 'closed'}"
    soak.figures["bad input"] = shown
    return fivehundreds


def records(soak: Any) -> dict[str, int]:
    """Records expected (every chat response the gateway gave a request id) vs in the store."""
    from router.ledger.redis_store import RedisLedger

    async def read() -> set[str]:
        store = RedisLedger(f"{soak.redis.url}", prefix=soak.prefix)
        try:
            return {r.request_id for r in await store.records()}
        finally:
            await store.close()

    expected = soak.tally.request_ids()
    stored: set[str] = set()
    for _ in range(60):  # records spooled while Redis was away drain in the background
        stored = asyncio.run(read())
        if expected <= stored:
            break
        time.sleep(0.5)
    return {"expected": len(expected), "recorded": len(expected & stored),
            "lost": len(expected - stored)}  # fmt: skip


def leaks(soak: Any) -> dict[str, list[str]]:
    """Where each planted secret turned up: client errors, the gateway's log, the ledger."""
    import redis

    places: dict[str, bytes] = {
        "client errors": "\n".join(r.error_text for r in soak.tally.results).encode(),
        "gateway log": (soak.tmp / "gateway.log").read_bytes(),
    }
    client = redis.Redis.from_url(soak.redis.url)
    dump = []
    for key in client.scan_iter(f"{soak.prefix}*"):
        kind = client.type(key)
        if kind == b"stream":
            dump += [repr(e) for e in client.xrange(key)]
        elif kind == b"hash":
            dump.append(repr(client.hgetall(key)))
        elif kind == b"string":
            dump.append(repr(client.get(key)))
    client.close()
    places["ledger (Redis)"] = "\n".join(dump).encode()
    places["ledger spool"] = b"".join(p.read_bytes() for p in soak.tmp.glob("*spool*"))
    found: dict[str, list[str]] = {}
    for name, secret in soak.planted.items():
        where = [place for place, data in places.items() if secret.encode() in data]
        if where:
            found[name] = where
    return found
