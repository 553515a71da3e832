"""The ledger's local spool: records the store could not take, kept on disk until it can.

One SQLite file in WAL mode with `synchronous=FULL`, so a record the spool accepted survives a
crash of the process (and of the machine). Bounded by a record count and a byte total; past
either, new records are refused and counted as dropped, never silently lost. Several processes
(`serve --workers N`) may share one file: a drainer leases rows before sending them, so two
drainers do not send the same rows at once, and a drainer that dies mid-send lets its lease lapse
for another to retry (the store ignores a request id it already has).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from router.ledger.errors import LedgerError
from router.ledger.wal import open_wal

__all__ = ["Spool", "SpoolStats", "DEFAULT_MAX_RECORDS", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_RECORDS = 100_000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True)
class SpoolStats:
    """How much the spool holds, and how many records it had to refuse since it opened."""

    records: int
    bytes: int
    dropped: int


class Spool:
    """A bounded, crash-safe FIFO of ledger records (request id, record JSON) in one file.

    Methods block on disk I/O: call them from a worker thread, not the event loop.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if max_records < 1 or max_bytes < 1:
            raise ValueError("the spool's max_records and max_bytes must be at least 1")
        self.path = Path(path)
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.dropped = 0
        self._lock = threading.Lock()
        try:
            self._conn: sqlite3.Connection | None = open_wal(
                self.path, synchronous="FULL", busy_ms=2000, setup=lambda c: c.execute(_SCHEMA)
            )
        except (sqlite3.Error, OSError) as exc:
            raise LedgerError(f"cannot open the ledger spool {str(self.path)!r}: {exc}") from None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerError("the ledger spool is closed")
        return self._conn

    def put(self, items: list[tuple[str, str]]) -> int:
        """Store (key, record JSON) pairs in one commit; returns how many it refused.

        The key is the record's request id (the durable ledger prefixes other kinds of record).
        A key already spooled is kept as it is (not refused, not duplicated).
        """
        with self._lock:
            conn = self._db()
            try:
                conn.execute("BEGIN IMMEDIATE")
                count, size = conn.execute(
                    "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM spool"
                ).fetchone()
                refused = 0
                for request_id, text in items:
                    nbytes = len(text.encode())
                    if count + 1 > self.max_records or size + nbytes > self.max_bytes:
                        refused += 1
                        continue
                    cursor = conn.execute(
                        "INSERT OR IGNORE INTO spool (request_id, record, bytes) VALUES (?, ?, ?)",
                        (request_id, text, nbytes),
                    )
                    count += cursor.rowcount
                    size += nbytes * cursor.rowcount
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise LedgerError(f"ledger spool write failed: {exc}") from None
            self.dropped += refused
            return refused

    def lease(self, limit: int, now: float, lease_s: float) -> list[tuple[int, str, str]]:
        """Up to `limit` oldest unleased rows as (seq, key, record JSON), leased until
        now + lease_s."""
        with self._lock:
            try:
                rows = (
                    self._db()
                    .execute(
                        "UPDATE spool SET lease_until = ? WHERE seq IN (SELECT seq FROM spool "
                        "WHERE lease_until <= ? ORDER BY seq LIMIT ?) "
                        "RETURNING seq, request_id, record",
                        (now + lease_s, now, limit),
                    )
                    .fetchall()
                )
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger spool read failed: {exc}") from None
        return sorted((int(seq), str(key), str(text)) for seq, key, text in rows)

    def remove(self, seqs: list[int]) -> None:
        """Delete rows that reached the store."""
        self._by_seq("DELETE FROM spool WHERE seq IN ({})", seqs)

    def release(self, seqs: list[int]) -> None:
        """Return leased rows that did not reach the store, for the next drain."""
        self._by_seq("UPDATE spool SET lease_until = 0 WHERE seq IN ({})", seqs)

    def _by_seq(self, sql: str, seqs: list[int]) -> None:
        if not seqs:
            return
        with self._lock:
            try:
                self._db().execute(sql.format(",".join("?" * len(seqs))), seqs)
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger spool update failed: {exc}") from None

    def find(self, request_id: str) -> str | None:
        """The spooled record JSON of one request, or None."""
        with self._lock:
            row = (
                self._db()
                .execute("SELECT record FROM spool WHERE request_id = ?", (request_id,))
                .fetchone()
            )
        return None if row is None else str(row[0])

    def replace(self, request_id: str, text: str) -> bool:
        """Rewrite one spooled record (a feedback label that arrived while it waited)."""
        with self._lock:
            cursor = self._db().execute(
                "UPDATE spool SET record = ?, bytes = ? WHERE request_id = ?",
                (text, len(text.encode()), request_id),
            )
        return cursor.rowcount == 1

    def all(self) -> list[tuple[str, str]]:
        """Every spooled (key, record JSON), oldest first."""
        with self._lock:
            rows = (
                self._db().execute("SELECT request_id, record FROM spool ORDER BY seq").fetchall()
            )
        return [(str(key), str(text)) for key, text in rows]

    def stats(self) -> SpoolStats:
        """Records and bytes held now, and records refused since this process opened it."""
        with self._lock:
            count, size = (
                self._db().execute("SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM spool").fetchone()
            )
        return SpoolStats(records=int(count), bytes=int(size), dropped=self.dropped)

    def close(self) -> None:
        """Close the file; what it holds stays for the next process to drain."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
