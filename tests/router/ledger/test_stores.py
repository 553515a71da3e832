"""One suite, run against both stores: SQLite (temp file) and Redis (real server, own prefix)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from router.ledger import Ledger, RedisLedger, aggregate, open_ledger
from tests.router.ledger.conftest import REDIS_URL, OpenStore, make_record

pytestmark = pytest.mark.anyio


async def test_append_then_get_returns_the_same_record(ledger: Ledger) -> None:
    record = make_record(1, prompt="What is 2+3?", completion="5", gold="5")
    await ledger.append(record)
    assert await ledger.get("req-1") == record
    assert await ledger.get("no-such-request") is None


async def test_records_keep_order_and_filter_labelled(ledger: Ledger) -> None:
    stored = [make_record(i) for i in range(12)]
    for record in stored:
        await ledger.append(record)
    assert await ledger.records() == stored
    labelled = await ledger.records(labelled_only=True)
    assert labelled == [r for r in stored if r.feedback is not None]
    assert 0 < len(labelled) < len(stored)


async def test_text_is_stored_only_when_the_record_carries_it(ledger: Ledger) -> None:
    await ledger.append(make_record(1))
    await ledger.append(make_record(2, prompt="Solve x+1=2", completion="x=1"))
    first, second = await ledger.records()
    assert (first.prompt, first.completion) == (None, None)
    assert (second.prompt, second.completion) == ("Solve x+1=2", "x=1")


async def test_feedback_labels_a_record_and_moves_the_counters(ledger: Ledger) -> None:
    await ledger.append(make_record(0, feedback=None))
    assert await ledger.set_feedback("req-0", True) is True
    assert (await ledger.get("req-0")).feedback is True  # type: ignore[union-attr]
    assert (await ledger.savings())["feedback"] == {"labelled": 1, "correct": 1, "accuracy": 1.0}
    assert await ledger.set_feedback("req-0", False) is True
    assert (await ledger.get("req-0")).feedback is False  # type: ignore[union-attr]
    assert (await ledger.savings())["feedback"] == {"labelled": 1, "correct": 0, "accuracy": 0.0}
    assert await ledger.set_feedback("unknown", True) is False
    assert (await ledger.savings())["feedback"]["labelled"] == 1


async def test_appending_a_known_request_id_again_changes_nothing(ledger: Ledger) -> None:
    await ledger.append(make_record(3))
    await ledger.append(make_record(3, completion_tokens=99_999))
    assert [r.completion_tokens for r in await ledger.records()] == [130]
    assert (await ledger.savings())["requests"] == 1


@pytest.mark.parametrize("bucket_seconds", [1, 60, 3600])
async def test_savings_equal_the_pure_aggregate(ledger: Ledger, bucket_seconds: int) -> None:
    for i in range(40):
        await ledger.append(make_record(i))
    for i in range(0, 40, 3):  # relabel some, label some new ones
        await ledger.set_feedback(f"req-{i}", i % 2 == 0)
    records = await ledger.records()
    expected = aggregate(records, bucket_seconds)
    assert await ledger.savings(bucket_seconds=bucket_seconds) == expected
    assert expected["requests"] == 40
    assert expected["feedback"]["labelled"] == sum(r.feedback is not None for r in records)


async def test_empty_ledger_has_empty_savings(ledger: Ledger) -> None:
    savings = await ledger.savings()
    assert savings == aggregate([], 60)
    assert savings["requests"] == 0 and savings["series"] == []


async def test_records_and_savings_survive_reopening(open_store: OpenStore) -> None:
    first = open_store()
    for i in range(10):
        await first.append(make_record(i))
    await first.set_feedback("req-0", True)
    before = await first.savings()
    await first.close()
    again = open_store()
    assert len(await again.records()) == 10
    assert (await again.get("req-0")).feedback is True  # type: ignore[union-attr]
    assert await again.savings() == before


async def test_concurrent_appends_lose_no_record(ledger: Ledger) -> None:
    await asyncio.gather(*(ledger.append(make_record(i)) for i in range(200)))
    savings = await ledger.savings()
    assert savings["requests"] == 200
    assert sum(p["requests"] for p in savings["by_profile"].values()) == 200
    assert {r.request_id for r in await ledger.records()} == {f"req-{i}" for i in range(200)}


async def test_ping_answers(ledger: Ledger) -> None:
    assert await ledger.ping() is True


async def test_both_stores_give_equal_savings_for_the_same_records(tmp_path: Path) -> None:
    sqlite_store = open_ledger(f"sqlite:///{tmp_path}/same.db")
    redis_store = open_ledger(f"{REDIS_URL}?prefix=test-ledger-{uuid.uuid4().hex}")
    assert isinstance(redis_store, RedisLedger)
    try:
        records = [make_record(i) for i in range(25)]
        for store in (sqlite_store, redis_store):
            for record in records:
                await store.append(record)
            await store.set_feedback("req-5", True)
        assert await sqlite_store.savings(bucket_seconds=30) == await redis_store.savings(
            bucket_seconds=30
        )
    finally:
        await redis_store.drop()
        for store in (sqlite_store, redis_store):
            await store.close()


async def test_an_unwritable_record_fails_alone(ledger: Ledger) -> None:
    bad = make_record(1, early_exit={"answer": object()})
    results = await asyncio.gather(
        ledger.append(bad),
        *(ledger.append(make_record(i)) for i in range(2, 6)),
        return_exceptions=True,
    )
    assert isinstance(results[0], TypeError) and results[1:] == [None] * 4
    assert (await ledger.savings())["requests"] == 4


async def test_a_long_history_gives_the_aggregate_window_for_every_bucket_width(
    ledger: Ledger,
) -> None:
    # Eight hours, so second-wide buckets span two stored shards.
    records = [make_record(i, time=1_700_000_000.0 + 97.3 * i) for i in range(300)]
    await asyncio.gather(*(ledger.append(r) for r in records))
    for bucket in (1, 7, 60, 900, 3600, 86400):
        assert await ledger.savings(bucket_seconds=bucket) == aggregate(records, bucket), bucket
