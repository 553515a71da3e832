"""Per-key control: models a key may force, its max n, and limits counted in Redis or memory."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr, ValidationError

from difficulty.errors import InvalidInputError
from router.errors import PermissionDeniedError, render_error
from router.keys import KeyGuard, KeyLimitError, KeyPolicy, KeySettings
from router.limits import Counters, MemoryCounters, RedisCounters
from tests.router.conftest import REDIS_URL

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0  # 20 s into a minute; 13:33:20 into a day

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["memory", "redis"])
async def counters(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Counters, Clock]]:
    clock = Clock()
    if request.param == "memory":
        yield MemoryCounters(clock), clock
        return
    prefix = f"test-limits-{uuid.uuid4().hex}"
    redis_counters = RedisCounters(REDIS_URL, prefix=prefix, timeout_s=2.0, clock=clock)
    yield redis_counters, clock
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
    await redis_counters.close()


def key(name: str = "team-a", **policy: object) -> KeySettings:
    spec = KeySettings(name=name, key_env="UNUSED", **policy)  # type: ignore[arg-type]
    spec.key = SecretStr(f"secret-{name}")
    return spec


def guard(counters: Counters, clock: Clock, *keys: KeySettings) -> KeyGuard:
    return KeyGuard(list(keys), KeyPolicy(), counters, clock=clock)


async def test_keys_are_identified_and_others_are_not() -> None:
    g = guard(MemoryCounters(), Clock(), key("a"), key("b"))
    assert g.identify("secret-b").name == "b"  # type: ignore[union-attr]
    assert g.identify("secret-c") is None
    assert g.default.name == "default" and g.default.policy.models == ["*"]


async def test_models_and_n_are_checked_against_the_policy() -> None:
    spec = key(models=["thinkgate/auto", "thinkgate/auto?target=*", "thinkgate/direct"], max_n=2)
    g = guard(MemoryCounters(), Clock(), spec)
    api_key = g.identify("secret-team-a")
    assert api_key is not None
    for allowed in ("thinkgate/auto", "thinkgate/auto?target=cheap", "thinkgate/direct"):
        g.check_model(api_key, allowed, 1)
    for refused in ("thinkgate/think", "thinkgate/search", "QwQ-32B"):
        with pytest.raises(PermissionDeniedError) as info:
            g.check_model(api_key, refused, None)
        assert info.value.status == 403 and info.value.param == "model"
    with pytest.raises(InvalidInputError, match="at most 2"):
        g.check_model(api_key, "thinkgate/direct", 16)


async def test_requests_per_minute_is_a_429_until_the_minute_ends(
    counters: tuple[Counters, Clock],
) -> None:
    store, clock = counters
    g = guard(store, clock, key(requests_per_minute=3))
    api_key = g.identify("secret-team-a")
    assert api_key is not None
    for _ in range(3):
        await g.admit(api_key)
    with pytest.raises(KeyLimitError) as info:
        await g.admit(api_key)
    assert info.value.code == "rate_limit_exceeded" and info.value.retry_after == 40.0
    response = render_error(info.value)
    assert response.status_code == 429 and response.headers["retry-after"] == "40"
    clock.now += 40  # the next minute
    await g.admit(api_key)


async def test_tokens_per_day_and_budget_count_what_was_used(
    counters: tuple[Counters, Clock],
) -> None:
    store, clock = counters
    g = guard(store, clock, key(tokens_per_day=1000, budget=0.5, budget_period="total"))
    api_key = g.identify("secret-team-a")
    assert api_key is not None
    await g.admit(api_key)
    await g.account(api_key, tokens=999, cost=0.25)
    await g.admit(api_key)
    await g.account(api_key, tokens=10, cost=0.0)
    with pytest.raises(KeyLimitError) as info:
        await g.admit(api_key)
    assert info.value.code == "tokens_exceeded"
    assert info.value.retry_after == pytest.approx(86_400 - (clock.now % 86_400))
    clock.now += 86_400  # a new day: tokens reset, the total budget does not
    await g.account(api_key, tokens=1, cost=0.3)
    with pytest.raises(KeyLimitError) as budget:
        await g.admit(api_key)
    assert budget.value.code == "budget_exceeded" and budget.value.retry_after is None


async def test_an_unreachable_redis_lets_requests_through() -> None:
    g = guard(RedisCounters("redis://127.0.0.1:1/0", timeout_s=0.2), Clock(),
              key(requests_per_minute=1))  # fmt: skip
    api_key = g.identify("secret-team-a")
    assert api_key is not None
    for _ in range(5):
        await g.admit(api_key)
    await g.counters.close()


def test_policies_refuse_nonsense() -> None:
    for bad in ({"max_n": 0}, {"budget": float("inf")}, {"requests_per_minute": 0}):
        with pytest.raises(ValidationError):
            KeyPolicy.model_validate(bad)
    with pytest.raises(ValidationError):
        KeySettings(name="has space", key_env="X")
