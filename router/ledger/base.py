"""The ledger interface every store implements, and `open_ledger` to pick a store by URL."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlsplit

from router.ledger.errors import LedgerConfigError
from router.ledger.record import MAX_SHADOW_RECORDS, LedgerRecord
from router.ledger.redis_store import RedisLedger
from router.ledger.sqlite import SQLiteLedger

__all__ = ["Ledger", "open_ledger"]


@runtime_checkable
class Ledger(Protocol):
    """Where the gateway records one entry per request; every method is async."""

    async def append(self, record: LedgerRecord) -> None:
        """Store a record; appending a request id that is already stored does nothing."""
        ...

    async def set_feedback(self, request_id: str, correct: bool) -> bool:
        """Label a stored request; False when the request id is unknown."""
        ...

    async def get(self, request_id: str) -> LedgerRecord | None:
        """The record of one request, with its latest feedback, or None."""
        ...

    async def records(self, *, labelled_only: bool = False) -> list[LedgerRecord]:
        """Every record in the order stored, optionally only those with feedback."""
        ...

    async def savings(self, *, bucket_seconds: int = 60) -> dict[str, Any]:
        """The `GET /v1/savings` JSON over every record (`savings.aggregate` gives the same)."""
        ...

    async def ping(self) -> bool:
        """True when the store answers."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...


def open_ledger(url: str, *, create: bool = True) -> Ledger:
    """Open a store: `sqlite:///path/file.db` or `redis://host:port/db?prefix=name`.

    Redis also takes `max_records=N`: keep the newest N records (aggregates keep counting all).
    Both take `max_shadow=N`: keep the newest N early-exit shadow records (default 20,000).

    Cheap and synchronous: Redis connects on first use; SQLite opens the file (and creates it
    unless `create` is False, for readers such as `thinkgate ledger stats`).
    """
    parts = urlsplit(url)
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    shadow = options.pop("max_shadow", str(MAX_SHADOW_RECORDS))
    if not shadow.isdigit():
        raise LedgerConfigError(f"ledger URL {url!r}: max_shadow must be a whole number >= 0")
    if parts.scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute.db, as SQLAlchemy spells them.
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if parts.netloc or not path:
            raise LedgerConfigError(f"ledger URL {url!r}: expected sqlite:///path/to/file.db")
        return SQLiteLedger(
            path,
            synchronous=options.get("synchronous", "full"),
            create=create,
            max_shadow=int(shadow),
        )
    if parts.scheme in ("redis", "rediss", "unix"):
        prefix = options.pop("prefix", "thinkgate")
        keep = options.pop("max_records", "0")
        if not keep.isdigit():
            raise LedgerConfigError(f"ledger URL {url!r}: max_records must be a whole number >= 0")
        base_url = url.split("?", 1)[0]
        if options:
            base_url += "?" + "&".join(f"{k}={v}" for k, v in options.items())
        return RedisLedger(base_url, prefix=prefix, max_records=int(keep), max_shadow=int(shadow))
    raise LedgerConfigError(
        f"ledger URL {url!r}: unknown store {parts.scheme!r} (use sqlite:/// or redis://)"
    )
