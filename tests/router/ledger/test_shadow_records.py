"""Early exit's shadow records in both stores: appended in order, read from an offset, shared,
a calibrator on a second replica counts what the first stored, and past the cap reads resume
where the whole history says."""

from __future__ import annotations

import pytest

from policies.convergence import CalibrationSettings, ShadowRecord
from router.calibrator import ExitCalibrator, shadow_store
from router.ledger import RedisLedger, open_ledger
from router.ledger.errors import LedgerConfigError
from tests.router.ledger.conftest import OpenStore

pytestmark = pytest.mark.anyio

LOOSE = CalibrationSettings(max_changed_answers=0.2, miss_probability=0.5)


def _record(i: int) -> ShadowRecord:
    return ShadowRecord("m", "math", ((0.6, "7", 10), (0.99, "42", 40 + i)), 200, "42")


async def test_records_are_appended_in_order_and_read_from_an_offset(open_store: OpenStore) -> None:
    store = shadow_store(open_store())
    for i in range(3):
        await store.append_shadow(_record(i).to_json())
    rows = await store.shadow_records()
    assert [r["trail"][-1][2] for r in rows] == [40, 41, 42]
    assert await store.shadow_records(2) == rows[2:]
    assert ShadowRecord.from_json(rows[0]) == _record(0)


async def test_a_second_replica_certifies_on_the_first_ones_records(open_store: OpenStore) -> None:
    first = ExitCalibrator(open_store())
    second = ExitCalibrator(open_store())
    first.book(LOOSE)
    book = second.book(LOOSE)
    for i in range(LOOSE.streams_needed):
        await first.record(_record(i), None)
    assert first.books[LOOSE].certified("m", "math")
    assert not book.certified("m", "math")
    await second.refresh(force=True)
    assert book.threshold("m", "math") == 0.61  # above 0.6, where "7" would change the answer
    await first.refresh(force=True)  # its own records are not counted twice
    assert first.summary()[0]["sample_size"] == LOOSE.streams_needed


async def test_the_cap_keeps_the_newest_and_reads_keep_their_place(store_url: str) -> None:
    sep = "&" if "?" in store_url else "?"
    ledger = open_ledger(f"{store_url}{sep}max_shadow=3")
    try:
        store = shadow_store(ledger)
        for i in range(2):
            await store.append_shadow(_record(i).to_json())
        start, rows = await store.shadow_read(0)
        assert start == 0 and len(rows) == 2
        for i in range(2, 6):  # six ever stored, the newest three kept
            await store.append_shadow(_record(i).to_json())
        # A reader that had read two: record 2 was dropped unread, it resumes at 3.
        start, rows = await store.shadow_read(2)
        assert start == 3 and [r["trail"][-1][2] for r in rows] == [43, 44, 45]
        start, rows = await store.shadow_read(5)
        assert start == 5 and [r["trail"][-1][2] for r in rows] == [45]
        assert await store.shadow_read(6) == (6, [])
        calibrator = ExitCalibrator(ledger)
        calibrator.book(LOOSE)
        await calibrator.refresh(force=True)  # a new replica counts what is kept
        assert calibrator.summary()[0]["sample_size"] == 3
        await store.append_shadow(_record(6).to_json())
        await calibrator.refresh(force=True)  # and then only what is new
        assert calibrator.summary()[0]["sample_size"] == 4
    finally:
        if isinstance(ledger, RedisLedger):
            await ledger.drop()
        await ledger.close()


def test_a_bad_cap_is_refused() -> None:
    with pytest.raises(LedgerConfigError, match="max_shadow"):
        open_ledger("sqlite:///x.db?max_shadow=-1")


async def test_own_rows_are_skipped_by_mark_when_others_land_between(
    open_store: OpenStore,
) -> None:
    first = ExitCalibrator(open_store())
    second = ExitCalibrator(open_store())
    first.book(LOOSE)
    await first.record(_record(0), None)
    await second.record(_record(1), None)  # lands after first's own row
    await first.record(_record(2), None)
    await first.refresh(force=True)
    # Its own two counted once each, the other replica's one counted on reading.
    assert first.summary()[0]["sample_size"] == 3
    counted = sorted(r.trail[-1][2] for r, _ in first.records)
    assert counted == [40, 41, 42]
