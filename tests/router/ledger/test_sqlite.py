"""What only the embedded store promises: a durable WAL file and typed errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from router.ledger import LedgerError, SQLiteLedger, open_ledger
from router.ledger.sqlite import MIGRATIONS, migrate
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


# The table as every thinkgate before the schema had a version wrote it (user_version 0).
_UNVERSIONED = """
CREATE TABLE ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    time REAL NOT NULL,
    feedback INTEGER,
    record TEXT NOT NULL
)
"""


async def test_a_file_from_before_schema_versions_is_migrated_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = make_record(2, feedback=None)
    with sqlite3.connect(path) as conn:
        conn.execute(_UNVERSIONED)
        conn.execute(
            "INSERT INTO ledger (request_id, time, feedback, record) VALUES (?, ?, ?, ?)",
            (old.request_id, old.time, 1, old.dumps()),
        )
    ledger = SQLiteLedger(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    stored = await ledger.get(old.request_id)
    assert stored is not None and stored.feedback is True  # the label column wins
    assert stored.completion_tokens == old.completion_tokens == 120
    await ledger.append(make_record(3))
    assert [r.request_id for r in await ledger.records()] == ["req-2", "req-3"]
    savings = await ledger.savings()
    assert savings["requests"] == 2
    await ledger.close()


def test_migrations_run_in_order_from_the_file_s_version(tmp_path: Path) -> None:
    ran: list[str] = []

    def add_column(conn: sqlite3.Connection) -> None:
        ran.append("add_column")
        conn.execute("ALTER TABLE ledger ADD COLUMN profile TEXT")

    path = tmp_path / "v1.db"
    SQLiteLedger(path)  # a file at today's version
    today = len(MIGRATIONS)
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, [*MIGRATIONS, add_column]) == today + 1
    assert ran == ["add_column"]  # today's versions were not re-run
    assert conn.execute("PRAGMA user_version").fetchone() == (today + 1,)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(ledger)")]
    assert columns[-1] == "profile"
    assert migrate(conn, [*MIGRATIONS, add_column]) == today + 1 and ran == ["add_column"]
    conn.close()


def test_a_failed_migration_leaves_the_file_at_its_version(tmp_path: Path) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE ledger ADD COLUMN half TEXT")
        raise sqlite3.OperationalError("disk on fire")

    path = tmp_path / "v1.db"
    SQLiteLedger(path)
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, [*MIGRATIONS, broken])
    assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    assert "half" not in [row[1] for row in conn.execute("PRAGMA table_info(ledger)")]
    conn.close()


def test_a_file_from_a_newer_thinkgate_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(LedgerError, match="newer than this thinkgate"):
        SQLiteLedger(path)


def test_a_version_1_file_gains_the_shadow_table(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, MIGRATIONS[:1]) == 1  # a file written before early-exit calibration
    conn.close()
    SQLiteLedger(path)
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    assert conn.execute("SELECT COUNT(*) FROM exit_shadow").fetchone() == (0,)
    conn.close()
