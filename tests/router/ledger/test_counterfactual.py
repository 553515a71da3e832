"""Counterfactual records in both stores: stored in order, read back whole, their cost counted
into /v1/savings (net of it), and counted again when the SQLite file is reopened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from router.ledger import open_ledger
from router.ledger.counterfactual import CounterfactualRecord, PairSide
from router.ledger.sqlite import MIGRATIONS, SQLiteLedger, migrate
from tests.router.ledger.conftest import OpenStore, make_record

pytestmark = pytest.mark.anyio


def make_pair(i: int, label: str | None = "agreement") -> CounterfactualRecord:
    """A pair for request `req-i`: direct chosen, think explored, at think's prices."""
    good = None if label is None else True
    return CounterfactualRecord(
        request_id=f"req-{i}",
        time=1_700_000_000.0 + i,
        chosen=PairSide("direct", "42", good, 20, 100, 0.0, description=None, p_correct=0.6),
        alternative=PairSide(
            "think", "42", good, 20, 900 + i, 0.009 + i * 1e-5, description=None, p_correct=0.9
        ),
        label=label,
        agree=True if label else None,
        judge="judge" if label is None else None,
        judge_prompt_tokens=0 if label else 150,
        judge_completion_tokens=0 if label else 2,
        judge_cost=0.0 if label else 0.0002,
        prompt=f"What is {i} * 6?",
    )


async def test_pairs_are_stored_read_back_and_their_cost_counted(open_store: OpenStore) -> None:
    ledger = open_store()
    await ledger.append(make_record(1))
    before = (await ledger.savings())["exploration"]
    assert before["runs"] == 0 and before["cost"] == 0.0
    pairs = [make_pair(1), make_pair(2, label=None)]
    for pair in pairs:
        await ledger.append_counterfactual(pair)  # type: ignore[attr-defined]
    assert await ledger.counterfactual_records() == pairs  # type: ignore[attr-defined]
    savings = await ledger.savings()
    got = savings["exploration"]
    assert got["runs"] == 2
    assert got["labelled"] == {"agreement": 1}
    assert got["completion_tokens"] == 901 + 902
    assert got["judge_prompt_tokens"] == 150 and got["judge_completion_tokens"] == 2
    assert got["cost"] == pytest.approx(0.00901 + 0.00902 + 0.0002)
    assert got["net_saved_tokens"] == pytest.approx(
        savings["tokens"]["saved_estimate"] - 901 - 902 - 2
    )
    assert got["net_saved_cost"] == pytest.approx(savings["money"]["saved_estimate"] - got["cost"])
    # A second replica (or a reopened file) sees the same pairs and the same counters.
    again = open_store()
    assert (await again.savings())["exploration"] == got
    assert len(await again.counterfactual_records()) == 2  # type: ignore[attr-defined]


async def test_a_version_2_file_gains_the_table_and_keeps_its_records(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, MIGRATIONS[:2]) == 2  # a file written before exploration
    record = make_record(4)
    conn.execute(
        "INSERT INTO ledger (request_id, time, feedback, record) VALUES (?, ?, ?, ?)",
        (record.request_id, record.time, None, record.dumps()),
    )
    conn.close()
    ledger = open_ledger(f"sqlite:///{path}")
    assert isinstance(ledger, SQLiteLedger)
    await ledger.append_counterfactual(make_pair(4))
    assert [r.request_id for r in await ledger.records()] == ["req-4"]
    assert (await ledger.savings())["exploration"]["runs"] == 1
    await ledger.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (3,)
