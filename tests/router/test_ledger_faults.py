"""The gateway on a Redis ledger of the test's own that is killed, restarted and stalled while
requests keep coming: every request answered, /readyz says what waits, no record lost (the
latency a stalled Redis adds is bench/soak.py's figure, not a test's)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from router.replay import ReplayUpstream
from tests.router.conftest import EASY, HARD, RunningGateway, base_config, read_records, wait_for
from tests.router.redis_server import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    (tmp_path / "redis").mkdir()
    with RedisServer(tmp_path / "redis") as server:
        yield server


def ask(gw: RunningGateway, i: int) -> str:
    body = {"model": "thinkgate/direct", "stream": bool(i % 2),
            "messages": [{"role": "user", "content": (EASY, HARD)[i % 2]}]}  # fmt: skip
    resp = httpx.post(f"{gw.base_url}/chat/completions", json=body, timeout=30)
    assert resp.status_code == 200
    return resp.headers["x-thinkgate-request-id"]


def test_no_record_is_lost_while_redis_is_killed_and_stalled(
    replay: ReplayUpstream,
    redis_server: RedisServer,
    gateway_factory: Callable[..., RunningGateway],
) -> None:
    url = f"{redis_server.url}?prefix=faults"
    gw = gateway_factory(base_config(replay.base_url, url))
    sent = [ask(gw, i) for i in range(6)]
    assert wait_for(lambda: len(read_records(url)) == 6)

    redis_server.kill()
    sent += [ask(gw, i) for i in range(6, 12)]
    ready = httpx.get(f"{gw.url}/readyz", timeout=5)
    assert ready.status_code == 503 and ready.json()["ledger"] is False
    backlog = ready.json()["ledger_backlog"]
    assert backlog["spooled"] + backlog["pending"] == 6 and backlog["dropped"] == 0

    redis_server.start()
    assert wait_for(lambda: len(read_records(url)) == 12, timeout=20)

    redis_server.stall()
    try:
        sent += [ask(gw, i) for i in range(12, 18)]  # answered while Redis is stalled
        assert httpx.get(f"{gw.url}/readyz", timeout=5).status_code == 503
    finally:
        redis_server.resume()
    assert wait_for(lambda: len(read_records(url)) == 18, timeout=20)
    assert [r.request_id for r in read_records(url)] == sent
    assert httpx.get(f"{gw.url}/readyz", timeout=5).json()["ledger_backlog"]["spooled"] == 0


def test_metrics_report_the_store_back_after_a_stall_without_other_traffic(
    replay: ReplayUpstream,
    redis_server: RedisServer,
    gateway_factory: Callable[..., RunningGateway],
) -> None:
    gw = gateway_factory(base_config(replay.base_url, f"{redis_server.url}?prefix=gauges"))
    assert store_up(gw) == 1.0
    redis_server.stall()
    try:
        for _ in range(3):  # late pings open the breaker; no record waits to be drained
            assert httpx.get(f"{gw.url}/readyz", timeout=5).status_code == 503
        assert store_up(gw) == 0.0
    finally:
        redis_server.resume()
    # Nothing else calls the store now: the scrape's own probe finds it back.
    assert wait_for(lambda: store_up(gw) == 1.0, timeout=10)


def store_up(gw: RunningGateway) -> float:
    text = httpx.get(f"{gw.url}/metrics", timeout=5).text
    family = next(f for f in text_string_to_metric_families(text)
                  if f.name == "thinkgate_ledger_store_up")  # fmt: skip
    return float(family.samples[0].value)
