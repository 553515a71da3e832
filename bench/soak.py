"""Soak the gateway with waves of concurrent streams while its dependencies fail, then count.

Starts a Redis of its own (the ledger), the replay upstream (recorded mip-gsm8k outputs, paced
like a model), a leaky upstream (its errors echo the Authorization header and the prompt) and
the gateway (`thinkgate serve`, optionally behind nginx with deploy/nginx.conf), then runs:
1. baseline: C concurrent streams, R requests each;
2. redis-kill: the same wave, Redis killed (SIGKILL) a second in and restarted two seconds later;
3. redis-stall: plain requests one at a time before and during a Redis SIGSTOP (added latency
   per request), then a wave with Redis stalled for three seconds in the middle;
4. upstream faults: a wave while the upstream answers 500s, times out and breaks streams;
5. big prompts: one unrelated stream and /healthz timed while 8 concurrent 1 MB prompts arrive;
6. slow clients: connections that send headers or a body a byte at a time, or nothing;
7. bad input: the malformed requests of tests/router/test_bad_input.py that a client can send;
8. leaks: the planted secrets (gateway, admin and upstream keys, a prompt marker, with
   store_text off) searched for in client error bodies, the gateway's log and the ledger store
   (every Redis key under its prefix, and the spool file).
Prints requests served, errors by kind, responses with status 500, records expected vs
recorded, the largest stall of an unrelated stream, /healthz latency, slow connections closed,
secrets found, and the gateway's RSS.

Usage: python bench/soak.py [--concurrency 64] [--requests 3] [--front none|nginx]
       [--read-timeout 10] [--phases baseline,redis-kill,...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import shutil
import signal
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
from _servers import (  # noqa: E402
    BENCH_ENV,
    CLI,
    RedisProcess,
    cpu_s,
    free_port,
    rss_mb,
    start_nginx,
    stop,
    wait_ready,
)
from _soak_checks import bad_input, leaks, records  # noqa: E402
from _soak_client import Tally, chat, slow_connection  # noqa: E402

from difficulty.datasets import load_dataset  # noqa: E402


class Soak:
    """The processes under test and everything measured about them."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.tally = Tally()
        self.planted = {
            "gateway key": "tg-soak-" + secrets.token_hex(12),
            "admin key": "tg-admin-" + secrets.token_hex(12),
            "upstream key": "sk-upstream-" + secrets.token_hex(16),
            "prompt marker": "PLANTEDPROMPT" + secrets.token_hex(8),
        }
        self.prefix = "soak-" + secrets.token_hex(4)
        self.redis = RedisProcess(tmp)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.figures: dict[str, Any] = {}
        prompts = [r.prompt for r in load_dataset("mip-gsm8k") if r.profile == "Qwen2.5-32B"]
        self.prompts = prompts
        self.gw_pid = 0
        self.port = 0

    # -- set-up -----------------------------------------------------------------------------

    def config(self, upstream: str, leaky: str) -> dict[str, Any]:
        profile = {"predictor": "Qwen2.5-32B", "retries": 1, "timeout_s": 3.0}
        return {
            "profiles": {
                "direct": {**profile, "model": "openai/Qwen2.5-32B", "api_base": upstream},
                "think": {
                    **profile,
                    "model": "openai/QwQ-32B",
                    "api_base": upstream,
                    "predictor": "QwQ-32B",
                },
                "leaky": {
                    **profile,
                    "model": "openai/leaky-model",
                    "api_base": leaky,
                    "api_key_env": "SOAK_UPSTREAM_KEY",
                    "retries": 0,
                },
            },  # fmt: skip
            "policy": {"kind": "fixed", "profile": "direct"},
            "reference_profile": "think",
            "ledger": {"url": f"{self.redis.url}?prefix={self.prefix}", "store_text": False},
            "auth": {"api_key_envs": ["SOAK_GATEWAY_KEY"], "admin_key_env": "SOAK_ADMIN_KEY"},
            "limits": {"body_timeout_s": self.args.read_timeout},
        }

    def start(self) -> None:
        self.redis.start()
        up_port = free_port()
        self.procs.append(subprocess.Popen(
            [*CLI, "replay-upstream", "--dataset", "mip-gsm8k", "--port", str(up_port),
             "--tokens-per-second", str(self.args.tokens_per_second),
             "--first-token-delay", "0.05"],
            env=BENCH_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        self.upstream = f"http://127.0.0.1:{up_port}"
        # Its own process: in this one it would compete with the soak client for the GIL
        # (parsing 1 MB bodies), and the client's delays would count as the gateway's stalls.
        leaky_port = free_port()
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "_soak_client:leaky_upstream_app", "--factory",
             "--app-dir", str(Path(__file__).parent), "--port", str(leaky_port),
             "--log-level", "warning"],
            env=BENCH_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        leaky = f"http://127.0.0.1:{leaky_port}"
        conf = self.tmp / "gateway.yaml"
        conf.write_text(yaml.safe_dump(self.config(f"{self.upstream}/v1", f"{leaky}/v1")))
        env = dict(BENCH_ENV, SOAK_GATEWAY_KEY=self.planted["gateway key"],
                   SOAK_ADMIN_KEY=self.planted["admin key"],
                   SOAK_UPSTREAM_KEY=self.planted["upstream key"])  # fmt: skip
        gw_port = free_port()
        self.log = (self.tmp / "gateway.log").open("wb")
        gateway = subprocess.Popen(
            [*CLI, "serve", "--config", str(conf), "--port", str(gw_port), "--log-level", "info"],
            env=env, cwd=self.tmp, stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip
        self.procs.append(gateway)
        self.gw_pid = gateway.pid
        wait_ready(f"{self.upstream}/healthz", self.procs[0])
        wait_ready(f"{leaky}/healthz", self.procs[1])
        wait_ready(f"http://127.0.0.1:{gw_port}/readyz", gateway)
        self.port = gw_port
        if self.args.front == "nginx":
            self.port = self._start_nginx(gw_port)

    def _start_nginx(self, backend: int) -> int:
        if shutil.which("nginx") is None:
            raise SystemExit("--front nginx: nginx is not installed")
        port = free_port()
        self.procs.append(start_nginx(self.tmp, backend, port, self.args.read_timeout))
        return port

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop(proc)
        self.redis.kill()

    # -- traffic ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, connections: int) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        headers = {"authorization": f"Bearer {self.planted['gateway key']}"}
        return httpx.AsyncClient(base_url=self.url, timeout=60, limits=limits, headers=headers)

    async def wave(self, name: str, inject: Any = None, *, model: str = "thinkgate/direct") -> None:
        """C streams at once, R requests each, while `inject()` runs beside them."""
        since = len(self.tally.results)
        c, r = self.args.concurrency, self.args.requests
        async with self.client(c + 8) as client:

            async def worker(k: int) -> None:
                for i in range(r):
                    prompt = self.prompts[(k * r + i) % len(self.prompts)]
                    result = await chat(client, "/v1/chat/completions", prompt, model=model)
                    self.tally.results.append(result)

            jobs = [worker(k) for k in range(c)] + ([inject()] if inject else [])
            await asyncio.gather(*jobs)
        self.figures[name] = self.tally.kinds(since)

    async def redis_kill(self) -> None:
        async def inject() -> None:
            await asyncio.sleep(1.0)
            self.redis.kill()
            await asyncio.sleep(2.0)
            self.redis.start()

        await self.wave("redis-kill", inject)

    async def redis_stall(self) -> None:
        async with self.client(4) as client:
            before = [await self._timed_plain(client, i) for i in range(10)]
            self.redis.signal(signal.SIGSTOP)
            try:
                during = [await self._timed_plain(client, i) for i in range(10)]
            finally:
                self.redis.signal(signal.SIGCONT)
        self.figures["redis-stall added latency ms (median during - before)"] = round(
            (statistics.median(during) - statistics.median(before)) * 1000, 1
        )

        async def inject() -> None:
            await asyncio.sleep(1.0)
            self.redis.signal(signal.SIGSTOP)
            await asyncio.sleep(3.0)
            self.redis.signal(signal.SIGCONT)

        await self.wave("redis-stall", inject)

    async def _timed_plain(self, client: httpx.AsyncClient, i: int) -> float:
        result = await chat(client, "/v1/chat/completions", self.prompts[i], stream=False,
                            max_tokens=8)  # fmt: skip
        self.tally.results.append(result)
        return result.total_s

    async def upstream_faults(self) -> None:
        async def inject() -> None:
            async with httpx.AsyncClient(base_url=self.upstream) as up:
                for spec, count in (("500", 12), ("break-after=5", 8), ("503", 6),
                                    ("timeout", 3), ("429", 4)):  # fmt: skip
                    await up.post("/replay/faults", json={"fault": spec, "count": count})
                    await asyncio.sleep(0.5)

        await self.wave("upstream-faults", inject)
        async with httpx.AsyncClient(base_url=self.upstream) as up:
            await up.delete("/replay/faults")
        # Plain requests that break mid-stream upstream before the client got anything.
        async with self.client(4) as client, httpx.AsyncClient(base_url=self.upstream) as up:
            since = len(self.tally.results)
            for i in range(6):
                await up.post("/replay/faults", json={"fault": "break-after=3", "count": 1})
                result = await chat(client, "/v1/chat/completions", self.prompts[i], stream=False)
                self.tally.results.append(result)
            self.figures["plain requests broken mid-stream upstream"] = self.tally.kinds(since)

    async def big_prompts(self) -> None:
        async with self.client(32) as client:
            quiet = await chat(client, "/v1/chat/completions", self.prompts[0], max_tokens=400)
            self.tally.results.append(quiet)
            size = self.args.big_bytes
            mark = self.planted["prompt marker"]
            big = [(mark + f" {i} " + "What is 17 * 23? " * (size // 17))[:size] for i in range(9)]
            # One big prompt alone first: the phase measures what big prompts cost, not the
            # one-off imports of a fresh process's first request on the leaky upstream's path.
            alone = await chat(client, "/v1/chat/completions", big.pop(), stream=False,
                               model="thinkgate/leaky")  # fmt: skip
            self.tally.results.append(alone)
            stop_health = asyncio.Event()
            health: list[float] = []

            async def poll_health() -> None:
                while not stop_health.is_set():
                    t0 = time.perf_counter()
                    await client.get("/healthz")
                    health.append((time.perf_counter() - t0) * 1000)
                    await asyncio.sleep(0.02)

            replies: list[Any] = []

            async def big_requests() -> None:
                await asyncio.sleep(0.5)
                # Sent to the leaky upstream: the replay upstream would tokenize 1 MB prompts on
                # the loop that also serves the watched stream, and its stall is not the gateway's.
                sent = [chat(client, "/v1/chat/completions", p, stream=False,
                             model="thinkgate/leaky") for p in big]  # fmt: skip
                replies.extend(await asyncio.gather(*sent))

            poller = asyncio.ensure_future(poll_health())
            cpu0 = cpu_s(self.gw_pid)
            watched, _ = await asyncio.gather(
                chat(client, "/v1/chat/completions", self.prompts[0], max_tokens=400),
                big_requests(),
            )
            gateway_cpu = cpu_s(self.gw_pid) - cpu0  # what load on the machine does not inflate
            stop_health.set()
            await poller
        self.tally.results += [watched, *replies]
        self.figures["big prompts"] = {
            "largest stall of an unrelated stream ms": round(watched.max_gap_s * 1000, 1),
            "same stream alone ms": round(quiet.max_gap_s * 1000, 1),
            "one 1 MB prompt alone, reply ms": round(alone.total_s * 1000, 1),
            "healthz median / max ms": [round(statistics.median(health), 1), round(max(health), 1)],
            "gateway CPU s, 8 prompts and the stream": round(gateway_cpu, 2),
            "1 MB prompt replies": self.tally.kinds(len(self.tally.results) - len(replies)),
        }

    async def leaky_errors(self) -> None:
        """Requests to the leaky upstream, whose errors quote the key and the prompt."""
        async with self.client(4) as client:
            for i in range(6):
                prompt = f"{self.planted['prompt marker']} question {i}: what is 2 + {i}?"
                result = await chat(client, "/v1/chat/completions", prompt,
                                    model="thinkgate/leaky", stream=bool(i % 2))  # fmt: skip
                self.tally.results.append(result)

    async def bad_input(self) -> None:
        self.figures["bad input: responses with status 500"] = await bad_input(self)

    async def slow_clients(self) -> None:
        cap = self.args.read_timeout + 5
        kinds = [("headers", 2.0)] * 40 + [("idle", 2.0)] * 20
        kinds += [("body", self.args.read_timeout + 2.0)] * 10
        closed = await asyncio.gather(*(slow_connection(self.port, k, i, cap) for k, i in kinds))
        within = sum(1 for t in closed if t is not None and t <= self.args.read_timeout + 1)
        self.figures["slow connections closed within the read timeout"] = f"{within}/{len(kinds)}"


PHASES = ("baseline", "redis-kill", "redis-stall", "upstream-faults", "leaks", "big-prompts",
          "slow-clients", "bad-input")  # fmt: skip


async def run(soak: Soak, phases: list[str]) -> None:
    steps = {
        "baseline": lambda: soak.wave("baseline"),
        "redis-kill": soak.redis_kill,
        "redis-stall": soak.redis_stall,
        "upstream-faults": soak.upstream_faults,
        "leaks": soak.leaky_errors,
        "big-prompts": soak.big_prompts,
        "slow-clients": soak.slow_clients,
        "bad-input": soak.bad_input,
    }
    for phase in phases:
        await steps[phase]()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--requests", type=int, default=3, help="requests per stream per wave")
    parser.add_argument("--tokens-per-second", type=float, default=200.0)
    parser.add_argument("--front", choices=["none", "nginx"], default="none")
    parser.add_argument("--read-timeout", type=float, default=10.0,
                        help="the front door's configured read timeout, seconds")  # fmt: skip
    parser.add_argument("--big-bytes", type=int, default=1_000_000)
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated, in order (default: all of {', '.join(PHASES)})",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="thinkgate-soak-"))
    soak = Soak(args, tmp)
    print(f"machine: {os.cpu_count()} cores, python {platform.python_version()}, load "
          f"{os.getloadavg()[0]:.2f}; {args.concurrency} concurrent streams x {args.requests}; "
          f"front: {args.front}")  # fmt: skip
    try:
        soak.start()
        t0 = time.monotonic()
        asyncio.run(run(soak, args.phases.split(",")))
        soak.figures["records"] = records(soak)
        soak.figures["rss MB (now, peak)"] = [round(x) for x in rss_mb(soak.gw_pid)]
        soak.figures["secrets found (where)"] = leaks(soak)
        statuses = soak.tally.statuses()
        soak.figures["requests"] = {
            "sent": len(soak.tally.results),
            "served (200, complete)": sum(1 for r in soak.tally.results if r.kind == "ok"),
            "responses with status 500": statuses.get(500, 0),
        }
        soak.figures["errors by kind"] = {k: v for k, v in soak.tally.kinds().items() if k != "ok"}
        soak.figures["wall s"] = round(time.monotonic() - t0, 1)
    finally:
        soak.stop()
    for name, value in soak.figures.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
