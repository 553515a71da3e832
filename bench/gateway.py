"""Gateway overhead, side by side against the replay upstream, in one run.

Starts the replay upstream (recorded mip-gsm8k outputs, paced like a model) and the gateway
(`thinkgate serve`, SQLite ledger) as separate processes, then prints:
- decision latency per request (server-side, from POST /v1/route): median and p99;
- time to first token and total time, through the gateway vs directly to the upstream, at
  concurrency 1, 16 and 64 (streamed requests), with errors;
- ledger records written vs requests sent; the gateway's RSS (current and peak).
Targets: decision median <= 10 ms; added TTFT median <= decision median + 5 ms at 16;
64 concurrent streams with zero errors and no lost records; RSS <= 1.5 GB.

At concurrency > 1 each level runs twice: "burst" (every client starts at once; since the
recorded streams are all cut at max_tokens they end together, so each wave of c requests
reaches the gateway in the same millisecond and the last one waits for the c-1 decisions before
it) and "staggered" (client k starts k/c of a stream's length late, so requests arrive spread
out as independent users' would). Both sides of a row see the same arrivals.

Usage: python bench/gateway.py [--tokens-per-second 200] [--max-tokens 64] [--model-dir DIR]
       [--arrivals burst|staggered|both] [--deployments N] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from difficulty.datasets import load_dataset
from difficulty.encoder import Encoder
from difficulty.model import DEFAULT_MODEL_DIR
from router.app import SERVING_ENCODER


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            raise SystemExit(f"{url}: process exited with {proc.returncode}\n{tail}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url}: not ready after {timeout:.0f} s")


def _rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _children(pid: int) -> list[int]:
    """Direct child processes (the gateway's workers, when there are several)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found.extend(int(c) for c in children)
    return found


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process and its worker processes have used."""
    total = 0.0
    for p in [pid, *_children(pid)]:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _one(
    client: httpx.AsyncClient, url: str, model: str, prompt: str, max_tokens: int
) -> tuple[float | None, float, bool]:
    """(ttft seconds, total seconds, ok) of one streamed chat request."""
    body = {
        "model": model,
        "stream": True,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": prompt}],
    }
    t0 = time.perf_counter()
    ttft = None
    done = False
    try:
        async with client.stream("POST", url, json=body) as resp:
            if resp.status_code != 200:
                await resp.aread()
                return None, time.perf_counter() - t0, False
            async for line in resp.aiter_lines():
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    # Read on to the body's end, like the OpenAI SDK, so the connection is
                    # kept alive for the next request rather than dropped.
                    done = True
                    continue
                if ttft is None:
                    chunk = json.loads(line[6:])
                    delta = (chunk.get("choices") or [{}])[0].get("delta") or {}
                    if delta.get("content") or delta.get("reasoning_content"):
                        ttft = time.perf_counter() - t0
    except httpx.HTTPError:
        return ttft, time.perf_counter() - t0, False
    return ttft, time.perf_counter() - t0, done


async def _level(
    url: str,
    model: str,
    prompts: list[str],
    concurrency: int,
    requests: int,
    max_tokens: int,
    stagger_s: float = 0.0,
) -> dict[str, Any]:
    limits = httpx.Limits(
        max_connections=concurrency + 8, max_keepalive_connections=concurrency + 8
    )
    results: list[tuple[float | None, float, bool]] = []
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        counter = iter(range(requests))

        async def worker(k: int) -> None:
            # Worker k starts k/concurrency of a stream's length late, so arrivals spread out.
            await asyncio.sleep(stagger_s * k / concurrency)
            for i in counter:
                results.append(
                    await _one(client, url, model, prompts[i % len(prompts)], max_tokens)
                )

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
    ttfts = [r[0] * 1000 for r in results if r[0] is not None and r[2]]
    totals = [r[1] * 1000 for r in results if r[2]]
    return {
        "requests": len(results),
        "errors": sum(1 for r in results if not r[2]),
        "ttft_p50": _pct(ttfts, 0.5),
        "ttft_p99": _pct(ttfts, 0.99),
        "total_p50": _pct(totals, 0.5),
        "total_p99": _pct(totals, 0.99),
    }


def _decision_latency(gateway: str, prompts: list[str], n: int) -> tuple[list[float], list[float]]:
    server, client_side = [], []
    with httpx.Client(timeout=60) as client:
        for i in range(n):
            t0 = time.perf_counter()
            resp = client.post(
                f"{gateway}/v1/route",
                json={
                    "model": "thinkgate/auto?target=balanced",
                    "prompt": prompts[i % len(prompts)],
                },
            )
            client_side.append((time.perf_counter() - t0) * 1000)
            resp.raise_for_status()
            server.append(float(resp.json()["decision_ms"]))
    return server, client_side


def _ledger_ttfts(url: str) -> list[float | None]:
    """Every record's ttft_ms, in the order stored (the gateway clocks it after the decision)."""
    from router.ledger.base import open_ledger

    async def read() -> list[float | None]:
        ledger = open_ledger(url)
        try:
            return [r.ttft_ms for r in await ledger.records()]
        finally:
            await ledger.close()

    return asyncio.run(read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens-per-second", type=float, default=200.0)
    parser.add_argument("--first-token-delay", type=float, default=0.05)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--levels", default="1,16,64")
    parser.add_argument("--model-dir", default=None, help="difficulty model (default: shipped)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gateway processes (thinkgate serve --workers); more than one uses a Redis ledger",
    )
    parser.add_argument(
        "--deployments",
        type=int,
        default=1,
        help="deployments per profile (all on the replay upstream), balanced by litellm's Router",
    )
    parser.add_argument(
        "--arrivals",
        choices=["burst", "staggered", "both"],
        default="both",
        help="at concurrency > 1: every client starts at once (each wave of streams then ends "
        "and restarts together), or client k starts k/c of a stream's length late",
    )
    args = parser.parse_args()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               LITELLM_LOCAL_MODEL_COST_MAP="True", TOKENIZERS_PARALLELISM="false")  # fmt: skip
    prompts = [r.prompt for r in load_dataset("mip-gsm8k") if r.profile == "Qwen2.5-32B"]
    tmp = Path(tempfile.mkdtemp(prefix="thinkgate-bench-"))
    up_port, gw_port = _free_port(), _free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    gateway = f"http://127.0.0.1:{gw_port}"
    ledger_url = f"sqlite:///{tmp / 'ledger.db'}"
    if args.workers > 1:
        ledger_url = f"redis://127.0.0.1:6379/0?prefix=thinkgate-bench-{tmp.name}"
    config = {
        "profiles": {
            "direct": {
                "model": "openai/Qwen2.5-32B",
                "api_base": f"{upstream}/v1",
                "predictor": "Qwen2.5-32B",
                "retries": 0,
            },
            "think": {
                "model": "openai/QwQ-32B",
                "api_base": f"{upstream}/v1",
                "predictor": "QwQ-32B",
                "retries": 0,
            },
        },  # fmt: skip
        # Chat requests go to `direct` through the policy, so both sides hit the same recordings.
        "policy": {"kind": "fixed", "profile": "direct"},
        "targets": {"balanced": {"kind": "target", "epsilon": 0.03}},
        "reference_profile": "think",
        "ledger": {"url": ledger_url, "spool": {"path": str(tmp / "spool.db")}},
        "model_dir": args.model_dir,
    }
    if args.deployments > 1:
        for profile in config["profiles"].values():
            profile["deployments"] = [{"api_base": f"{upstream}/v1"}] * args.deployments
    (tmp / "gateway.yaml").write_text(yaml.safe_dump(config))
    cli = [sys.executable, "-m", "router.cli"]
    up_proc = subprocess.Popen(
        [*cli, "replay-upstream", "--dataset", "mip-gsm8k", "--port", str(up_port),
         "--tokens-per-second", str(args.tokens_per_second),
         "--first-token-delay", str(args.first_token_delay)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    gw_proc = subprocess.Popen(
        [*cli, "serve", "--config", str(tmp / "gateway.yaml"), "--port", str(gw_port),
         "--log-level", "warning", "--workers", str(args.workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_ready(f"{upstream}/healthz", up_proc)
        _wait_ready(f"{gateway}/readyz", gw_proc)
        print(f"machine: {os.cpu_count()} cores, python {platform.python_version()}, "
              f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        # Same environment as the gateway process, so the same pick of single-prompt backend.
        model_dir = Path(args.model_dir) if args.model_dir else DEFAULT_MODEL_DIR
        encoder = json.loads((model_dir / "metadata.json").read_text())["encoder"]
        backend = Encoder(encoder, single=SERVING_ENCODER).single_backend()
        print(f"prompt embedding: {encoder} on {backend}")
        print(f"upstream pace: {args.tokens_per_second:g} tokens/s per stream, first token after "
              f"{args.first_token_delay * 1000:.0f} ms, max_tokens {args.max_tokens}")  # fmt: skip
        _decision_latency(gateway, prompts[-20:], 20)  # warm-up
        cpu0 = _cpu_s(gw_proc.pid)
        server, client_side = _decision_latency(gateway, prompts, args.decisions)
        route_cpu = (_cpu_s(gw_proc.pid) - cpu0) / len(server) * 1000
        dec_p50 = statistics.median(server)
        trip = statistics.median(client_side)
        print(f"decision latency (server, n={len(server)}): median {dec_p50:.2f} ms, "
              f"p99 {_pct(server, 0.99):.2f} ms; POST /v1/route round trip median "
              f"{trip:.2f} ms; gateway CPU {route_cpu:.1f} ms per route call")  # fmt: skip
        sent = seen = 0
        modes = ["burst", "staggered"] if args.arrivals == "both" else [args.arrivals]
        print(f"{'conc':>8} {'side':>8} {'n':>4} {'err':>4} {'ttft p50':>9} {'ttft p99':>9} "
              f"{'total p50':>10} {'total p99':>10}")  # fmt: skip
        added: dict[tuple[int, str], float] = {}
        stream_s = args.first_token_delay + args.max_tokens / args.tokens_per_second
        for level in [int(x) for x in args.levels.split(",")]:
            for arrivals in modes if level > 1 else ["burst"]:
                n = max(30, level * 4)
                stagger = stream_s if arrivals == "staggered" else 0.0
                rows = {}
                for side, url, model in (
                    ("direct", f"{upstream}/v1/chat/completions", "Qwen2.5-32B"),
                    ("gateway", f"{gateway}/v1/chat/completions", "thinkgate/auto"),
                ):
                    cpu0 = _cpu_s(gw_proc.pid)
                    rows[side] = asyncio.run(
                        _level(url, model, prompts, level, n, args.max_tokens, stagger)
                    )
                    cpu = ""
                    if side == "gateway":
                        sent += n
                        per = (_cpu_s(gw_proc.pid) - cpu0) / n * 1000
                        cpu = f"  gateway CPU {per:.1f} ms/request"
                    r = rows[side]
                    label = str(level) if level == 1 else f"{level} {arrivals[:5]}"
                    print(f"{label:>8} {side:>8} {r['requests']:>4} {r['errors']:>4} "
                          f"{r['ttft_p50']:>7.1f}ms {r['ttft_p99']:>7.1f}ms "
                          f"{r['total_p50']:>8.1f}ms {r['total_p99']:>8.1f}ms{cpu}")  # fmt: skip
                key = (level, arrivals)
                added[key] = rows["gateway"]["ttft_p50"] - rows["direct"]["ttft_p50"]
                print(f"{'':>8}    added TTFT (median gateway - median direct): "
                      f"{added[key]:.1f} ms")  # fmt: skip
                # Where the added time goes: the ledger's ttft_ms starts after the decision
                # (upstream open -> first relayed token); the rest of the gateway's TTFT is
                # reading, parsing and scoring (including waiting for the event loop).
                time.sleep(0.5)
                stored = _ledger_ttfts(ledger_url)
                after = [t for t in stored[seen:] if t is not None]
                seen = len(stored)
                if after:
                    post = statistics.median(after)
                    print(f"{'':>8}    gateway TTFT after the decision (ledger, median): "
                          f"{post:.1f} ms; before it (read, parse, score): "
                          f"{rows['gateway']['ttft_p50'] - post:.1f} ms")  # fmt: skip
        time.sleep(1.0)
        records = len(_ledger_ttfts(ledger_url))
        rss, peak = _rss_mb(gw_proc.pid)
        for child in _children(gw_proc.pid):  # worker processes
            child_rss, child_peak = _rss_mb(child)
            rss, peak = rss + child_rss, peak + child_peak
        print(f"ledger: {records} records for {sent} gateway chat requests "
              f"({'none lost' if records == sent else f'{sent - records} missing'})")  # fmt: skip
        print(f"gateway RSS: {rss:.0f} MB now, {peak:.0f} MB peak")
        for (level, arrivals), value in added.items():
            if level == 16:
                verdict = "met" if value <= dec_p50 + 5 else "NOT met"
                print(f"target: added TTFT at 16 ({arrivals} arrivals) <= decision median + 5 ms: "
                      f"{value:.1f} <= {dec_p50 + 5:.1f} -> {verdict}")  # fmt: skip
        print(f"target: decision median <= 10 ms -> {'met' if dec_p50 <= 10 else 'NOT met'}")
    finally:
        for proc in (gw_proc, up_proc):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if ledger_url.startswith("redis://"):
            import redis

            client = redis.Redis(host="127.0.0.1", port=6379)
            for key in client.scan_iter(f"thinkgate-bench-{tmp.name}*"):
                client.delete(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
