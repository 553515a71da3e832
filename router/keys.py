"""Per-key control: which models a key may ask for, its largest `n`, and its usage limits.

Keys are declared in the config (`auth.keys`), each with a policy; keys listed the old way
(`auth.api_key_envs`) and an open gateway get `auth.default`. A request is admitted when its
model matches one of the key's `models` patterns (fnmatch, e.g. `thinkgate/auto*`), its `n` is at
most `max_n`, and the key is under its requests-per-minute, tokens-per-day and spend limits;
otherwise 403 (model), 400 (n) or 429 with Retry-After. Usage is counted after each request
(prompt + completion tokens; spend is the ledger record's cost, at the answering profile's prices,
the config's or litellm's cost map) in Redis when the ledger is Redis (replicas share the
counters) or in memory.
"""

from __future__ import annotations

import fnmatch
import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from difficulty.errors import InvalidInputError, ThinkgateError
from policies.profiles import ProfileCost
from router.errors import PermissionDeniedError
from router.limits import Counters, window_end
from router.settings import KeyPolicy, KeySettings

__all__ = [
    "ApiKey",
    "KeyGuard",
    "KeyLimitError",
    "BUDGET_PERIODS",
]

BUDGET_PERIODS = {"day": 86_400, "week": 7 * 86_400, "month": 30 * 86_400, "total": 0}


class KeyLimitError(ThinkgateError):
    """A key is over one of its limits (429, with the seconds until the window ends)."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, code: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True)
class ApiKey:
    """The key a request came with (name "default" for legacy keys and an open gateway)."""

    name: str
    policy: KeyPolicy


class KeyGuard:
    """Identifies keys, admits requests under their policy, and counts their usage."""

    def __init__(
        self,
        keys: list[KeySettings],
        default: KeyPolicy,
        counters: Counters,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.default = ApiKey("default", default)
        self.counters = counters
        self._clock = clock

    def identify(self, token: str) -> ApiKey | None:
        """The declared key `token` is, compared in constant time against every one."""
        found: ApiKey | None = None
        for spec in self.keys:
            secret = spec.key.get_secret_value() if spec.key is not None else ""
            if hmac.compare_digest(token.encode(), secret.encode()) and found is None:
                found = ApiKey(spec.name, spec)
        return found

    def check_model(self, key: ApiKey, model: str, n: int | None) -> None:
        """403 unless the key may ask for `model`; 400 when `n` is over its `max_n`."""
        if not any(fnmatch.fnmatchcase(model, p) for p in key.policy.models):
            raise PermissionDeniedError(
                f"this API key may not use the model {model!r}", param="model"
            )
        if n is not None and n > key.policy.max_n:
            raise InvalidInputError(
                f"n may be at most {key.policy.max_n} with this API key", param="n"
            )

    async def admit(self, key: ApiKey) -> None:
        """Count the request against the per-minute limit; 429 when any limit is reached."""
        policy, now = key.policy, self._clock()
        if policy.requests_per_minute is not None:
            count = await self.counters.add(f"{key.name}:requests", 60, 1)
            if count is not None and count > policy.requests_per_minute:
                raise self._over("requests per minute", "rate_limit_exceeded", 60, now)
        if policy.tokens_per_day is not None:
            used = await self.counters.get(f"{key.name}:tokens", 86_400)
            if used is not None and used >= policy.tokens_per_day:
                raise self._over("tokens per day", "tokens_exceeded", 86_400, now)
        if policy.budget is not None:
            period = BUDGET_PERIODS[policy.budget_period]
            spent = await self.counters.get(f"{key.name}:spend", period)
            if spent is not None and spent >= policy.budget:
                raise self._over(f"spend budget ({policy.budget_period})", "budget_exceeded",
                                 period, now)  # fmt: skip

    async def account(self, key: ApiKey, tokens: int, cost: float) -> None:
        """Count a finished request's tokens and spend against the key's day and budget."""
        policy = key.policy
        if policy.tokens_per_day is not None and tokens > 0:
            await self.counters.add(f"{key.name}:tokens", 86_400, tokens)
        if policy.budget is not None and cost > 0 and math.isfinite(cost):
            await self.counters.add(f"{key.name}:spend", BUDGET_PERIODS[policy.budget_period], cost)

    async def charge(
        self, key: ApiKey | None, record: Any, prices: ProfileCost | None = None
    ) -> None:
        """Count a ledger record's tokens and cost against `key` (None: no key): the record's
        `cost`, or for a record without one its tokens at `prices` (a profile's, resolved)."""
        if key is None:
            return
        cost = record.cost
        if cost is None:
            cost = prices.cost(record.completion_tokens, record.prompt_tokens) if prices else 0.0
        await self.account(key, record.prompt_tokens + record.completion_tokens, cost)

    @staticmethod
    def _over(what: str, code: str, window_s: int, now: float) -> KeyLimitError:
        end = window_end(window_s, now)
        retry = None if math.isinf(end) else max(1.0, end - now)
        return KeyLimitError(f"this API key has reached its {what} limit", code, retry)
