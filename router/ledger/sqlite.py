"""The embedded ledger store: one SQLite file in WAL mode, committed in batches off the loop."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from difficulty.errors import NotFoundError
from router.ledger.counterfactual import CounterfactualRecord, counterfactual_deltas
from router.ledger.errors import LedgerConfigError, LedgerError
from router.ledger.record import MAX_SHADOW_RECORDS, LedgerRecord
from router.ledger.savings import SavingsState, feedback_deltas, record_deltas
from router.ledger.wal import open_wal

__all__ = ["MIGRATIONS", "SQLiteLedger", "migrate"]

T = TypeVar("T")


def _create_ledger(conn: sqlite3.Connection) -> None:
    # IF NOT EXISTS: files written before the schema had a version already hold this table.
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS ledger (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            request_id TEXT NOT NULL UNIQUE,
            time REAL NOT NULL,
            feedback INTEGER,
            record TEXT NOT NULL
        )
        """
    )


def _create_exit_shadow(conn: sqlite3.Connection) -> None:
    # Early exit's shadow records (policies.convergence.calibration), oldest first.
    conn.execute(
        "CREATE TABLE IF NOT EXISTS exit_shadow (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
        "record TEXT NOT NULL)"
    )


def _create_counterfactual(conn: sqlite3.Connection) -> None:
    # The exploration share's pairs (router.ledger.counterfactual), by the request they explored.
    conn.execute(
        "CREATE TABLE IF NOT EXISTS counterfactual (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
        "request_id TEXT NOT NULL, time REAL NOT NULL, record TEXT NOT NULL)"
    )
    conn.execute("CREATE INDEX IF NOT EXISTS counterfactual_request ON counterfactual (request_id)")


Migration = Callable[[sqlite3.Connection], None]

