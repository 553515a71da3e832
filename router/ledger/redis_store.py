"""The shared ledger store: one Redis stream of records plus counters every replica updates."""

from __future__ import annotations

import math
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from router.ledger.base import LedgerError
from router.ledger.record import LedgerRecord
from router.ledger.savings import SavingsState, record_deltas

__all__ = ["RedisLedger"]

_TABLES = ("counters", "latency", "series")

# KEYS: stream, index, feedback, counters, latency, series.
# ARGV: request_id, record JSON, feedback ("", "1", "0"), then (key, field, amount, kind) x n.
# One script, so the record and every counter it moves land together or not at all.
_APPEND = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local id = redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'record', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], id)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
for i = 4, #ARGV, 4 do
  local key = KEYS[tonumber(ARGV[i])]
  if ARGV[i + 3] == 'i' then
    redis.call('HINCRBY', key, ARGV[i + 1], ARGV[i + 2])
  else
    redis.call('HINCRBYFLOAT', key, ARGV[i + 1], ARGV[i + 2])
  end
end
return 1
"""

# KEYS: index, feedback, counters. ARGV: request_id, "1" or "0".
# Mirrors savings.feedback_deltas; the swap of labels and the counters move atomically.
_FEEDBACK = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local old = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if not old then redis.call('HINCRBY', KEYS[3], 'labelled', 1) end
local correct = (ARGV[2] == '1' and 1 or 0) - (old == '1' and 1 or 0)
if correct ~= 0 then redis.call('HINCRBY', KEYS[3], 'correct', correct) end
return 1
"""


class RedisLedger:
    """Ledger shared by every replica that uses the same Redis and key prefix."""

    def __init__(self, url: str, *, prefix: str = "thinkgate", max_connections: int = 32) -> None:
        self.prefix = prefix
        # A blocking pool: a burst of concurrent requests waits for a connection, never fails.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=10, decode_responses=True
        )
        self._client = aioredis.Redis.from_pool(pool)
        names = ("stream", "index", "feedback", *_TABLES)
        self._keys = {name: f"{prefix}:ledger:{name}" for name in names}
        self._append = self._client.register_script(_APPEND)
        self._feedback = self._client.register_script(_FEEDBACK)

    @property
    def keys(self) -> list[str]:
        """Every Redis key this ledger writes."""
        return list(self._keys.values())

    async def append(self, record: LedgerRecord) -> None:
        """Store a record; a request id already stored is left as it is."""
        k = self._keys
        keys = [k["stream"], k["index"], k["feedback"], *(k[t] for t in _TABLES)]
        feedback = "" if record.feedback is None else str(int(record.feedback))
        args: list[str] = [record.request_id, record.dumps(), feedback]
        for table, name, amount in record_deltas(record):
            args += [str(4 + _TABLES.index(table)), name, *_amount(amount)]
        try:
            await self._append(keys=keys, args=args)
        except RedisError as exc:
            raise LedgerError(f"ledger write to Redis failed: {exc}") from None

    async def set_feedback(self, request_id: str, correct: bool) -> bool:
        """Label a request recorded by any replica; False when the request id is unknown."""
        k = self._keys
        keys = [k["index"], k["feedback"], k["counters"]]
        try:
            found = await self._feedback(keys=keys, args=[request_id, str(int(bool(correct)))])
        except RedisError as exc:
            raise LedgerError(f"ledger write to Redis failed: {exc}") from None
        return bool(found)

    async def get(self, request_id: str) -> LedgerRecord | None:
        """The record of one request, with its latest feedback, or None."""
        try:
            entry_id = cast(str | None, await self._client.hget(self._keys["index"], request_id))
            if not entry_id:
                return None
            entries = await self._xrange(entry_id, entry_id)
            label = await self._client.hget(self._keys["feedback"], request_id)
        except RedisError as exc:
            raise LedgerError(f"ledger read from Redis failed: {exc}") from None
        if not entries:
            return None
        record = LedgerRecord.from_json(entries[0][1]["record"])
        record.feedback = None if label is None else label == "1"
        return record

    async def records(self, *, labelled_only: bool = False, page: int = 1000) -> list[LedgerRecord]:
        """Every record in the order stored, optionally only those with feedback."""
        result: list[LedgerRecord] = []
        start = "-"
        try:
            labels = await self._client.hgetall(self._keys["feedback"])
            while True:
                entries = await self._xrange(start, "+", count=page)
                for _entry_id, body in entries:
                    label = labels.get(body["id"])
                    if labelled_only and label is None:
                        continue
                    record = LedgerRecord.from_json(body["record"])
                    record.feedback = None if label is None else label == "1"
                    result.append(record)
                if len(entries) < page:
                    return result
                start = "(" + entries[-1][0]
        except RedisError as exc:
            raise LedgerError(f"ledger read from Redis failed: {exc}") from None

    async def _xrange(
        self, start: str, end: str, *, count: int | None = None
    ) -> list[tuple[str, dict[str, str]]]:
        # decode_responses=True: ids and bodies come back as str.
        raw = await self._client.xrange(self._keys["stream"], start, end, count=count)
        return cast(list[tuple[str, dict[str, str]]], raw or [])

    async def savings(self, *, bucket_seconds: int = 60) -> dict[str, Any]:
        """The `/v1/savings` JSON from the shared counters (all replicas)."""
        try:
            # MULTI: the three tables are read as one snapshot.
            async with self._client.pipeline(transaction=True) as pipe:
                for table in _TABLES:
                    pipe.hgetall(self._keys[table])
                tables = await pipe.execute()
        except RedisError as exc:
            raise LedgerError(f"ledger read from Redis failed: {exc}") from None
        state = SavingsState.from_tables(dict(zip(_TABLES, tables, strict=True)))
        return state.summary(bucket_seconds)

    async def ping(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def drop(self) -> None:
        """Delete every key of this ledger (tests, resets)."""
        try:
            await self._client.delete(*self.keys)
        except RedisError as exc:
            raise LedgerError(f"ledger delete in Redis failed: {exc}") from None

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def _amount(amount: int | float) -> tuple[str, str]:
    if isinstance(amount, int):
        return str(amount), "i"
    if not math.isfinite(amount):
        raise LedgerError(f"ledger counter increment must be finite, got {amount}")
    return repr(float(amount)), "f"
