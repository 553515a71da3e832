"""What only the shared store promises: replicas on one prefix see one ledger."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from router.ledger import LedgerError, RedisLedger, open_ledger
from tests.router.ledger.conftest import REDIS_URL, make_record

pytestmark = pytest.mark.anyio


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[RedisLedger, RedisLedger]]:
    """Two ledgers, as two gateway replicas would open them, on one fresh prefix."""
    url = f"{REDIS_URL}?prefix=test-ledger-{uuid.uuid4().hex}"
    a, b = open_ledger(url), open_ledger(url)
    assert isinstance(a, RedisLedger) and isinstance(b, RedisLedger)
    yield a, b
    await a.drop()
    await a.close()
    await b.close()


async def test_concurrent_appends_from_two_replicas_are_all_counted(
    replicas: tuple[RedisLedger, RedisLedger],
) -> None:
    a, b = replicas
    await asyncio.gather(*((a if i % 2 else b).append(make_record(i)) for i in range(200)))
    for replica in (a, b):
        savings = await replica.savings()
        assert savings["requests"] == 200
        assert savings["tokens"]["completion"] == sum(100 + 10 * i for i in range(200))
    assert len(await b.records()) == 200


async def test_feedback_reaches_a_record_made_by_another_replica(
    replicas: tuple[RedisLedger, RedisLedger],
) -> None:
    a, b = replicas
    await a.append(make_record(4, feedback=None))
    assert await b.set_feedback("req-4", True) is True
    assert (await a.get("req-4")).feedback is True  # type: ignore[union-attr]
    assert (await a.savings())["feedback"]["correct"] == 1


async def test_a_prefix_sees_only_its_own_records(
    replicas: tuple[RedisLedger, RedisLedger],
) -> None:
    a, _ = replicas
    other = open_ledger(f"{REDIS_URL}?prefix=test-ledger-{uuid.uuid4().hex}")
    try:
        await a.append(make_record(1))
        assert (await other.savings())["requests"] == 0
        assert await other.get("req-1") is None
    finally:
        await other.close()


async def test_unreachable_redis_reports_not_ready_and_fails_writes_typed() -> None:
    ledger = open_ledger("redis://127.0.0.1:1/0?prefix=unreachable")
    try:
        assert await ledger.ping() is False
        with pytest.raises(LedgerError):
            await ledger.append(make_record(1))
        with pytest.raises(LedgerError):
            await ledger.savings()
    finally:
        await ledger.close()


async def test_max_records_trims_the_stream_but_not_the_aggregates() -> None:
    ledger = open_ledger(f"{REDIS_URL}?prefix=test-ledger-{uuid.uuid4().hex}&max_records=5")
    assert isinstance(ledger, RedisLedger) and ledger.max_records == 5
    full = open_ledger(f"{REDIS_URL}?prefix=test-ledger-{uuid.uuid4().hex}")
    try:
        for i in range(12):
            record = make_record(i)
            await ledger.append(record)
            await full.append(record)
        kept = await ledger.records()
        assert [r.request_id for r in kept] == [f"req-{i}" for i in range(7, 12)]
        assert await ledger.get("req-0") is None
        assert await ledger.set_feedback("req-0", True) is False  # its record is gone
        assert await ledger.set_feedback("req-11", True) is True
        await full.set_feedback("req-11", True)
        assert await ledger.savings() == await full.savings()  # every request still counted
        index = await ledger._client.hlen(ledger._keys["index"])
        labels = await ledger._client.hkeys(ledger._keys["feedback"])
        assert index == 5 and set(labels) <= {f"req-{i}" for i in range(7, 12)}
    finally:
        for store in (ledger, full):
            assert isinstance(store, RedisLedger)
            await store.drop()
            await store.close()
