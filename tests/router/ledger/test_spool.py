"""The ledger spool: bounded, crash-safe, FIFO, leased so several drainers share one file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from router.ledger.errors import LedgerError
from router.ledger.spool import Spool


def items(n: int, start: int = 0, size: int = 10) -> list[tuple[str, str]]:
    return [(f"req-{i}", "x" * size) for i in range(start, start + n)]


def test_put_lease_remove_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    assert spool.put(items(5)) == 0
    rows = spool.lease(3, now=0.0, lease_s=10.0)
    assert [(key, text) for _, key, text in rows] == [(f"req-{i}", "x" * 10) for i in range(3)]
    assert spool.find("req-0") == "x" * 10
    spool.remove([seq for seq, _, _ in rows])
    assert spool.find("req-0") is None
    assert spool.stats().records == 2
    rest = spool.lease(10, now=0.0, lease_s=10.0)
    assert len(rest) == 2 and rest[0][0] > rows[-1][0]


def test_leased_rows_are_not_leased_twice_until_released_or_lapsed(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.put(items(4))
    first = spool.lease(2, now=0.0, lease_s=10.0)
    second = spool.lease(10, now=1.0, lease_s=10.0)
    assert {s for s, _, _ in first}.isdisjoint(s for s, _, _ in second)
    assert spool.lease(10, now=2.0, lease_s=10.0) == []
    spool.release([s for s, _, _ in first])
    assert [s for s, _, _ in spool.lease(10, now=3.0, lease_s=10.0)] == [s for s, _, _ in first]
    # A drainer that died holding a lease: the rows come back once it lapses.
    assert len(spool.lease(10, now=20.0, lease_s=10.0)) == 4


def test_bounds_refuse_and_count_what_does_not_fit(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", max_records=3, max_bytes=1000)
    assert spool.put(items(5)) == 2
    assert spool.stats().records == 3 and spool.stats().dropped == 2
    by_bytes = Spool(tmp_path / "bytes.db", max_records=100, max_bytes=25)
    assert by_bytes.put(items(3, size=10)) == 1
    assert by_bytes.stats().bytes == 20


def test_a_request_id_is_kept_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.put([("req-1", "first")])
    assert spool.put([("req-1", "second")]) == 0
    assert spool.stats().records == 1 and spool.find("req-1") == "first"
    assert spool.replace("req-1", "labelled")
    assert spool.all() == [("req-1", "labelled")]


def test_what_was_put_survives_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    code = (
        "import os, sys\n"
        "from router.ledger.spool import Spool\n"
        f"s = Spool({str(path)!r})\n"
        "s.put([(f'req-{i}', 'r') for i in range(50)])\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[3])
    assert proc.returncode == -9
    assert Spool(path).stats().records == 50


def test_a_closed_spool_raises_the_ledger_error(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.close()
    with pytest.raises(LedgerError):
        spool.put(items(1))
    with pytest.raises(ValueError):
        Spool(tmp_path / "other.db", max_records=0)


_OPEN_TOGETHER = """
import sys, time
from router.ledger.spool import Spool
from router.ledger.sqlite import SQLiteLedger
start = float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
Spool(sys.argv[1]).close()
SQLiteLedger(sys.argv[2])
print("opened")
"""


def test_replicas_opening_one_new_file_together_all_start(tmp_path: Path) -> None:
    # Replicas race to switch a new file to WAL and create its tables; SQLite answers
    # "database is locked" at once there (a CI run lost a replica to it): each must retry.
    import time

    start = str(time.time() + 1.5)
    spool, ledger = str(tmp_path / "spool.db"), str(tmp_path / "ledger.db")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_TOGETHER, spool, ledger, start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[3],
        )
        for _ in range(8)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "opened" in out, err
