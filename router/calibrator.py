"""Early exit's live calibration: shadow records in the ledger store, thresholds for the watcher.

Every replica keeps a `CalibrationBook` (policies.convergence.calibration) fed from the shadow
records in the ledger store (a Redis list shared by replicas, or a table of the SQLite file), so
the threshold a stream gets is certified on every replica's shadow streams. A replica reads the
records it has not counted yet at most every `refresh_s` seconds, and counts its own at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from policies.convergence import CalibrationBook, CalibrationSettings, ShadowRecord
from router.ledger.base import Ledger
from router.ledger.durable import DurableLedger
from router.ledger.errors import LedgerError

__all__ = ["ExitCalibrator", "shadow_store"]

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
    _counted: int = 0  # records of the store counted so far
    _own: int = 0  # of those, this replica's (counted before they were read back)
    _read_at: float = 0.0
    forgone: dict[tuple[str, str], int] = field(default_factory=dict)
    shadow_tokens: dict[tuple[str, str], int] = field(default_factory=dict)
    records: list[ShadowRecord] = field(default_factory=list)

    def book(self, settings: CalibrationSettings) -> CalibrationBook:
        """The book for one guarantee (profiles with the same settings share one)."""
        if settings not in self.books:
            book = CalibrationBook(settings)
            book.extend(self.records)  # a new guarantee counts what is known already
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
            rows = await store.shadow_records(self._counted)
        except LedgerError as exc:
            log.warning("shadow records unavailable: %s", exc)
            return
        self._counted += len(rows)
        skip = min(self._own, len(rows))  # this replica's own, already counted
        self._own -= skip
        for row in rows[skip:] if skip else rows:
            self._count(row)

    def _count(self, row: dict[str, Any]) -> None:
        record = ShadowRecord.from_json(row)
        self.records.append(record)
        for book in self.books.values():
            book.add(record)
        key = (record.model, record.family)
        self.shadow_tokens[key] = self.shadow_tokens.get(key, 0) + record.tokens_full
        threshold = row.get("threshold")
        if threshold is not None:  # a shadow after certification: what running it whole cost
            exit_ = record.exit_at(float(threshold))
            if exit_ is not None:
                self.forgone[key] = self.forgone.get(key, 0) + record.tokens_full - exit_[1]

    async def record(self, record: ShadowRecord, threshold: float | None) -> None:
        """Store a finished shadow stream and count it here at once."""
        row = {**record.to_json(), "threshold": threshold}
        self._count(row)
        store = shadow_store(self.ledger)
        if store is None:
            return
        try:
            await store.append_shadow(row)
            self._own += 1
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
