"""A ledger no request waits on: records go to the store in the background, or to a local spool
while the store is down or slow, and are drained to it when it answers again.

`append` hands the record to a background writer and waits at most `accept_wait_s` for it to be
stored (in the store or the spool): in the normal case a request still ends with its record
durable, and a stalled store adds at most that wait. Every call to the store runs under a short
deadline and a circuit breaker, so once the store has failed a few times in a row calls fail fast
(reads answer 503 at once) until a probe finds it back. Records in memory are bounded too; past
the bound they go straight to the spool, whose own bound counts refused records as dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from router.ledger.base import Ledger
from router.ledger.breaker import CircuitBreaker
from router.ledger.counterfactual import CounterfactualRecord
from router.ledger.errors import LedgerError
from router.ledger.record import LedgerRecord
from router.ledger.redis_store import RedisLedger
from router.ledger.spool import Spool

__all__ = ["DurableLedger", "Backlog", "shared_store", "with_spool"]

T = TypeVar("T")
_log = logging.getLogger("thinkgate.ledger")
_BATCH = 256
_DRAIN_EVERY_S = 0.25
_LEASE_S = 30.0
# Spool key prefix of an explored pair (router.exploration) waiting for the store; the
# request's own record is spooled under its bare request id.
_PAIR = "counterfactual:"


@dataclass(frozen=True)
class Backlog:
    """Records not yet in the store: waiting in memory, spooled on disk, refused (dropped)."""

    pending: int
    spooled: int
    spooled_bytes: int
    dropped: int
    store: str  # the breaker's state: closed (store answering), open, half-open

    def as_dict(self) -> dict[str, Any]:
        """The `/readyz` detail."""
        return {
            "pending": self.pending,
            "spooled": self.spooled,
            "spooled_bytes": self.spooled_bytes,
            "dropped": self.dropped,
            "store": self.store,
        }


class DurableLedger:
    """Wraps a ledger store (Redis) with a spool, deadlines and a breaker; itself a Ledger."""

    def __init__(
        self,
        store: Ledger,
        spool: Spool,
        *,
        breaker: CircuitBreaker | None = None,
        call_timeout_s: float = 0.25,
        write_timeout_s: float = 1.0,
        accept_wait_s: float = 0.02,
        max_pending: int = 10_000,
    ) -> None:
        self.store = store
        self.spool = spool
        self.breaker = breaker or CircuitBreaker()
        self.call_timeout_s = call_timeout_s
        self.write_timeout_s = write_timeout_s
        self.accept_wait_s = accept_wait_s
        self.max_pending = max_pending
        self._pending: list[tuple[LedgerRecord, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._drainer: asyncio.Task[None] | None = None
        self._spooled = -1  # records in the spool; unknown (-1) until first read
        self._spool_puts = 0  # spool writes so far: a drainer that saw none may stop
        self._closed = False

    # -- the store, guarded -----------------------------------------------------------------

    async def _guarded(self, call: Callable[[], Awaitable[T]], timeout_s: float) -> T:
        """One call to the store under the breaker and a deadline; LedgerError when it fails."""
        if not self.breaker.allow():
            raise LedgerError("the ledger store is unavailable (failing fast until it answers)")
        try:
            async with asyncio.timeout(timeout_s):
                result = await call()
        except (LedgerError, TimeoutError, OSError) as exc:
            self.breaker.failure()
            if isinstance(exc, TimeoutError):
                message = f"the ledger store did not answer within {timeout_s:g} s"
                raise LedgerError(message) from None
            raise LedgerError(f"the ledger store failed: {exc}") from None
        self.breaker.success()
        return result

    async def start(self) -> None:
        """Begin draining what an earlier process left in the spool."""
        self._spooled = (await asyncio.to_thread(self.spool.stats)).records
        if self._spooled:
            self._ensure_drainer()

    # -- appending --------------------------------------------------------------------------

    async def append(self, record: LedgerRecord) -> None:
        """Hand `record` to the writer; wait at most `accept_wait_s` for it to be stored."""
        if self._closed:
            raise LedgerError("the ledger is closed")
        record.dumps()  # a record that cannot be written fails here, in its caller
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((record, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="thinkgate-ledger-writer")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(done), self.accept_wait_s)

    async def _write(self) -> None:
        if self._spooled < 0:  # a spool left by an earlier process is drained first
            self._spooled = (await asyncio.to_thread(self.spool.stats)).records
            if self._spooled:
                self._ensure_drainer()
        while self._pending:
            batch, self._pending = self._pending[:_BATCH], self._pending[_BATCH:]
            records = [r for r, _ in batch]
            written = 0
            # Straight to the store only when nothing older waits in the spool (order kept)
            # and the backlog in memory is small; otherwise the spool takes it.
            if self._spooled == 0 and len(self._pending) < self.max_pending:
                written = await self._to_store(records)
            if written < len(records):
                await self._to_spool(records[written:])
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _to_store(self, records: list[LedgerRecord]) -> int:
        """Append records in order until one fails; how many reached the store."""
        written = 0

        async def send() -> None:
            nonlocal written
            for record in records[written:]:
                await self.store.append(record)
                written += 1

        try:
            await self._guarded(send, self.write_timeout_s)
        except LedgerError:
            pass
        except Exception:  # a bug must not leave records in memory: they go to the spool
            self.breaker.failure()
            _log.exception("ledger store append raised")
        return written

    async def _to_spool(self, records: list[LedgerRecord]) -> None:
        items = [(r.request_id, r.dumps()) for r in records]
        try:
            refused = await asyncio.to_thread(self.spool.put, items)
        except LedgerError:
            _log.exception("ledger spool write failed: %d records lost", len(items))
            return
        if refused:
            _log.error("ledger spool is full: %d records dropped", refused)
        self._spooled = max(self._spooled, 0) + len(items) - refused
        self._spool_puts += 1
        self._ensure_drainer()

    async def append_counterfactual(self, record: CounterfactualRecord) -> None:
        """Store an explored pair, or spool it while the store is down; LedgerError only when
        neither takes it."""
        if self._closed:
            raise LedgerError("the ledger is closed")
        text = record.dumps()
        try:
            await self._guarded(
                lambda: self._pair_store.append_counterfactual(record), self.write_timeout_s
            )
            return
        except LedgerError:
            pass
        refused = await asyncio.to_thread(self.spool.put, [(_PAIR + record.request_id, text)])
        if refused:
            raise LedgerError("the ledger spool is full: the explored pair was dropped")
        self._spooled = max(self._spooled, 0) + 1
        self._spool_puts += 1
        self._ensure_drainer()

    async def counterfactual_records(self) -> list[CounterfactualRecord]:
        """The store's explored pairs, then spooled ones it does not have yet."""
        stored = await self._guarded(
            self._pair_store.counterfactual_records, 10 * self.write_timeout_s
        )
        seen = {r.request_id for r in stored}
        for key, text in await asyncio.to_thread(self.spool.all):
            if key.startswith(_PAIR) and key[len(_PAIR) :] not in seen:
                stored.append(CounterfactualRecord.from_json(text))
        return stored

    @property
    def _pair_store(self) -> Any:
        if not hasattr(self.store, "append_counterfactual"):
            raise LedgerError("the ledger store keeps no explored pairs")
        return self.store

    async def _pairs_to_store(self, pairs: list[CounterfactualRecord]) -> int:
        written = 0

        async def send() -> None:
            nonlocal written
            for pair in pairs:
                await self._pair_store.append_counterfactual(pair)
                written += 1

        with contextlib.suppress(LedgerError):
            await self._guarded(send, self.write_timeout_s)
        return written

    # -- draining ---------------------------------------------------------------------------

    def _ensure_drainer(self) -> None:
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name="thinkgate-ledger-drainer")

    async def _drain(self) -> None:
        """Move spooled records to the store, oldest first, until the spool is empty."""
        while not self._closed:
            try:
                puts = self._spool_puts
                count = (await asyncio.to_thread(self.spool.stats)).records
                if puts == self._spool_puts:  # no write raced the count
                    self._spooled = count
                    if count == 0:
                        return
                if self.breaker.state != "open" and await self._drain_batch() == _BATCH:
                    continue  # more waiting and the store takes them: no pause
            except LedgerError:
                _log.exception("ledger spool drain failed; retrying")
            await asyncio.sleep(_DRAIN_EVERY_S)

    async def _drain_batch(self) -> int:
        rows = await asyncio.to_thread(self.spool.lease, _BATCH, time.time(), _LEASE_S)
        own = [(seq, text) for seq, key, text in rows if not key.startswith(_PAIR)]
        pairs = [(seq, text) for seq, key, text in rows if key.startswith(_PAIR)]
        written = await self._to_store([LedgerRecord.from_json(text) for _, text in own])
        done = [seq for seq, _ in own[:written]]
        if pairs and written == len(own):  # pairs wait behind records, in no order of their own
            sent = await self._pairs_to_store([CounterfactualRecord.from_json(t) for _, t in pairs])
            done += [seq for seq, _ in pairs[:sent]]
        await asyncio.to_thread(self.spool.remove, done)
        removed = set(done)
        await asyncio.to_thread(self.spool.release, [s for s, _, _ in rows if s not in removed])
        if done:
            _log.info("ledger spool: %d records drained to the store", len(done))
        return len(done)

    # -- reads and labels -------------------------------------------------------------------

    async def set_feedback(self, request_id: str, correct: bool) -> bool:
        """Label a request, wherever its record is: in memory, in the spool or in the store."""
        for record, _ in self._pending:
            if record.request_id == request_id:
                record.feedback = bool(correct)
                return True
        text = await asyncio.to_thread(self.spool.find, request_id)
        if text is not None:
            labelled = replace(LedgerRecord.from_json(text), feedback=bool(correct))
            if await asyncio.to_thread(self.spool.replace, request_id, labelled.dumps()):
                return True
        return await self._guarded(
            lambda: self.store.set_feedback(request_id, correct), self.call_timeout_s
        )

    async def get(self, request_id: str) -> LedgerRecord | None:
        """The record of one request from memory, the spool or the store."""
        for record, _ in self._pending:
            if record.request_id == request_id:
                return record
        text = await asyncio.to_thread(self.spool.find, request_id)
        if text is not None:
            return LedgerRecord.from_json(text)
        return await self._guarded(lambda: self.store.get(request_id), self.call_timeout_s)

    async def records(self, *, labelled_only: bool = False) -> list[LedgerRecord]:
        """The store's records, then spooled and pending ones it does not have yet."""
        stored = await self._guarded(
            lambda: self.store.records(labelled_only=labelled_only), 10 * self.write_timeout_s
        )
        seen = {r.request_id for r in stored}
        spooled = await asyncio.to_thread(self.spool.all)
        waiting = [LedgerRecord.from_json(t) for key, t in spooled if not key.startswith(_PAIR)]
        waiting += [r for r, _ in self._pending]
        for record in waiting:
            if record.request_id not in seen and (record.feedback is not None or not labelled_only):
                seen.add(record.request_id)
                stored.append(record)
        return stored

    async def savings(self, *, bucket_seconds: int = 60) -> dict[str, Any]:
        """The store's savings (records still in the spool are counted once they land)."""
        return await self._guarded(
            lambda: self.store.savings(bucket_seconds=bucket_seconds), 2 * self.call_timeout_s
        )

    async def ping(self) -> bool:
        """True when the store answers within the call deadline; a ping it fails (a refused
        connection) counts against the breaker like a late one."""

        async def probe() -> bool:
            if not await self.store.ping():
                raise LedgerError("the ledger store did not answer a ping")
            return True

        try:
            return await self._guarded(probe, self.call_timeout_s)
        except LedgerError:
            return False

    async def backlog(self) -> Backlog:
        """What waits for the store (the `/readyz` detail and the backlog metric)."""
        stats = await asyncio.to_thread(self.spool.stats)
        return Backlog(
            pending=len(self._pending),
            spooled=stats.records,
            spooled_bytes=stats.bytes,
            dropped=stats.dropped,
            store=self.breaker.state,
        )

    async def close(self) -> None:
        """Write what is in memory (to the store, else the spool), stop, close both."""
        if self._writer is not None and not self._writer.done():
            await self._writer
        self._closed = True
        if self._drainer is not None:
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer
        await asyncio.to_thread(self.spool.close)
        await self.store.close()


def with_spool(store: Ledger, path: str, *, max_records: int, max_bytes: int) -> Ledger:
    """`store` behind a spool when it is a network store (Redis); an SQLite file is its own."""
    if not isinstance(store, RedisLedger):
        return store
    return DurableLedger(store, Spool(path, max_records=max_records, max_bytes=max_bytes))


def shared_store(ledger: Ledger | None) -> Any:
    """The Redis store under `ledger` (the one replicas share), or None."""
    store = ledger.store if isinstance(ledger, DurableLedger) else ledger
    return store if isinstance(store, RedisLedger) else None
