"""Usage counters in fixed time windows, for per-key limits: in Redis (shared by every replica)
or in memory (one process, the SQLite ledger's case).

A window of `window_s` seconds starts at a multiple of it since the epoch, so every replica
agrees on the window without talking; a counter expires one window after its window ends.
A window of 0 means "ever" (a total budget). Redis calls run under a short deadline and the
ledger's kind of circuit breaker: a limiter that cannot reach Redis lets requests through
(`None` from `add`) and logs it, rather than failing them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

from router.ledger.breaker import CircuitBreaker

__all__ = ["Counters", "MemoryCounters", "RedisCounters", "window_end"]

_log = logging.getLogger("thinkgate.limits")


def window_end(window_s: int, now: float) -> float:
    """When the window holding `now` ends (infinity for a 0-second, i.e. total, window)."""
    if window_s <= 0:
        return math.inf
    return (math.floor(now / window_s) + 1) * window_s


def _window_id(window_s: int, now: float) -> int:
    return 0 if window_s <= 0 else math.floor(now / window_s)


class Counters(Protocol):
    """Counters of usage per (name, window)."""

    async def add(self, name: str, window_s: int, amount: float) -> float | None:
        """Add `amount` to this window's counter; its new value (None: counter unreachable)."""
        ...

    async def get(self, name: str, window_s: int) -> float | None:
        """This window's counter (None: counter unreachable)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryCounters:
    """Counters in this process's memory (one replica)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._values: dict[tuple[str, int, int], float] = {}

    def _key(self, name: str, window_s: int) -> tuple[str, int, int]:
        now = self._clock()
        if len(self._values) > 10_000:  # drop counters of windows that have ended
            self._values = {
                k: v for k, v in self._values.items() if k[1] <= 0 or k[2] >= now // k[1]
            }
        return name, window_s, _window_id(window_s, now)

    async def add(self, name: str, window_s: int, amount: float) -> float | None:
        key = self._key(name, window_s)
        self._values[key] = self._values.get(key, 0.0) + amount
        return self._values[key]

    async def get(self, name: str, window_s: int) -> float | None:
        return self._values.get(self._key(name, window_s), 0.0)

    async def close(self) -> None:
        return None


class RedisCounters:
    """Counters in Redis under `<prefix>:limits:`, shared by every replica on the same Redis."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "thinkgate",
        timeout_s: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        import redis.asyncio as aioredis

        self.prefix = prefix
        self.timeout_s = timeout_s
        self._clock = clock
        self.breaker = CircuitBreaker(failures=3, reset_s=1.0)
        self._client = aioredis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0, decode_responses=True
        )

    def _key(self, name: str, window_s: int) -> str:
        window = _window_id(window_s, self._clock())
        return f"{self.prefix}:limits:{name}:{window_s}:{window}"

    async def _call(self, name: str, window_s: int, amount: float | None) -> float | None:
        if not self.breaker.allow():
            return None
        key = self._key(name, window_s)
        try:
            async with asyncio.timeout(self.timeout_s):
                if amount is None:
                    value = await self._client.get(key)
                else:
                    async with self._client.pipeline(transaction=True) as pipe:
                        pipe.incrbyfloat(key, amount)
                        if window_s > 0:
                            pipe.expire(key, 2 * window_s)
                        value = (await pipe.execute())[0]
        except Exception as exc:  # an unreachable limiter must not fail requests
            self.breaker.failure()
            _log.warning("usage counters unreachable (%s); limits not enforced meanwhile", exc)
            return None
        self.breaker.success()
        return float(value or 0.0)

    async def add(self, name: str, window_s: int, amount: float) -> float | None:
        return await self._call(name, window_s, amount)

    async def get(self, name: str, window_s: int) -> float | None:
        return await self._call(name, window_s, None)

    async def close(self) -> None:
        await self._client.aclose()
