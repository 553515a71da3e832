"""A circuit breaker for calls to the ledger store: after a few failures in a row, stop calling
for a while, then let one call through to probe whether the store is back.

Written here rather than taken from a library: the maintained breakers (pybreaker, purgatory)
wrap calls in their own sync or storage-backed machinery; the ledger needs three methods on the
event loop, with the clock passed in so tests step time instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

__all__ = ["CircuitBreaker", "BreakerState"]

BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """Closed: calls go through. `failures` failures in a row open it for `reset_s` seconds;
    then one probe call goes through (half-open): success closes it, failure opens it again."""

    def __init__(
        self,
        *,
        failures: int = 3,
        reset_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1 or reset_s <= 0:
            raise ValueError("a breaker needs failures >= 1 and reset_s > 0")
        self.failures = failures
        self.reset_s = reset_s
        self._clock = clock
        self._streak = 0
        self._open_until: float | None = None
        self._probing = False
        self.opened = 0  # times the breaker has opened (a counter for metrics and logs)

    @property
    def state(self) -> BreakerState:
        """closed, open (calls refused) or half-open (one probe allowed or in flight)."""
        if self._open_until is None:
            return "closed"
        return "open" if self._clock() < self._open_until else "half-open"

    def allow(self) -> bool:
        """Whether a call may go to the store now (half-open admits one probe at a time)."""
        state = self.state
        if state == "closed":
            return True
        if state == "open" or self._probing:
            return False
        self._probing = True
        return True

    def success(self) -> None:
        """A call succeeded: close the breaker."""
        self._streak = 0
        self._open_until = None
        self._probing = False

    def failure(self) -> None:
        """A call failed: count it, and open the breaker at the threshold (or a failed probe)."""
        self._streak += 1
        if self._probing or self._streak >= self.failures:
            if self._open_until is None or self._probing:
                self.opened += 1
            self._open_until = self._clock() + self.reset_s
            self._probing = False
