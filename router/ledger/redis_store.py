"""The shared ledger store: one Redis stream of records plus counters every replica updates."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncGenerator
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from router.ledger.counterfactual import CounterfactualRecord, counterfactual_deltas
from router.ledger.errors import LedgerError
from router.ledger.record import MAX_SHADOW_RECORDS, LedgerRecord
from router.ledger.savings import SavingsState, record_deltas
from router.ledger.series import (
    MAX_FINE,
    SERIES_METRICS,
    SeriesWindow,
    parse_series_field,
    series_field,
    shard_of,
)

__all__ = ["RedisLedger"]

_FIXED = ("stream", "index", "feedback", "counters", "latency")

# KEYS: stream, index, feedback, counters, latency, then the series shards this record touches.
# ARGV: request_id, record JSON, feedback ("", "1", "0"), max records kept (0: all), n shards,
# n shard TTLs, then (key, field, amount, kind) x m with kind i (HINCRBY), f (HINCRBYFLOAT) or
# m (keep the max). One script, so the record and every counter it moves land together or not
# at all. Past the maximum the oldest records leave the stream, the index and the labels; the
# counters, latencies and series keep counting them.
_APPEND = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local keep = tonumber(ARGV[4])
if keep > 0 then
  local excess = redis.call('XLEN', KEYS[1]) + 1 - keep
  if excess > 0 then
    for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)) do
      local fields = entry[2]
      for j = 1, #fields, 2 do
        if fields[j] == 'id' then
          redis.call('HDEL', KEYS[2], fields[j + 1])
          redis.call('HDEL', KEYS[3], fields[j + 1])
        end
      end
      redis.call('XDEL', KEYS[1], entry[1])
    end
  end
end
local id = redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'record', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], id)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
local shards = tonumber(ARGV[5])
for i = 6 + shards, #ARGV, 4 do
  local key, field, amount, kind = KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if kind == 'i' then
    redis.call('HINCRBY', key, field, amount)
  elseif kind == 'f' then
    redis.call('HINCRBYFLOAT', key, field, amount)
  else
    local current = redis.call('HGET', key, field)
    if not current or tonumber(current) < tonumber(amount) then
      redis.call('HSET', key, field, amount)
    end
  end
end
for i = 1, shards do redis.call('EXPIRE', KEYS[5 + i], ARGV[5 + i]) end
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


# KEYS: the shadow list, its count of records dropped from the head. ARGV: the record, the cap
# (0: none). Past the cap the oldest leave, and the count says how many ever did, so a reader's
# place in the whole history stays meaningful.
# One explored pair, once: a pair drained again after a lost reply is not counted twice.
_COUNTERFACTUAL_APPEND = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
for i = 3, #ARGV, 3 do
  if ARGV[i + 1] == 'i' then
    redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 2])
  else
    redis.call('HINCRBYFLOAT', KEYS[3], ARGV[i], ARGV[i + 2])
  end
end
return 1
"""

_SHADOW_APPEND = """
local n = redis.call('RPUSH', KEYS[1], ARGV[1])
local cap = tonumber(ARGV[2])
if cap > 0 and n > cap then
  redis.call('LTRIM', KEYS[1], n - cap, -1)
  redis.call('INCRBY', KEYS[2], n - cap)
end
return n
"""

# KEYS: as above. ARGV: records of the whole history already read. Returns where the records
# returned start in that history (later than asked when older ones were dropped), then them.
_SHADOW_READ = """
local dropped = tonumber(redis.call('GET', KEYS[2]) or '0')
local skip = math.max(tonumber(ARGV[1]) - dropped, 0)
return {dropped + skip, redis.call('LRANGE', KEYS[1], skip, -1)}
"""

# KEYS: the (one or two) series shards of a window, in order.
# ARGV: width, first, end, bucket_seconds, shard span, first shard number, then the metrics.
# Sums stored buckets into reported buckets inside Redis, so a window of MAX_FINE stored buckets
# returns at most MAX_POINTS rows: t, then each metric (as text).
_WINDOW = """
local width, first, last, bucket = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4])
local span, shard0 = tonumber(ARGV[5]), tonumber(ARGV[6])
local n = #ARGV - 6
local out, row_t, row = {}, nil, nil
local function flush()
  if row and row[1] > 0 then
    table.insert(out, tostring(row_t))
    for j = 1, n do table.insert(out, string.format('%.17g', row[j])) end
  end
end
for start = first, last + bucket - 1, width do
  local key = KEYS[math.floor(start / span) - shard0 + 1]
  local p = width .. ':' .. start .. ':'
  local fields = {}
  for j = 1, n do fields[j] = p .. ARGV[6 + j] end
  local v = redis.call('HMGET', key, unpack(fields))
  local t = math.floor(start / bucket) * bucket
  if t ~= row_t then
    flush(); row_t, row = t, {}
    for j = 1, n do row[j] = 0 end
  end
  for j = 1, n do row[j] = row[j] + tonumber(v[j] or '0') end
end
flush()
return out
"""


