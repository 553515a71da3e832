"""The ledger: one record per request, stored in SQLite or Redis, aggregated into savings."""

from router.ledger.base import Ledger, open_ledger
from router.ledger.errors import LedgerConfigError, LedgerError, LedgerFormatError
from router.ledger.export import ExportResult, labelled_outcomes
from router.ledger.record import SAVED_BY_KEYS, LedgerRecord
from router.ledger.redis_store import RedisLedger
from router.ledger.savings import aggregate
from router.ledger.sqlite import SQLiteLedger

__all__ = [
    "ExportResult",
    "Ledger",
    "LedgerConfigError",
    "LedgerError",
    "LedgerFormatError",
    "LedgerRecord",
    "RedisLedger",
    "SAVED_BY_KEYS",
    "SQLiteLedger",
    "aggregate",
    "labelled_outcomes",
    "open_ledger",
]
