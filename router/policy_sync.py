"""An admin's policy change reaches every replica that shares the Redis ledger, and outlives them.

`PUT /admin/policy` stores the policy under the ledger's prefix and publishes it; each replica
applies the stored one when it starts and every published one while it runs. With the SQLite
ledger there is one replica: the change applies to it only, until it restarts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Any

from pydantic import ValidationError

from router.gateway import Gateway
from router.ledger.durable import shared_store
from router.settings import PolicySettings

__all__ = ["follow_policy", "publish_policy"]

_log = logging.getLogger("thinkgate.policy")
_READ_TIMEOUT_S = 2.0


async def publish_policy(gateway: Gateway, policy: PolicySettings) -> bool:
    """Share `policy` with the other replicas; False when the ledger is not shared (SQLite)."""
    ledger = shared_store(gateway.ledger)
    if ledger is None:
        return False
    await ledger.publish_policy(policy.model_dump())
    return True


def _apply(gateway: Gateway, data: dict[str, Any]) -> None:
    pipeline = gateway.pipeline
    if pipeline is None:
        return
    try:
        policy = PolicySettings.model_validate(data)
    except ValidationError as exc:
        _log.error("ignoring a shared policy that does not validate: %s", exc.errors()[0]["msg"])
        return
    if policy.profile is not None and policy.profile not in gateway.settings.profiles:
        _log.error("ignoring a shared policy naming unknown profile %r", policy.profile)
        return
    if policy != gateway.settings.policy:
        pipeline.set_policy(policy)
        _log.info("policy set by an admin: %s", policy.model_dump())


async def follow_policy(gateway: Gateway) -> asyncio.Task[None] | None:
    """Apply the stored shared policy now; the task that applies later ones (None: not shared)."""
    ledger = shared_store(gateway.ledger)
    if ledger is None:
        return None
    changes = ledger.policy_changes()
    try:
        async with asyncio.timeout(_READ_TIMEOUT_S):  # a stalled Redis must not stall start-up
            stored = await anext(changes)
    except Exception:
        # An unreachable Redis must not stop the gateway from starting; /readyz reports it.
        _log.exception("cannot read the shared policy; using the configured one")
        await changes.aclose()
        return None
    if stored is not None:
        _apply(gateway, stored)
    return asyncio.create_task(_follow(gateway, changes), name="thinkgate-policy")


async def _follow(gateway: Gateway, changes: AsyncGenerator[dict[str, Any] | None, None]) -> None:
    while True:
        try:
            async for data in changes:
                if data is not None:
                    _apply(gateway, data)
            return
        except Exception:
            _log.exception("lost the shared-policy subscription; retrying in 1 s")
            await asyncio.sleep(1.0)
            ledger = shared_store(gateway.ledger)
            if ledger is None:
                return
            changes = ledger.policy_changes()
