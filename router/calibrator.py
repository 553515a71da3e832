"""Early exit's live calibration: shadow records in the ledger store, thresholds for the watcher.

Every replica keeps a `CalibrationBook` (policies.convergence.calibration) fed from the shadow
records in the ledger store (a Redis list shared by replicas, or a table of the SQLite file), so
the threshold a stream gets is certified on every replica's shadow streams. A replica reads the
records it has not counted yet at most every `refresh_s` seconds, and counts its own at once.
`thinkgate calibrate` seeds the same store from offline traces (`seed_store`): seed records
count as calibration evidence but not as shadow cost, since no live stream ran for them.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from difficulty.traces import Trace
from policies.convergence import CalibrationBook, CalibrationSettings, ShadowRecord, WatcherParams
from router.ledger.base import Ledger
from router.ledger.durable import DurableLedger
from router.ledger.errors import LedgerError
from router.ledger.record import MAX_SHADOW_RECORDS

__all__ = [
    "ExitCalibrator",
    "seed_records",
    "seed_store",
    "shadow_store",
    "store_seed",
    "training_traces",
]

log = logging.getLogger("thinkgate.calibration")


def shadow_store(ledger: Ledger | None) -> Any:
    """The store under `ledger` that keeps shadow records (None when it has no such table)."""
    store = ledger.store if isinstance(ledger, DurableLedger) else ledger
    return store if hasattr(store, "append_shadow") else None


@dataclass
class ExitCalibrator:
    """Thresholds per (upstream model, task family), certified from shared shadow records."""

    ledger: Ledger | None = None
    refresh_s: float = 5.0
    books: dict[CalibrationSettings, CalibrationBook] = field(default_factory=dict)
    _counted: int = 0  # place in the store's whole history read so far
    # Marks this replica's rows: counted when written, skipped when read back (by mark, not by
    # position: other replicas' rows and a seed may land between them).
    writer: str = field(default_factory=lambda: uuid.uuid4().hex)
    _read_at: float = 0.0
    forgone: dict[tuple[str, str], int] = field(default_factory=dict)
    shadow_tokens: dict[tuple[str, str], int] = field(default_factory=dict)
    # What a book for a new guarantee starts from: the newest records, as the store keeps them.
    records: deque[tuple[ShadowRecord, dict[str, bool]]] = field(
        default_factory=lambda: deque(maxlen=MAX_SHADOW_RECORDS)
    )

    def book(self, settings: CalibrationSettings) -> CalibrationBook:
        """The book for one guarantee (profiles with the same settings share one)."""
        if settings not in self.books:
            book = CalibrationBook(settings)
            for record, marks in self.records:  # a new guarantee counts what is known already
                book.add(record, **marks)
            self.books[settings] = book
        return self.books[settings]

    async def refresh(self, *, force: bool = False) -> None:
        """Count the store's shadow records this replica has not counted yet."""
        store = shadow_store(self.ledger)
        now = time.monotonic()
        if store is None or (not force and now - self._read_at < self.refresh_s):
            return
        self._read_at = now
        try:
            start, rows = await store.shadow_read(self._counted)
        except LedgerError as exc:
            log.warning("shadow records unavailable: %s", exc)
            return
        if start > self._counted:  # the store's cap dropped records this replica never read
            log.info(
                "%d shadow records dropped before this replica read them", start - self._counted
            )
        self._counted = start + len(rows)
        for row in rows:
            if row.get("writer") != self.writer:
                self._count(row)

    def _count(self, row: dict[str, Any]) -> None:
        record = ShadowRecord.from_json(row)
        marks = {"look": bool(row.get("look")), "seed": bool(row.get("seed"))}
        self.records.append((record, marks))
        for book in self.books.values():
            book.add(record, **marks)
        if row.get("seed"):
            return  # offline evidence: no live stream ran whole for it
        key = (record.model, record.family)
        self.shadow_tokens[key] = self.shadow_tokens.get(key, 0) + record.tokens_full
        threshold = row.get("threshold")
        if threshold is not None:  # a shadow after certification: what running it whole cost
            exit_ = record.exit_at(float(threshold))
            if exit_ is not None:
                self.forgone[key] = self.forgone.get(key, 0) + record.tokens_full - exit_[1]

    async def record(self, record: ShadowRecord, threshold: float | None) -> None:
        """Store a finished shadow stream and count it here at once."""
        row = {**record.to_json(), "threshold": threshold, "writer": self.writer}
        self._count(row)
        store = shadow_store(self.ledger)
        if store is None:
            return
        try:
            await store.append_shadow(row)
        except LedgerError as exc:
            log.warning("shadow record not stored: %s", exc)

    def summary(self) -> list[dict[str, Any]]:
        """`/v1/savings`'s `early_exit_calibration`: one row per (model, family) and guarantee."""
        rows = []
        for book in self.books.values():
            for row in book.summary():
                key = (row["model"], row["family"])
                rows.append(
                    {
                        **row,
                        "shadow_tokens": self.shadow_tokens.get(key, 0),
                        "shadow_tokens_forgone": self.forgone.get(key, 0),
                    }
                )
        return rows


async def seed_store(ledger: Ledger, records: list[ShadowRecord]) -> int:
    """Append offline shadow records to the ledger's store as one seed; how many were stored."""
    from policies.convergence import seed_rows

    store = shadow_store(ledger)
    if store is None:
        raise LedgerError("this ledger store keeps no shadow records")
    rows = seed_rows(records)
    for row in rows:  # in order: every replica takes the seed's look at its last row
        await store.append_shadow(row)
    return len(rows)


def training_traces(traces: Sequence[Trace], include_holdout: bool = False) -> list[Trace]:
    """The traces a seed may use: never the documented held-out split, unless asked."""
    from difficulty.split import is_holdout

    return list(traces) if include_holdout else [t for t in traces if not is_holdout(t.id)]


def seed_records(
    traces: Sequence[Trace], model: str, family: str, params: WatcherParams | None = None
) -> list[ShadowRecord]:
    """Shadow records of the traces under the profile's watcher (default: the default one),
    keyed as the gateway keys them (the family as `WatcherParams.calibration_family` names it)."""
    from policies.convergence import PreparedTrace
    from policies.convergence.online import shadow_record

    params = params or WatcherParams()
    key = params.calibration_family(family)
    return [
        replace(shadow_record(PreparedTrace.of(t), params, family=key), model=model) for t in traces
    ]


async def store_seed(url: str, records: list[ShadowRecord]) -> int:
    """Append the records to the ledger store at `url` as one seed."""
    from router.ledger import open_ledger

    ledger = open_ledger(url)
    try:
        return await seed_store(ledger, records)
    finally:
        await ledger.close()
