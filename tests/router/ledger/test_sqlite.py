"""What only the embedded store promises: a durable WAL file and typed errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from router.ledger import LedgerError, SQLiteLedger, open_ledger
from tests.router.ledger.conftest import make_record

pytestmark = pytest.mark.anyio


async def test_the_file_is_in_wal_mode_and_holds_the_rows(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path}/nested/dir/ledger.db")
    assert isinstance(ledger, SQLiteLedger)
    await ledger.append(make_record(1))
    # Read through an independent connection, as another process would.
    with sqlite3.connect(tmp_path / "nested/dir/ledger.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT request_id FROM ledger").fetchall() == [("req-1",)]
    await ledger.close()


async def test_a_closed_ledger_raises_a_typed_error(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path}/ledger.db")
    await ledger.close()
    assert await ledger.ping() is False
    with pytest.raises(LedgerError, match="closed"):
        await ledger.append(make_record(1))


def test_an_unwritable_path_fails_at_open(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(LedgerError, match="cannot open"):
        SQLiteLedger(blocker / "ledger.db")
