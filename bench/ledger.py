"""Ledger store throughput: concurrent appends and savings reads, printed per store."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
import uuid

from router.ledger import LedgerRecord, RedisLedger, open_ledger


def _record(i: int) -> LedgerRecord:
    return LedgerRecord(
        request_id=f"bench-{i}",
        time=time.time(),
        model="thinkgate/auto",
        profile=("direct", "think")[i % 2],
        decision_reason="bench",
        predictions={"direct": {"p_correct": 0.7, "tokens": 300.0}},
        difficulty=("easy", "hard")[i % 2],
        reference_profile="think",
        prompt_tokens=50,
        completion_tokens=300 + i % 700,
        tokens_counted=False,
        reference_tokens_estimate=2000.0,
        saved_tokens_estimate=1700.0 - i % 700,
        saved_by={"routing": 1700.0 - i % 700},
        early_exit=None,
        samples=None,
        latency_ms=100.0 + i % 400,
        ttft_ms=20.0,
        stream=True,
        status=200,
        error=None,
    )


async def _measure(url: str, n: int, concurrency: int) -> None:
    ledger = open_ledger(url)
    try:
        sem = asyncio.Semaphore(concurrency)
        waits: list[float] = []

        async def one(i: int) -> None:
            async with sem:
                start = time.perf_counter()
                await ledger.append(_record(i))
                waits.append((time.perf_counter() - start) * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - start
        read_start = time.perf_counter()
        savings = await ledger.savings()
        read_ms = (time.perf_counter() - read_start) * 1000
        assert savings["requests"] == n, savings["requests"]
        waits.sort()
        print(
            f"{url.split('?')[0]:<45} n={n} concurrency={concurrency}: "
            f"{n / elapsed:,.0f} appends/s, append median {statistics.median(waits):.2f} ms, "
            f"p99 {waits[int(0.99 * (len(waits) - 1))]:.2f} ms; savings read {read_ms:.1f} ms"
        )
    finally:
        if isinstance(ledger, RedisLedger):
            await ledger.drop()
        await ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        urls = [
            f"sqlite:///{tmp}/full.db",
            f"sqlite:///{tmp}/normal.db?synchronous=normal",
            f"{args.redis}?prefix=bench-ledger-{uuid.uuid4().hex}",
        ]
        for url in urls:
            asyncio.run(_measure(url, args.n, args.concurrency))


if __name__ == "__main__":
    main()
