"""The gateway's front door compared: which server stack closes slow clients and refuses CL+TE.

For each stack the gateway (replay upstream behind it, SQLite ledger) is started and probed:
- slow headers: N connections send a request line and then one header byte every few seconds,
  never finishing (slow loris); how many the server closed, and when;
- slow body: complete headers announcing 100 kB, then one body byte every 2 s (and, as
  "slower_body", one every read timeout + 2 s);
- idle: connections that send nothing;
- /healthz round trip while those connections are open;
- CL+TE: a request with both Content-Length and Transfer-Encoding (RFC 9112 section 6.1 says
  the server must close the connection after answering, or refuse it);
- streams: C concurrent streamed chat requests (two waves), time to first token, errors, and
  the gateway's CPU per request.

Usage: python bench/front_door.py [--stacks uvicorn,hypercorn,granian,nginx] [--read-timeout 10]
       [--slow 60] [--concurrency 64]
Extra servers (granian, hypercorn) may come from a --target folder: PYTHONPATH=out/pkgs:$PWD.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from _servers import BENCH_ENV, CLI, cpu_s, free_port, start_nginx, stop, wait_ready  # noqa: E402

from difficulty.datasets import load_dataset  # noqa: E402


def _stack_command(stack: str, port: int, read_timeout: int) -> list[str]:
    py = sys.executable
    factory = "router.app:app_from_config"
    if stack == "uvicorn":
        return [py, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1",
                "--port", str(port), "--log-level", "warning", "--no-access-log",
                "--timeout-keep-alive", "5"]  # fmt: skip
    if stack == "thinkgate":  # `thinkgate serve`: whatever it ships with
        return [*CLI, "serve", "--port", str(port), "--log-level", "warning"]
    if stack == "hypercorn":
        return [py, "-m", "hypercorn", f"{factory}()", "--bind", f"127.0.0.1:{port}",
                "--read-timeout", str(read_timeout), "--keep-alive", "5",
                "--log-level", "warning"]  # fmt: skip
    if stack == "granian":
        return [py, "-m", "granian", "--interface", "asgi", "--factory", factory,
                "--host", "127.0.0.1", "--port", str(port), "--no-ws",
                "--http1-header-read-timeout", str(read_timeout * 1000),
                "--log-level", "warning"]  # fmt: skip
    raise SystemExit(f"unknown stack {stack!r}")


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _closed_after(reader: asyncio.StreamReader, start: float, cap: float) -> float | None:
    """Seconds from `start` until the server closes the connection (None: still open at cap)."""
    try:
        while True:
            left = cap - (time.monotonic() - start)
            if left <= 0:
                return None
            data = await asyncio.wait_for(reader.read(65536), left)
            if not data:
                return time.monotonic() - start
    except TimeoutError:
        return None
    except OSError:
        return time.monotonic() - start


async def _slow(port: int, kind: str, interval: float, cap: float) -> float | None:
    try:
        reader, writer = await _open(port)
    except OSError:
        return 0.0  # refused outright counts as closed at once
    start = time.monotonic()
    head = b"POST /v1/route HTTP/1.1\r\nHost: gw\r\n"
    if kind == "body":
        head += b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    if kind != "idle":
        writer.write(head + (b"X-Slow: " if kind == "headers" else b"{"))
    closed = asyncio.ensure_future(_closed_after(reader, start, cap))

    async def trickle() -> None:
        while not closed.done():
            await asyncio.sleep(interval)
            if kind != "idle" and not closed.done():
                writer.write(b"a" if kind == "headers" else b" ")
                try:
                    await writer.drain()
                except OSError:
                    return

    drip = asyncio.ensure_future(trickle())
    result = await closed
    drip.cancel()
    writer.close()
    return result


async def _healthz_during(
    port: int, n: int, kind: str, cap: float, interval: float = 2.0
) -> dict[str, Any]:
    tasks = [asyncio.ensure_future(_slow(port, kind, interval, cap)) for _ in range(n)]
    await asyncio.sleep(1.0)
    trips = []
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(5):
            t0 = time.perf_counter()
            try:
                ok = (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            except httpx.HTTPError:
                ok = False
            trips.append((time.perf_counter() - t0) * 1000 if ok else float("inf"))
            await asyncio.sleep(0.2)
    times = await asyncio.gather(*tasks)
    closed = [t for t in times if t is not None]
    return {
        "closed": len(closed),
        "of": n,
        "max_s": max(closed) if closed else None,
        "healthz_ms": statistics.median(trips),
    }


async def _cl_te(port: int) -> str:
    reader, writer = await _open(port)
    body = b'{"prompt": "What is 2 + 3?"}'
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    writer.write(
        b"POST /v1/route HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    )
    await writer.drain()
    start = time.monotonic()
    data = b""
    eof = False
    try:
        while time.monotonic() - start < 3.0:
            part = await asyncio.wait_for(reader.read(65536), 3.0)
            if not part:
                eof = True
                break
            data += part
    except (TimeoutError, OSError):
        pass
    writer.close()
    status = data.split(b"\r\n", 1)[0].decode(errors="replace") or "(no response)"
    return f"{status}; connection {'closed' if eof else 'kept open'}"


async def _stream(client: httpx.AsyncClient, url: str, prompt: str) -> tuple[float | None, bool]:
    body = {"model": "thinkgate/direct", "stream": True, "max_tokens": 64,
            "messages": [{"role": "user", "content": prompt}]}  # fmt: skip
    t0 = time.perf_counter()
    ttft = None
    try:
        async with client.stream("POST", url, json=body) as resp:
            if resp.status_code != 200:
                await resp.aread()
                return None, False
            async for line in resp.aiter_lines():
                if ttft is None and line.startswith("data: {"):
                    ttft = time.perf_counter() - t0
                if line == "data: [DONE]":
                    return ttft, True
    except httpx.HTTPError:
        pass
    return ttft, False


async def _streams(port: int, prompts: list[str], concurrency: int) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    limits = httpx.Limits(max_connections=concurrency + 8)
    results: list[tuple[float | None, bool]] = []
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        for wave in range(2):
            batch = prompts[wave * concurrency : (wave + 1) * concurrency]
            results += await asyncio.gather(*(_stream(client, url, p) for p in batch))
    ttfts = [r[0] * 1000 for r in results if r[1] and r[0] is not None]
    return {
        "requests": len(results),
        "errors": sum(1 for r in results if not r[1]),
        "ttft_p50_ms": statistics.median(ttfts) if ttfts else None,
    }


def _probe(port: int, pid: int, args: argparse.Namespace, prompts: list[str]) -> dict[str, Any]:
    cap = args.read_timeout * 3 + 5
    out: dict[str, Any] = {"cl_te": asyncio.run(_cl_te(port))}
    for kind in ("headers", "body", "idle"):
        out[f"slow_{kind}"] = asyncio.run(_healthz_during(port, args.slow, kind, cap))
    # A body byte less often than the read timeout: per-read deadlines (nginx, hypercorn) fire.
    slower = args.read_timeout + 2.0
    out["slower_body"] = asyncio.run(_healthz_during(port, args.slow, "body", cap, slower))
    cpu0 = cpu_s(pid)
    out["streams"] = asyncio.run(_streams(port, prompts, args.concurrency))
    out["streams"]["cpu_ms_per_request"] = (cpu_s(pid) - cpu0) * 1000 / (2 * args.concurrency)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stacks", default="uvicorn,hypercorn,granian,nginx")
    parser.add_argument("--read-timeout", type=int, default=10)
    parser.add_argument("--slow", type=int, default=60, help="slow connections per probe")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    prompts = [r.prompt for r in load_dataset("mip-gsm8k") if r.profile == "Qwen2.5-32B"]
    tmp = Path(tempfile.mkdtemp(prefix="thinkgate-door-"))
    up_port = free_port()
    upstream = f"http://127.0.0.1:{up_port}/v1"
    config = {
        "profiles": {
            "direct": {
                "model": "openai/Qwen2.5-32B",
                "api_base": upstream,
                "predictor": "Qwen2.5-32B",
                "retries": 0,
            },
            "think": {
                "model": "openai/QwQ-32B",
                "api_base": upstream,
                "predictor": "QwQ-32B",
                "retries": 0,
            },
        },  # fmt: skip
        "policy": {"kind": "fixed", "profile": "direct"},
        "reference_profile": "think",
        "ledger": {"url": f"sqlite:///{tmp / 'ledger.db'}"},
        "limits": {"body_timeout_s": args.read_timeout},
    }
    (tmp / "gateway.yaml").write_text(yaml.safe_dump(config))
    env = dict(BENCH_ENV, THINKGATE_CONFIG=str(tmp / "gateway.yaml"))
    up = subprocess.Popen(
        [*CLI, "replay-upstream", "--dataset", "mip-gsm8k", "--port", str(up_port),
         "--tokens-per-second", "200", "--first-token-delay", "0.05"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    print(f"machine: {os.cpu_count()} cores, python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.2f}; read timeout {args.read_timeout} s, "
          f"{args.slow} slow connections, {args.concurrency} concurrent streams")  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{up_port}/healthz", up)
        for stack in args.stacks.split(","):
            port = free_port()
            procs: list[subprocess.Popen[bytes]] = []
            if stack == "nginx":
                if shutil.which("nginx") is None:
                    print("nginx: not installed, skipped")
                    continue
                backend = free_port()
                procs.append(subprocess.Popen(
                    _stack_command("uvicorn", backend, args.read_timeout), env=env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))  # fmt: skip
                wait_ready(f"http://127.0.0.1:{backend}/readyz", procs[0])
                procs.append(start_nginx(tmp, backend, port, args.read_timeout))
            else:
                procs.append(subprocess.Popen(
                    _stack_command(stack, port, args.read_timeout), env=env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))  # fmt: skip
            try:
                wait_ready(f"http://127.0.0.1:{port}/readyz", procs[-1])
                result = _probe(port, procs[0].pid, args, prompts)
                print(f"{stack}: {json.dumps(result)}", flush=True)
            finally:
                for proc in reversed(procs):
                    stop(proc)
    finally:
        stop(up)


if __name__ == "__main__":
    main()
