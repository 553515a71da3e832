"""Replay upstream capacity: concurrent streams of recorded QwQ-32B reasoning, paced or not.

Prints, per concurrency: time to first token (p50/p99), delivered tokens per second in total and
per stream against the configured pace, and errors; so gateway benchmarks know the upstream is
not their bottleneck. Usage: python bench/replay_upstream.py [--tokens-per-second R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time

import httpx

from difficulty.datasets import load_dataset
from difficulty.outcomes import Outcome
from router.replay.server import ReplayUpstream


async def _stream(client: httpx.AsyncClient, url: str, prompt: str) -> tuple[float, int, float]:
    """(time to first token, completion tokens, total seconds) of one streamed request."""
    body = {
        "model": "QwQ-32B",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": prompt}],
    }
    started = time.perf_counter()
    first = None
    tokens = 0
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if (
                first is None
                and chunk["choices"]
                and chunk["choices"][0]["delta"].get("reasoning_content")
            ):
                first = time.perf_counter() - started
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
    return first or 0.0, tokens, time.perf_counter() - started


async def _round(base_url: str, prompts: list[str], concurrency: int) -> dict[str, float]:
    url = f"{base_url}/chat/completions"
    limits = httpx.Limits(max_connections=concurrency + 4)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(_stream(client, url, prompts[i % len(prompts)]) for i in range(concurrency)),
            return_exceptions=True,
        )
        wall = time.perf_counter() - started
    done = [r for r in results if not isinstance(r, BaseException)]
    ttft = sorted(r[0] for r in done)
    return {
        "errors": len(results) - len(done),
        "ttft_p50_ms": 1000 * statistics.median(ttft),
        "ttft_p99_ms": 1000 * ttft[min(len(ttft) - 1, int(0.99 * len(ttft)))],
        "tokens_per_s": sum(r[1] for r in done) / wall,
        "stream_tokens_per_s": statistics.median(r[1] / r[2] for r in done),
        "wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens-per-second", type=float, default=None)
    parser.add_argument("--chunk-tokens", type=int, default=1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--max-tokens-per-item", type=int, default=1500)
    args = parser.parse_args()
    rows: list[Outcome] = [
        r
        for r in load_dataset("mip-gsm8k")
        if r.profile == "QwQ-32B" and r.reasoning and (r.tokens or 0) <= args.max_tokens_per_item
    ][:64]
    print(f"machine: {os.cpu_count()} cores, python {platform.python_version()}")
    pace = f"{args.tokens_per_second:g} tokens/s" if args.tokens_per_second else "unpaced"
    print(f"replay upstream: {len(rows)} QwQ-32B recordings, {pace}, chunk {args.chunk_tokens}")
    with ReplayUpstream(
        rows, tokens_per_second=args.tokens_per_second, chunk_tokens=args.chunk_tokens
    ) as upstream:
        prompts = [r.prompt for r in rows]
        catalog = upstream.app.state.replay.catalog
        for row in rows:  # split every recording once, as a long-running server would have
            catalog.pieces(row, "reasoning")
            catalog.pieces(row, "response")
        asyncio.run(_round(upstream.base_url, prompts, 1))  # first request: lazy imports
        for concurrency in args.concurrency:
            figures = asyncio.run(_round(upstream.base_url, prompts, concurrency))
            print(
                f"concurrency {concurrency:>3}: ttft p50 {figures['ttft_p50_ms']:.1f} ms, "
                f"p99 {figures['ttft_p99_ms']:.1f} ms; {figures['tokens_per_s']:.0f} tokens/s "
                f"total, {figures['stream_tokens_per_s']:.0f} per stream; "
                f"errors {figures['errors']:.0f}; {figures['wall_s']:.1f} s"
            )


if __name__ == "__main__":
    main()
