"""The durable ledger against a real Redis of the test's own that it kills, restarts and stalls:
records counted before and after, none lost; no append waits on a store that does not answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from router.ledger import RedisLedger
from router.ledger.breaker import CircuitBreaker
from router.ledger.durable import DurableLedger
from router.ledger.errors import LedgerError
from router.ledger.spool import Spool
from tests.router.ledger.conftest import make_record
from tests.router.redis_server import RedisServer

pytestmark = pytest.mark.anyio

# The store's own deadlines are set to an hour: an append or a read that waited on a stalled
# Redis would not come back while it is stalled; only the durable ledger's own bounds return them.
NO_STORE_DEADLINE_S = 3600.0


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    (tmp_path / "redis").mkdir()
    with RedisServer(tmp_path / "redis") as server:
        yield server


def durable(server: RedisServer, spool_path: Path, **spool_options: int) -> DurableLedger:
    store = RedisLedger(server.url, prefix="durable-test", timeout_s=NO_STORE_DEADLINE_S)
    breaker = CircuitBreaker(failures=2, reset_s=0.2)
    return DurableLedger(store, Spool(spool_path, **spool_options), breaker=breaker)


@pytest.fixture
async def ledger(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[DurableLedger]:
    opened = durable(redis_server, tmp_path / "spool.db")
    await opened.start()
    yield opened
    redis_server.resume() if redis_server.stalled else None
    await opened.close()


async def stored_ids(server: RedisServer) -> list[str]:
    store = RedisLedger(server.url, prefix="durable-test")
    try:
        return [r.request_id for r in await store.records()]
    finally:
        await store.close()


async def settled(ledger: DurableLedger, timeout: float = 20.0) -> bool:
    """Wait until nothing waits for the store (drained) or the time runs out."""
    for _ in range(int(timeout / 0.05)):
        backlog = await ledger.backlog()
        if backlog.pending == 0 and backlog.spooled == 0:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_records_reach_the_store_and_the_spool_stays_empty(
    ledger: DurableLedger, redis_server: RedisServer
) -> None:
    for i in range(20):
        await ledger.append(make_record(i))
    assert await settled(ledger)
    assert await stored_ids(redis_server) == [f"req-{i}" for i in range(20)]
    assert (await ledger.backlog()).as_dict() == {
        "pending": 0, "spooled": 0, "spooled_bytes": 0, "dropped": 0, "store": "closed",
    }  # fmt: skip


async def test_none_lost_across_a_redis_kill_and_restart(
    ledger: DurableLedger, redis_server: RedisServer
) -> None:
    for i in range(30):
        await ledger.append(make_record(i))
    assert await settled(ledger)
    redis_server.kill()
    for i in range(30, 70):
        await ledger.append(make_record(i))
    assert not await ledger.ping()
    for _ in range(100):
        if (await ledger.backlog()).spooled == 40:
            break
        await asyncio.sleep(0.05)
    assert (await ledger.backlog()).spooled == 40
    # Labels and reads still work for records that wait in the spool.
    assert await ledger.set_feedback("req-55", True)
    assert (await ledger.get("req-55")).feedback is True  # type: ignore[union-attr]
    redis_server.start()
    assert await settled(ledger)
    assert await stored_ids(redis_server) == [f"req-{i}" for i in range(70)]
    store = RedisLedger(redis_server.url, prefix="durable-test")
    assert (await store.get("req-55")).feedback is True  # type: ignore[union-attr]
    assert (await store.savings())["requests"] == 70
    await store.close()


async def test_a_failed_ping_counts_against_the_breaker(
    ledger: DurableLedger, redis_server: RedisServer
) -> None:
    redis_server.kill()  # refused connections: the store's ping says False at once
    for _ in range(ledger.breaker.failures):
        assert not await ledger.ping()
    assert (await ledger.backlog()).store == "open"
    redis_server.start()
    for _ in range(100):  # a probe once the breaker lets one through closes it
        if await ledger.ping():
            break
        await asyncio.sleep(0.05)
    assert (await ledger.backlog()).store == "closed"


async def test_a_stalled_redis_does_not_hold_appends_and_loses_nothing(
    ledger: DurableLedger, redis_server: RedisServer
) -> None:
    await ledger.append(make_record(0))
    assert await settled(ledger)
    redis_server.stall()
    for i in range(1, 21):  # each returns while Redis is stalled: none waited on it
        await ledger.append(make_record(i))
    assert not await ledger.ping()
    for _ in range(100):  # the writer's deadline passes too: the breaker opens
        if (await ledger.backlog()).store == "open":
            break
        await asyncio.sleep(0.05)
    with pytest.raises(LedgerError):  # reads fail (503) instead of hanging
        await ledger.savings()
    redis_server.resume()
    assert await settled(ledger)
    assert await stored_ids(redis_server) == [f"req-{i}" for i in range(21)]


async def test_a_spool_left_by_a_dead_process_is_drained_by_the_next(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    first = durable(redis_server, tmp_path / "spool.db")
    redis_server.kill()
    for i in range(10):
        await first.append(make_record(i))
    await first.close()  # Redis still down: the records stay in the spool file
    assert Spool(tmp_path / "spool.db").stats().records == 10
    redis_server.start()
    second = durable(redis_server, tmp_path / "spool.db")
    await second.start()
    assert await settled(second)
    await second.close()
    assert await stored_ids(redis_server) == [f"req-{i}" for i in range(10)]


async def test_a_full_spool_counts_what_it_dropped(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    ledger = durable(redis_server, tmp_path / "spool.db", max_records=5)
    redis_server.kill()
    for i in range(8):
        await ledger.append(make_record(i))
    for _ in range(100):
        backlog = await ledger.backlog()
        if backlog.spooled + backlog.dropped == 8:
            break
        await asyncio.sleep(0.05)
    assert (backlog.spooled, backlog.dropped, backlog.store) == (5, 3, "open")
    await ledger.close()


async def test_pairs_explored_while_redis_is_down_wait_in_the_spool_and_count_once(
    ledger: DurableLedger, redis_server: RedisServer
) -> None:
    from tests.router.ledger.test_counterfactual import make_pair

    await ledger.append(make_record(1))
    await ledger.append_counterfactual(make_pair(1))
    assert await settled(ledger)
    redis_server.kill()
    await ledger.append(make_record(2))
    await ledger.append_counterfactual(make_pair(2))
    await ledger.append_counterfactual(make_pair(3))
    assert (await ledger.backlog()).spooled == 3
    redis_server.start()
    assert await settled(ledger)
    store = RedisLedger(redis_server.url, prefix="durable-test")
    try:
        pairs = await store.counterfactual_records()
        assert sorted(p.request_id for p in pairs) == ["req-1", "req-2", "req-3"]
        assert await ledger.counterfactual_records() == pairs
        # A pair drained again (its reply lost) is neither stored nor counted twice.
        runs = (await store.savings())["exploration"]["runs"]
        await store.append_counterfactual(make_pair(2))
        assert len(await store.counterfactual_records()) == 3 == runs
        assert (await store.savings())["exploration"]["runs"] == 3
    finally:
        await store.close()
