"""The ledger: one record per request, stored in SQLite or Redis, aggregated into savings."""

from router.ledger.base import Ledger, LedgerConfigError, LedgerError, open_ledger
from router.ledger.record import SAVED_BY_KEYS, LedgerFormatError, LedgerRecord
from router.ledger.savings import aggregate

__all__ = [
    "Ledger",
    "LedgerConfigError",
    "LedgerError",
    "LedgerFormatError",
    "LedgerRecord",
    "SAVED_BY_KEYS",
    "aggregate",
    "open_ledger",
]