class RedisLedger:
    """Ledger shared by every replica that uses the same Redis and key prefix.

    `max_records` > 0 keeps only the newest that many records (the stream is never trimmed
    otherwise); savings, feedback counts and series still cover every request ever appended.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "thinkgate",
        max_connections: int = 32,
        max_records: int = 0,
        max_shadow: int = MAX_SHADOW_RECORDS,
        timeout_s: float = 2.0,
    ) -> None:
        if max_records < 0 or max_shadow < 0:
            raise ValueError("max_records and max_shadow must be >= 0")
        self.max_shadow = max_shadow
        self.prefix = prefix
        self.max_records = max_records
        self.url = url
        self._timeout_s = timeout_s
        # A blocking pool: a burst of concurrent requests waits for a connection rather than
        # failing, but not for long; every socket read and connect has a deadline too, so a
        # Redis that stops answering (SIGSTOP, a full network buffer) fails calls, not hangs them.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            decode_responses=True,
        )
        self._client = aioredis.Redis.from_pool(pool)
        self._subscriber: aioredis.Redis | None = None
        self._keys = {name: f"{prefix}:ledger:{name}" for name in _FIXED}
        self._append = self._client.register_script(_APPEND)
        self._feedback = self._client.register_script(_FEEDBACK)
        self._window = self._client.register_script(_WINDOW)
        self._shadow_append = self._client.register_script(_SHADOW_APPEND)
        self._counterfactual_append = self._client.register_script(_COUNTERFACTUAL_APPEND)
        self._shadow_read = self._client.register_script(_SHADOW_READ)

    @property
    def keys(self) -> list[str]:
        """The fixed Redis keys of this ledger (series shards: `<prefix>:ledger:series:*`)."""
        return list(self._keys.values())

    def _shard_key(self, width: int, start: int) -> str:
        return f"{self.prefix}:ledger:series:{width}:{shard_of(width, start)}"

    async def append(self, record: LedgerRecord) -> None:
        """Store a record; a request id already stored is left as it is."""
        k = self._keys
        keys = [k[name] for name in _FIXED]
        index = {name: i + 1 for i, name in enumerate(_FIXED)}  # Lua counts from 1
        feedback = "" if record.feedback is None else str(int(record.feedback))
        quads: list[str] = []
        ttls: list[str] = []
        for table, name, amount in record_deltas(record):
            if table == "series":
                width, start, _ = parse_series_field(name)
                key = self._shard_key(width, start)
                if key not in index:
                    keys.append(key)
                    index[key] = len(keys)
                    # Kept past the last window that can read it (see series.stale_before).
                    ttls.append(str(2 * width * MAX_FINE + 86_400))
                quads += [str(index[key]), name, *_amount(amount)]
            elif table == "last":
                quads += [str(index["counters"]), name, str(int(amount)), "m"]
            else:
                quads += [str(index[table]), name, *_amount(amount)]
        args = [record.request_id, record.dumps(), feedback, str(self.max_records)]
        args += [str(len(ttls)), *ttls, *quads]
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
            # MULTI: totals and latencies are read as one snapshot.
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hgetall(self._keys["counters"])
                pipe.hgetall(self._keys["latency"])
                counters, latency = await pipe.execute()
            last_second = counters.pop("last_second", None)
            series: dict[str, float] = {}
            if last_second is not None:
                window = SeriesWindow.for_request(bucket_seconds, int(last_second))
                series = await self._read_window(window)
        except RedisError as exc:
            raise LedgerError(f"ledger read from Redis failed: {exc}") from None
        tables = {"counters": counters, "latency": latency, "series": series}
        return SavingsState.from_tables(tables, last_second).summary(bucket_seconds)

    async def _read_window(self, window: SeriesWindow) -> dict[str, float]:
        # Summed inside Redis: MAX_FINE stored buckets in, at most MAX_POINTS rows out.
        span = window.width * MAX_FINE
        shards = range(shard_of(window.width, window.first), shard_of(window.width, window.end) + 1)
        keys = [f"{self.prefix}:ledger:series:{window.width}:{shard}" for shard in shards]
        args = [window.width, window.first, window.end, window.bucket_seconds, span, shards[0]]
        flat = await self._window(keys=keys, args=[*args, *SERIES_METRICS])
        series: dict[str, float] = {}
        step = len(SERIES_METRICS) + 1
        for i in range(0, len(flat), step):
            start = int(flat[i])
            for metric, value in zip(SERIES_METRICS, flat[i + 1 : i + step], strict=True):
                series[series_field(window.width, start, metric)] = float(value)
        return series

    @property
    def policy_key(self) -> str:
        """The key (and pub/sub channel) of the policy an admin set for every replica."""
        return f"{self.prefix}:policy"

    async def publish_policy(self, policy: dict[str, Any]) -> None:
        """Store `policy` for replicas that start later and tell the running ones."""
        data = json.dumps(policy, sort_keys=True)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.set(self.policy_key, data)
                pipe.publish(self.policy_key, data)
                await pipe.execute()
        except RedisError as exc:
            raise LedgerError(f"policy write to Redis failed: {exc}") from None

    async def policy_changes(self) -> AsyncGenerator[dict[str, Any] | None, None]:
        """The stored policy (None if none) once subscribed, then every one published after it."""
        # Its own connection without a read deadline: a subscription is silent between changes.
        if self._subscriber is None:
            self._subscriber = aioredis.Redis.from_url(
                self.url,
                socket_connect_timeout=self._timeout_s,
                socket_keepalive=True,
                decode_responses=True,
            )
        pubsub = self._subscriber.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.policy_key)
            stored = await self._client.get(self.policy_key)
            yield None if stored is None else json.loads(stored)
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield json.loads(message["data"])
        finally:
            await pubsub.aclose()

    @property
    def shadow_key(self) -> str:
        """The list of early exit's shadow records, shared by every replica."""
        return f"{self.prefix}:exit:shadow"

    @property
    def _shadow_keys(self) -> list[str]:
        return [self.shadow_key, f"{self.shadow_key}:dropped"]

    async def append_shadow(self, record: dict[str, Any]) -> None:
        """Store one early-exit shadow record (JSON-ready); drop the oldest past `max_shadow`."""
        text = json.dumps(record, separators=(",", ":"))
        try:
            await self._shadow_append(keys=self._shadow_keys, args=[text, self.max_shadow])
        except RedisError as exc:
            raise LedgerError(f"shadow record append to Redis failed: {exc}") from None

    async def shadow_read(self, since: int = 0) -> tuple[int, list[dict[str, Any]]]:
        """The shadow records after the first `since` ever stored, and where they start (past
        `since` when older ones were dropped)."""
        try:
            start, rows = await self._shadow_read(keys=self._shadow_keys, args=[since])
        except RedisError as exc:
            raise LedgerError(f"shadow record read from Redis failed: {exc}") from None
        return int(start), [json.loads(row) for row in rows]

    async def shadow_records(self, since: int = 0) -> list[dict[str, Any]]:
        """The shadow records after the first `since` ever stored, oldest first."""
        return (await self.shadow_read(since))[1]

    @property
    def counterfactual_key(self) -> str:
        """The list of the exploration share's pairs, shared by every replica."""
        return f"{self.prefix}:ledger:counterfactual"

    async def append_counterfactual(self, record: CounterfactualRecord) -> None:
        """Store one explored pair and count its cost into the shared savings counters; a
        request id already stored is left as it is."""
        args = [record.request_id, record.dumps()]
        for _table, name, amount in counterfactual_deltas(record):
            value, kind = _amount(amount)
            args += [name, kind, value]
        keys = [self.counterfactual_key, f"{self.counterfactual_key}:ids", self._keys["counters"]]
        try:
            # One script: the pair, its id and the counters its cost moves land together.
            await self._counterfactual_append(keys=keys, args=args)
        except RedisError as exc:
            raise LedgerError(f"counterfactual append to Redis failed: {exc}") from None

    async def counterfactual_records(self) -> list[CounterfactualRecord]:
        """Every explored pair, oldest first."""
        try:
            rows = await self._client.lrange(self.counterfactual_key, 0, -1)
        except RedisError as exc:
            raise LedgerError(f"counterfactual read from Redis failed: {exc}") from None
        return [CounterfactualRecord.from_json(row) for row in rows]

    async def ping(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def drop(self) -> None:
        """Delete every key of this ledger (tests, resets)."""
        try:
            shards = [key async for key in self._client.scan_iter(f"{self.prefix}:ledger:series:*")]
            await self._client.delete(
                *self.keys,
                *shards,
                self.policy_key,
                *self._shadow_keys,
                self.counterfactual_key,
                f"{self.counterfactual_key}:ids",
            )
        except RedisError as exc:
            raise LedgerError(f"ledger delete in Redis failed: {exc}") from None

    async def close(self) -> None:
        """Close the connection pools."""
        await self._client.aclose()
        if self._subscriber is not None:
            await self._subscriber.aclose()


def _amount(amount: int | float) -> tuple[str, str]:
    if isinstance(amount, int):
        return str(amount), "i"
    if not math.isfinite(amount):
        raise LedgerError(f"ledger counter increment must be finite, got {amount}")
    return repr(float(amount)), "f"
