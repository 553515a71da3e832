"""Fixtures for the ledger tests: records, and each store opened on a throwaway location."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from router.ledger import Ledger, LedgerRecord, RedisLedger, open_ledger

REDIS_URL = "redis://127.0.0.1:6379/0"

OpenStore = Callable[[], Ledger]


def make_record(i: int, **changes: Any) -> LedgerRecord:
    """A plausible record; `i` varies profile, difficulty, time and token counts."""
    profile = ("direct", "cot", "think")[i % 3]
    record = LedgerRecord(
        request_id=f"req-{i}",
        time=1_700_000_000.0 + 7.5 * i,
        model="thinkgate/auto",
        profile=profile,
        decision_reason=f"{profile} is cheapest within 2 points",
        predictions={
            "direct": {"p_correct": 0.6, "tokens": 300.0},
            "think": {"p_correct": 0.9, "tokens": None},
        },
        difficulty=(None, "easy", "medium", "hard")[i % 4],
        reference_profile="think",
        prompt_tokens=20 + i,
        completion_tokens=100 + 10 * i,
        tokens_counted=i % 2 == 0,
        reference_tokens_estimate=None if i % 5 == 4 else 2000.0 + i,
        saved_tokens_estimate=1500.25 + i,
        saved_by={"routing": 1000.25 + i, "early_exit": 500.0},
        early_exit={"tokens_at_exit": 900, "checkpoint": 3, "answer": "42"} if i % 3 == 2 else None,
        samples=5 if i % 7 == 0 else None,
        latency_ms=10.0 + (i * 37) % 101 + 0.25,
        ttft_ms=5.0 if i % 2 else None,
        stream=i % 2 == 1,
        status=200,
        error=None,
        feedback=(None, True, False)[i % 3] if i % 4 else None,
    )
    return replace(record, **changes)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ledger URL on a fresh temp file or a unique Redis key prefix."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ledger.db"
    return f"{REDIS_URL}?prefix=test-ledger-{uuid.uuid4().hex}"


@pytest.fixture
async def open_store(store_url: str) -> AsyncIterator[OpenStore]:
    """Opens ledgers on one location; closes them and deletes the Redis keys afterwards."""
    opened: list[Ledger] = []

    def opener() -> Ledger:
        ledger = open_ledger(store_url)
        opened.append(ledger)
        return ledger

    yield opener
    for ledger in opened:
        if isinstance(ledger, RedisLedger):
            await ledger.drop()
        await ledger.close()


@pytest.fixture
async def ledger(open_store: OpenStore) -> Ledger:
    return open_store()
