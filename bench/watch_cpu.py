"""What watching a thinking stream costs the gateway: CPU per stream with the convergence
watcher on vs off, 64 concurrent streams, side by side in one run.

Starts the replay upstream (recorded QwQ-32B thinking on mip-gsm8k, paced) and, in turn, two
gateways (`thinkgate serve`, SQLite ledger) whose `think` profile differs only in
`convergence.enabled`; every request is sent to `think` by a fixed policy. The watcher runs at
the shipped fixed threshold (`calibration: false`) so it scores every checkpoint and exits where
it would in production; streams it cuts are shorter, so the figure is CPU per thinking token
relayed as well as per stream. Prints, for each side: streams, errors, gateway CPU per stream,
thinking tokens relayed, CPU per 1,000 tokens, and the watcher's share.

Usage: python bench/watch_cpu.py [--streams 64] [--rounds 2] [--tokens-per-second 1500]
       [--interval-tokens 25]   (the watcher's checkpoint spacing on the "on" side)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import BENCH_ENV, CLI, cpu_s, free_port, stop, wait_ready  # noqa: E402


async def _stream(client: httpx.AsyncClient, url: str, prompt: str) -> tuple[bool, int]:
    body = {
        "model": "thinkgate/auto",
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    tokens = 0
    try:
        async with client.stream("POST", url, json=body) as r:
            if r.status_code != 200:
                print(f"  HTTP {r.status_code}: {(await r.aread())[:200]!r}", file=sys.stderr)
                return False, 0
            async for line in r.aiter_lines():
                if line.startswith("data: ") and '"completion_tokens"' in line:
                    usage = json.loads(line[6:]).get("usage") or {}
                    tokens = int(usage.get("completion_tokens") or tokens)
    except httpx.HTTPError as exc:
        print(f"  {type(exc).__name__}: {exc}", file=sys.stderr)
        return False, 0
    return True, tokens


async def _wave(url: str, prompts: list[str]) -> list[tuple[bool, int]]:
    limits = httpx.Limits(max_connections=len(prompts), max_keepalive_connections=len(prompts))
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        return await asyncio.gather(*(_stream(client, url, p) for p in prompts))


def _side(
    watch: bool,
    upstream: str,
    prompts: list[str],
    streams: int,
    rounds: int,
    tmp: Path,
    interval: int = 25,
) -> dict[str, Any]:
    port = free_port()
    config = {
        "profiles": {
            "think": {
                "model": "openai/QwQ-32B",
                "api_base": f"{upstream}/v1",
                "effort": "think",
                "strength": "strong",
                "retries": 0,
                "max_tokens": 16384,
                "prefill": True,
                "convergence": {
                    "enabled": watch,
                    "calibration": False,
                    "interval_tokens": interval,
                },
            },
        },
        "policy": {"kind": "fixed", "profile": "think"},
        "reference_profile": "think",
        "ledger": {"url": f"sqlite:///{tmp / f'ledger-{watch}.db'}"},
    }
    path = tmp / f"gateway-{watch}.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess_popen([*CLI, "serve", "--config", str(path), "--port", str(port),
                             "--log-level", "warning"])  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", proc)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        asyncio.run(_wave(url, prompts[:4]))  # warm-up
        cpu0, t0 = cpu_s(proc.pid), time.perf_counter()
        results: list[tuple[bool, int]] = []
        for k in range(rounds):
            wave = prompts[k * streams : (k + 1) * streams]
            results += asyncio.run(_wave(url, wave))
        cpu, wall = cpu_s(proc.pid) - cpu0, time.perf_counter() - t0
    finally:
        stop(proc)
    ok = [t for good, t in results if good]
    return {
        "streams": len(results),
        "errors": len(results) - len(ok),
        "cpu_ms_per_stream": 1000 * cpu / max(len(ok), 1),
        "tokens": sum(ok),
        "cpu_ms_per_1k_tokens": 1000 * cpu / max(sum(ok), 1) * 1000,
        "wall_s": wall,
    }


def subprocess_popen(cmd: list[str]) -> Any:
    """A server process of this benchmark, quiet, with the bench environment."""
    return subprocess.Popen(cmd, env=BENCH_ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/watch_cpu.py")
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tokens-per-second", type=float, default=1500.0)
    parser.add_argument("--interval-tokens", type=int, default=25)
    args = parser.parse_args()
    from difficulty.datasets import load_dataset

    prompts = [o.prompt for o in load_dataset("mip-gsm8k") if o.profile == "QwQ-32B"]
    prompts = prompts[: args.streams * args.rounds]
    tmp = Path(tempfile.mkdtemp(prefix="thinkgate-watch-"))
    up_port = free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    pace = str(args.tokens_per_second)
    up = subprocess_popen(
        [*CLI, "replay-upstream", "--dataset", "mip-gsm8k", "--port", str(up_port),
         "--tokens-per-second", pace]
    )  # fmt: skip
    try:
        wait_ready(f"{upstream}/healthz", up)
        print(f"machine: {os.cpu_count()} cores, python {platform.python_version()}, "
              f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        print(f"{args.streams} concurrent streams x {args.rounds} rounds, upstream "
              f"{args.tokens_per_second:g} tokens/s a stream, a checkpoint every "
              f"{args.interval_tokens} tokens")  # fmt: skip
        sides = {
            name: _side(
                name.strip() == "on",
                upstream,
                prompts,
                args.streams,
                args.rounds,
                tmp,
                args.interval_tokens,
            )
            for name in ("off", "on", "off ", "on ")
        }
    finally:
        stop(up)
    for name, r in sides.items():
        print(f"watcher {name.strip():<3}  streams {r['streams']}  errors {r['errors']}  "
              f"gateway CPU {r['cpu_ms_per_stream']:.1f} ms/stream  "
              f"{r['tokens']:,} tokens  {r['cpu_ms_per_1k_tokens']:.2f} ms/1k tokens  "
              f"{r['wall_s']:.0f} s")  # fmt: skip
    off = [r for n, r in sides.items() if n.strip() == "off"]
    on = [r for n, r in sides.items() if n.strip() == "on"]
    for key, what in (("cpu_ms_per_stream", "stream"), ("cpu_ms_per_1k_tokens", "token relayed")):
        extra = [b[key] / a[key] - 1 for a, b in zip(off, on, strict=True)]
        print(f"watching adds, per {what} (on vs off, each pair): "
              + ", ".join(f"{100 * x:+.1f}%" for x in extra))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
