"""Two `thinkgate serve` processes on one Redis ledger: either replica reports every request.

Issue 6's scale-out check: concurrent load split over two real gateway processes, then
`/v1/savings` on each equals the number of requests both served, with no record lost, and
feedback given to one replica labels a request the other one served.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from policies.savings import GRAFANA_SAVED_SHARE, share_percent
from router.replay.server import ReplayUpstream
from tests.router.conftest import PROMPTS, base_config, read_records, stop_process
from tests.router.test_savings_surfaces import counter_totals, grafana_value

REQUESTS = 60
CONCURRENCY = 16


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 180.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise AssertionError(f"gateway at {url} exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"gateway at {url} not ready after {timeout:.0f} s")


@pytest.fixture
def replicas(
    replay: ReplayUpstream, redis_ledger_url: str, tmp_path: Path
) -> Iterator[tuple[list[str], str]]:
    """Two gateway processes sharing one Redis ledger; yields their URLs and the ledger URL."""
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump(base_config(replay.base_url, redis_ledger_url)))
    ports = [_free_port(), _free_port()]
    logs = [tmp_path / f"replica-{port}.log" for port in ports]
    sinks = [log.open("wb") for log in logs]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "router.cli", "serve", "--config", str(config)]
            + ["--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
        for port, sink in zip(ports, sinks, strict=True)
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url, process, log in zip(urls, processes, logs, strict=True):
            _wait_ready(url, process, log)
        yield urls, redis_ledger_url
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            stop_process(process, timeout=20)  # already told to stop: waits, kills if need be
        for sink in sinks:
            sink.close()


async def _load(urls: list[str]) -> list[tuple[str, str]]:
    """REQUESTS chat calls, alternating replicas, a third of them streamed; (replica, id) each."""
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(client: httpx.AsyncClient, i: int) -> tuple[str, str]:
        url = urls[i % 2]
        body = {
            "model": "thinkgate/auto",
            "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
            "stream": i % 3 == 0,
        }
        async with (
            sem,
            client.stream("POST", f"{url}/v1/chat/completions", json=body) as response,
        ):
            text = (await response.aread()).decode()
            assert response.status_code == 200, text
            if body["stream"]:
                assert text.rstrip().endswith("data: [DONE]"), text[-200:]
            return url, response.headers["x-thinkgate-request-id"]

    async with httpx.AsyncClient(timeout=60.0) as client:
        return await asyncio.gather(*(one(client, i) for i in range(REQUESTS)))


def _savings(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/v1/savings", timeout=10.0)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _settled_savings(url: str, expected: int, timeout: float = 10.0) -> dict[str, Any]:
    # Records are written when each response finishes; give the last ones a moment.
    deadline = time.monotonic() + timeout
    savings = _savings(url)
    while savings["requests"] < expected and time.monotonic() < deadline:
        time.sleep(0.2)
        savings = _savings(url)
    return savings


def test_savings_on_either_replica_count_every_request(
    replicas: tuple[list[str], str],
) -> None:
    urls, ledger_url = replicas
    served = asyncio.run(_load(urls))
    per_replica = {url: sum(1 for u, _ in served if u == url) for url in urls}
    assert per_replica == {urls[0]: REQUESTS // 2, urls[1]: REQUESTS // 2}

    first, second = (_settled_savings(url, REQUESTS) for url in urls)
    assert first["requests"] == second["requests"] == sum(per_replica.values())
    assert sum(p["requests"] for p in first["by_profile"].values()) == REQUESTS
    assert first == second

    ids = [request_id for _, request_id in served]
    assert len(set(ids)) == REQUESTS
    assert sorted(r.request_id for r in read_records(ledger_url)) == sorted(ids)

    # Feedback sent to one replica labels a request the other replica served.
    served_by_first = next(rid for url, rid in served if url == urls[0])
    response = httpx.post(
        f"{urls[1]}/v1/feedback", json={"request_id": served_by_first, "correct": True}
    )
    assert response.status_code == 200, response.text
    assert _savings(urls[0])["feedback"] == {"labelled": 1, "correct": 1, "accuracy": 1.0}


def test_one_port_served_by_worker_processes(
    replay: ReplayUpstream, redis_ledger_url: str, tmp_path: Path
) -> None:
    """`thinkgate serve --workers 2`: two processes behind one port, one set of savings."""
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump(base_config(replay.base_url, redis_ledger_url)))
    port = _free_port()
    log = tmp_path / "workers.log"
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "router.cli", "serve", "--config", str(config)]
            + ["--port", str(port), "--log-level", "warning", "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, process, log)
            # Both workers answer readiness on the shared port before the load starts.
            deadline = time.monotonic() + 120
            while len(_workers(process.pid)) < 2 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert len(_workers(process.pid)) == 2
            served = asyncio.run(_load([url, url]))
            assert len({request_id for _, request_id in served}) == REQUESTS
            savings = _settled_savings(url, REQUESTS)
            assert savings["requests"] == REQUESTS
            assert len(read_records(redis_ledger_url)) == REQUESTS
            # Whichever worker a scrape reaches, it counts both workers' requests and tokens
            # (prometheus-client's multiprocess mode), and the saved share is the ledger's.
            scrapes = [_metric_totals(url) for _ in range(8)]
            assert all(s == scrapes[0] for s in scrapes), scrapes
            totals = scrapes[0]
            assert totals["thinkgate_requests_total"] == REQUESTS
            assert totals["thinkgate_completion_tokens_total"] == savings["tokens"]["completion"]
            share = grafana_value(GRAFANA_SAVED_SHARE, totals)
            assert share_percent(share) == savings["tokens"]["saved_percent"]
            # The ledger gauges are one series each, over the live workers (no pid label): the
            # store up in both, nothing waiting or dropped once every record has landed.
            assert _settled_gauges(url) == {
                "thinkgate_ledger_pending_records": [({}, 0.0)],
                "thinkgate_ledger_spooled_records": [({}, 0.0)],
                "thinkgate_ledger_dropped_records": [({}, 0.0)],
                "thinkgate_ledger_store_up": [({}, 1.0)],
            }
        finally:
            stop_process(process, timeout=30)


Samples = list[tuple[dict[str, str], float]]


def _settled_gauges(url: str, timeout: float = 30.0) -> dict[str, Samples]:
    """The ledger gauges' samples once no worker reports records waiting or the store down: each
    worker sets its own every few seconds, so one that last did so mid-load (a store call late
    under load opens the breaker until a probe) may still report that."""
    deadline = time.monotonic() + timeout
    while True:
        text = httpx.get(f"{url}/metrics", timeout=10).text
        gauges = {
            family.name: [(dict(s.labels), s.value) for s in family.samples]
            for family in text_string_to_metric_families(text)
            if family.name.startswith("thinkgate_ledger_")
        }
        waiting = [
            *gauges.get("thinkgate_ledger_pending_records", []),
            *gauges.get("thinkgate_ledger_spooled_records", []),
        ]
        up = gauges.get("thinkgate_ledger_store_up", [])
        settled = not any(value for _, value in waiting) and all(value == 1 for _, value in up)
        if settled or time.monotonic() > deadline:
            return gauges
        time.sleep(1.0)


def _metric_totals(url: str) -> dict[str, float]:
    """Each counter's total over its labels, from one scrape on a new connection."""
    return counter_totals(httpx.get(f"{url}/metrics", timeout=10).text)


def _workers(pid: int) -> list[int]:
    """Child processes running a worker (not multiprocessing's resource tracker)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children.extend(int(c) for c in (task / "children").read_text().split())
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
