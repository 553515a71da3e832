"""Gateway metrics: ledger records in, Prometheus text out, over real HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from router.ledger.record import LedgerRecord
from router.metrics import GatewayMetrics, metrics_router
from router.server_thread import ServerThread
from tests.router.conftest import PROMPTS, RunningGateway


def make_record(**changes: Any) -> LedgerRecord:
    values: dict[str, Any] = {
        "request_id": "r1",
        "time": 1_700_000_000.0,
        "model": "thinkgate/auto",
        "profile": "direct",
        "decision_reason": "cheapest within 1 point",
        "predictions": {"direct": {"p_correct": 0.9, "tokens": 200.0}},
        "difficulty": "easy",
        "reference_profile": "think",
        "prompt_tokens": 40,
        "completion_tokens": 200,
        "tokens_counted": False,
        "reference_tokens_estimate": 1500.0,
        "saved_tokens_estimate": 1300.0,
        "saved_by": {"routing": 1300.0, "early_exit": 0.0, "sampling": 0.0},
        "early_exit": None,
        "samples": None,
        "latency_ms": 120.0,
        "ttft_ms": 30.0,
        "stream": True,
        "status": 200,
        "error": None,
    }
    values.update(changes)
    return LedgerRecord(**values)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(text: str, name: str, **labels: str) -> float:
    return _samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_records_become_counters_and_histograms() -> None:
    metrics = GatewayMetrics()
    metrics.observe(make_record())
    metrics.observe(make_record(request_id="r2", profile="think", difficulty="hard",
                            completion_tokens=1400, saved_by={"early_exit": 600.0},
                            early_exit={"tokens_at_exit": 900, "checkpoint": 3, "answer": "5"},
                            latency_ms=4000.0))  # fmt: skip
    metrics.observe(make_record(request_id="r3", model="thinkgate/think", profile="think",
                            status=502, error="upstream timed out", ttft_ms=None))  # fmt: skip
    text = metrics.render().decode()
    assert (
        _value(text, "thinkgate_requests_total", profile="direct", mode="auto", status="200") == 1
    )
    assert (
        _value(text, "thinkgate_requests_total", profile="think", mode="forced", status="502") == 1
    )
    assert _value(text, "thinkgate_prompt_tokens_total", profile="think") == 80
    assert _value(text, "thinkgate_completion_tokens_total", profile="think") == 1600
    assert _value(text, "thinkgate_saved_tokens_estimate_total", mechanism="routing") == 2600
    assert _value(text, "thinkgate_saved_tokens_estimate_total", mechanism="early_exit") == 600
    assert _value(text, "thinkgate_saved_tokens_estimate_total", mechanism="sampling") == 0
    assert _value(text, "thinkgate_reference_tokens_estimate_total") == 4500
    assert (
        _value(text, "thinkgate_decisions_total", profile="think", difficulty="hard", mode="auto")
        == 1
    )
    assert _value(text, "thinkgate_early_exits_total", profile="think") == 1
    assert _value(text, "thinkgate_upstream_errors_total", profile="think", status="502") == 1
    assert _value(text, "thinkgate_request_duration_seconds_count", profile="think") == 2
    assert _value(text, "thinkgate_request_duration_seconds_sum", profile="think") == 4.12
    # 4 s lands above the 2.5 s bucket and inside the 5 s one.
    assert _value(text, "thinkgate_request_duration_seconds_bucket", profile="think", le="2.5") == 1
    assert _value(text, "thinkgate_request_duration_seconds_bucket", profile="think", le="5.0") == 2
    assert _value(text, "thinkgate_time_to_first_token_seconds_count", profile="think") == 1


def test_negative_savings_do_not_decrement_and_feedback_and_decisions_count() -> None:
    metrics = GatewayMetrics()
    metrics.observe(make_record(saved_by={"routing": -300.0}, samples=5, profile="search"))
    metrics.observe_feedback(True)
    metrics.observe_feedback(False)
    metrics.observe_feedback(True)
    metrics.observe_decision(0.004)
    text = metrics.render().decode()
    assert _value(text, "thinkgate_saved_tokens_estimate_total", mechanism="routing") == 0
    assert _value(text, "thinkgate_feedback_total", correct="true") == 2
    assert _value(text, "thinkgate_feedback_total", correct="false") == 1
    assert _value(text, "thinkgate_decision_duration_seconds_bucket", le="0.005") == 1
    assert _value(text, "thinkgate_decision_duration_seconds_bucket", le="0.002") == 0
    assert _value(text, "thinkgate_samples_sum", profile="search") == 5


def test_each_instance_has_its_own_registry() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.observe(make_record())
    assert 'profile="direct"' in first.render().decode()
    assert 'profile="direct"' not in second.render().decode()


def test_metrics_endpoint_over_http() -> None:
    metrics = GatewayMetrics()
    app = FastAPI()
    app.include_router(metrics_router(metrics))
    with ServerThread(app) as server:
        metrics.observe(make_record())
        response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert _value(response.text, "thinkgate_completion_tokens_total", profile="direct") == 200


def test_gateway_metrics_agree_with_its_ledger(gateway: RunningGateway) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)
    for prompt in PROMPTS:
        client.chat.completions.create(
            model="thinkgate/auto", messages=[{"role": "user", "content": prompt}]
        )
    deadline = time.monotonic() + 10
    while True:
        text = httpx.get(f"{gateway.url}/metrics").text
        savings = httpx.get(f"{gateway.url}/v1/savings").json()
        counted = {
            labels: value
            for (name, labels), value in _samples(text).items()
            if name == "thinkgate_requests_total"
        }
        if sum(counted.values()) == savings["requests"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sum(counted.values()) == savings["requests"] >= len(PROMPTS)
    for profile, stats in savings["by_profile"].items():
        assert (
            _value(text, "thinkgate_completion_tokens_total", profile=profile)
            == stats["completion_tokens"]
        )
    assert _value(text, "thinkgate_decision_duration_seconds_count") >= len(PROMPTS)