# The schema's history, oldest first: migration i takes a file from version i to i + 1 (the
# version is SQLite's `PRAGMA user_version`, 0 in a new file). Append only; never edit one
# that has shipped.
MIGRATIONS: tuple[Migration, ...] = (_create_ledger, _create_exit_shadow, _create_counterfactual)


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the file's schema up to the latest version, one transaction per migration.

    Returns the version reached; a file from a newer thinkgate is refused, not guessed at.
    """
    version = _version(conn)
    if version > len(migrations):
        raise LedgerError(
            f"the ledger file has schema version {version}, newer than this thinkgate's "
            f"{len(migrations)}: upgrade thinkgate to read it"
        )
    for target in range(version + 1, len(migrations) + 1):
        conn.execute("BEGIN IMMEDIATE")  # one writer migrates; another process waits, then skips
        try:
            if _version(conn) < target:
                migrations[target - 1](conn)
                conn.execute(f"PRAGMA user_version = {target}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return len(migrations)


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


class SQLiteLedger:
    """Ledger in one SQLite file, for one process; savings counters are kept in memory.

    Other processes may read the file (`thinkgate ledger stats`), but a second writer's records
    would be missing from this process's savings: replicas share a Redis ledger instead.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "full",
        create: bool = True,
        max_shadow: int = MAX_SHADOW_RECORDS,
    ) -> None:
        if synchronous.lower() not in ("full", "normal"):
            raise LedgerConfigError("sqlite ledger option synchronous must be 'full' or 'normal'")
        if max_shadow < 0:
            raise LedgerConfigError("sqlite ledger option max_shadow must be >= 0")
        self.max_shadow = max_shadow
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise NotFoundError(f"ledger file not found: {self.path}", param="ledger")
        # One connection shared by worker threads; the lock serialises every use of it.
        self._lock = threading.Lock()
        self._pending: list[tuple[LedgerRecord, str, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        conn: sqlite3.Connection | None = None
        try:
            conn = open_wal(self.path, synchronous=synchronous.upper(), busy_ms=5000, setup=migrate)
            self._state = self._load_state(conn)
        except (sqlite3.Error, OSError, LedgerError) as exc:
            if conn is not None:
                conn.close()
            raise LedgerError(f"cannot open the ledger file {str(self.path)!r}: {exc}") from None
        self._conn: sqlite3.Connection | None = conn

    @staticmethod
    def _load_state(conn: sqlite3.Connection) -> SavingsState:
        state = SavingsState()
        for text, feedback in conn.execute("SELECT record, feedback FROM ledger ORDER BY seq"):
            state.apply(record_deltas(_decode(text, feedback)))
        for (text,) in conn.execute("SELECT record FROM counterfactual ORDER BY seq"):
            state.apply(counterfactual_deltas(CounterfactualRecord.from_json(text)))
        return state

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                if self._conn is None:
                    raise LedgerError("the ledger is closed")
                try:
                    return work(self._conn)
                except sqlite3.Error as exc:
                    raise LedgerError(f"ledger file error: {exc}") from None

        # Commits wait for fsync; keep them off the event loop.
        return await asyncio.to_thread(locked)

    async def append(self, record: LedgerRecord) -> None:
        """Store a record; a request id already stored is left as it is.

        Appends that arrive while a commit is running are committed together (group commit):
        one fsync per batch instead of one per request.
        """
        text = record.dumps()  # a record that cannot be written fails here, in its caller
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((record, text, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._run(partial(self._insert, batch=[(r, t) for r, t, _ in batch]))
            except Exception as exc:  # every waiter must hear how its batch ended
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, _, done in batch:
                    if not done.done():
                        done.set_result(None)

    def _insert(self, conn: sqlite3.Connection, batch: list[tuple[LedgerRecord, str]]) -> None:
        added: list[LedgerRecord] = []
        conn.execute("BEGIN")
        try:
            for record, text in batch:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO ledger (request_id, time, feedback, record) "
                    "VALUES (?, ?, ?, ?)",
                    (record.request_id, record.time, _to_int(record.feedback), text),
                )
                if cursor.rowcount == 1:
                    added.append(record)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        # Counters move only for rows that are durably in the file.
        for record in added:
            self._state.apply(record_deltas(record))

    async def set_feedback(self, request_id: str, correct: bool) -> bool:
        """Label a stored request; False when the request id is unknown."""

        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT feedback FROM ledger WHERE request_id = ?", (request_id,)
            ).fetchone()
            if row is None:
                return False
            conn.execute(
                "UPDATE ledger SET feedback = ? WHERE request_id = ?",
                (_to_int(correct), request_id),
            )
            self._state.apply(feedback_deltas(_to_bool(row[0]), bool(correct)))
            return True

        return await self._run(work)

    async def get(self, request_id: str) -> LedgerRecord | None:
        """The record of one request, with its latest feedback, or None."""

        def work(conn: sqlite3.Connection) -> LedgerRecord | None:
            row = conn.execute(
                "SELECT record, feedback FROM ledger WHERE request_id = ?", (request_id,)
            ).fetchone()
            return None if row is None else _decode(*row)

        return await self._run(work)

    async def records(self, *, labelled_only: bool = False) -> list[LedgerRecord]:
        """Every record in the order stored, optionally only those with feedback."""
        where = "WHERE feedback IS NOT NULL " if labelled_only else ""

        def work(conn: sqlite3.Connection) -> list[LedgerRecord]:
            rows = conn.execute(f"SELECT record, feedback FROM ledger {where}ORDER BY seq")
            return [_decode(text, feedback) for text, feedback in rows]

        return await self._run(work)

    async def savings(self, *, bucket_seconds: int = 60) -> dict[str, Any]:
        """The `/v1/savings` JSON from the in-memory counters."""
        return await self._run(lambda _conn: self._state.summary(bucket_seconds))

    async def append_shadow(self, record: dict[str, Any]) -> None:
        """Store one early-exit shadow record (JSON-ready); drop the oldest past `max_shadow`."""
        text = json.dumps(record, separators=(",", ":"))

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN")
            try:
                cursor = conn.execute("INSERT INTO exit_shadow (record) VALUES (?)", (text,))
                seq, cap = cursor.lastrowid or 0, self.max_shadow
                if cap and seq > cap:
                    conn.execute("DELETE FROM exit_shadow WHERE seq <= ?", (seq - cap,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        await self._run(work)

    async def shadow_read(self, since: int = 0) -> tuple[int, list[dict[str, Any]]]:
        """The shadow records after the first `since` ever stored, and where they start (past
        `since` when older ones were dropped). AUTOINCREMENT numbers them 1, 2, ... for good."""

        def work(conn: sqlite3.Connection) -> tuple[int, list[dict[str, Any]]]:
            rows = conn.execute(
                "SELECT seq, record FROM exit_shadow WHERE seq > ? ORDER BY seq", (since,)
            ).fetchall()
            start = rows[0][0] - 1 if rows else since
            return start, [json.loads(text) for _, text in rows]

        return await self._run(work)

    async def append_counterfactual(self, record: CounterfactualRecord) -> None:
        """Store one explored pair and count its cost into the savings."""
        text = record.dumps()

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO counterfactual (request_id, time, record) VALUES (?, ?, ?)",
                (record.request_id, record.time, text),
            )
            self._state.apply(counterfactual_deltas(record))

        await self._run(work)

    async def counterfactual_records(self) -> list[CounterfactualRecord]:
        """Every explored pair, oldest first."""

        def work(conn: sqlite3.Connection) -> list[CounterfactualRecord]:
            rows = conn.execute("SELECT record FROM counterfactual ORDER BY seq")
            return [CounterfactualRecord.from_json(text) for (text,) in rows]

        return await self._run(work)

    async def shadow_records(self, since: int = 0) -> list[dict[str, Any]]:
        """The shadow records after the first `since` ever stored, oldest first."""
        return (await self.shadow_read(since))[1]

    async def ping(self) -> bool:
        """True when the file answers a query."""
        try:
            return await self._run(lambda conn: conn.execute("SELECT 1").fetchone() == (1,))
        except LedgerError:
            return False

    async def close(self) -> None:
        """Commit pending appends and close the file; later calls raise LedgerError."""
        if self._flusher is not None and not self._flusher.done():
            await self._flusher

        def work() -> None:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None

        await asyncio.to_thread(work)


def _decode(text: str, feedback: int | None) -> LedgerRecord:
    record = LedgerRecord.from_json(text)
    record.feedback = _to_bool(feedback)  # the column is the latest label
    return record


def _to_int(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _to_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)
