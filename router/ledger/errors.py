"""The ledger's errors: a store that cannot be reached, a URL it cannot open, a record it cannot
read. Their own module, so every store and the interface import them without importing each
other."""

from __future__ import annotations

from difficulty.errors import InvalidInputError, ThinkgateError

__all__ = ["LedgerError", "LedgerConfigError", "LedgerFormatError"]


class LedgerError(ThinkgateError):
    """The ledger store cannot be reached or written."""

    status = 503
    type = "server_error"
    code = "ledger_unavailable"


class LedgerConfigError(InvalidInputError):
    """A ledger URL names an unknown store or carries a bad option."""

    code = "invalid_ledger_url"


class LedgerFormatError(InvalidInputError):
    """A stored or submitted ledger record cannot be read back."""

    code = "invalid_ledger_record"
