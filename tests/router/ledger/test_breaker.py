"""The ledger store's circuit breaker, on a clock the test steps."""

from __future__ import annotations

import pytest

from router.ledger.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_the_threshold_and_refuses_until_reset() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, reset_s=2.0, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open" and breaker.opened == 1
    assert not breaker.allow()
    clock.now += 1.9
    assert not breaker.allow()


def test_half_open_admits_one_probe_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, reset_s=1.0, clock=clock)
    breaker.failure()
    clock.now += 1.0
    assert breaker.state == "half-open"
    assert breaker.allow()
    assert not breaker.allow()  # the probe is in flight: nobody else goes
    breaker.success()
    assert breaker.state == "closed"
    assert breaker.allow() and breaker.allow()


def test_a_failed_probe_opens_it_again_for_a_full_period() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=2, reset_s=1.0, clock=clock)
    breaker.failure()
    breaker.failure()
    clock.now += 1.5
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and breaker.opened == 2
    clock.now += 0.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.allow()


def test_a_success_resets_the_streak() -> None:
    breaker = CircuitBreaker(failures=2, reset_s=1.0, clock=Clock())
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert breaker.state == "closed"


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failures=0)
    with pytest.raises(ValueError):
        CircuitBreaker(reset_s=0)
