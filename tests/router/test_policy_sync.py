"""A policy set by an admin reaches every replica on one Redis ledger, and later replicas."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from router.replay.server import ReplayUpstream
from tests.router.conftest import HARD, RunningGateway, base_config

ADMIN = {"authorization": "Bearer sk-admin"}
AUTH = {"admin_key_env": "TG_TEST_ADMIN"}


def _policy(gw: RunningGateway) -> dict[str, object]:
    resp = httpx.get(f"{gw.url}/admin/policy", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    policy: dict[str, object] = resp.json()["policy"]
    return policy


def test_a_policy_set_on_one_replica_reaches_the_others(
    replay: ReplayUpstream,
    redis_ledger_url: str,
    gateway_factory: Callable[..., RunningGateway],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TG_TEST_ADMIN", "sk-admin")
    config = base_config(replay.base_url, redis_ledger_url, auth=AUTH)
    a, b = gateway_factory(config), gateway_factory(config)
    assert _policy(b)["kind"] == "target"
    put = httpx.put(
        f"{a.url}/admin/policy", json={"kind": "fixed", "profile": "direct"}, headers=ADMIN
    )
    assert put.status_code == 200 and put.json()["shared"] is True
    deadline = time.monotonic() + 10
    while _policy(b)["kind"] != "fixed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _policy(b)["profile"] == "direct"
    routed = httpx.post(f"{b.url}/v1/route", json={"prompt": HARD}).json()
    assert routed["profile"] == "direct" and "fixed" in routed["reason"]
    late = gateway_factory(config)  # started after the change: applies the stored policy
    assert _policy(late)["profile"] == "direct"


def test_with_sqlite_the_change_stays_on_its_replica(
    replay: ReplayUpstream,
    gateway_factory: Callable[..., RunningGateway],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("TG_TEST_ADMIN", "sk-admin")
    gw = gateway_factory(base_config(replay.base_url, f"sqlite:///{tmp_path / 'l.db'}", auth=AUTH))
    put = httpx.put(
        f"{gw.url}/admin/policy", json={"kind": "fixed", "profile": "think"}, headers=ADMIN
    )
    assert put.status_code == 200 and put.json()["shared"] is False
    assert _policy(gw)["profile"] == "think"
