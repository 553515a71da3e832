"""Early exit's shadow records in both stores: appended in order, read from an offset, shared,
and a calibrator on a second replica counts what the first stored."""

from __future__ import annotations

import pytest

from policies.convergence import CalibrationSettings, ShadowRecord
from router.calibrator import ExitCalibrator, shadow_store
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
