"""Per-key control through real gateways: forced models and n refused, limits answered with 429
and Retry-After, counters shared by two replicas on one Redis ledger, legacy keys unrestricted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from router.replay import ReplayUpstream
from tests.router.conftest import EASY, HARD, RunningGateway, base_config

KEYS = {
    "TG_KEY_TEAM": "tg-team-0123456789",
    "TG_KEY_TINY": "tg-tiny-0123456789",
    "TG_KEY_LEGACY": "tg-legacy-0123456789",
    "TG_KEY_METRICS": "tg-metrics-0123456789",
}
AUTH = {
    "api_key_envs": ["TG_KEY_LEGACY"],
    "metrics_key_env": "TG_KEY_METRICS",
    "keys": [
        {"name": "team", "key_env": "TG_KEY_TEAM", "models": ["thinkgate/auto*"], "max_n": 1,
         "requests_per_minute": 4},
        {"name": "tiny", "key_env": "TG_KEY_TINY", "tokens_per_day": 50},
    ],
}  # fmt: skip


@pytest.fixture
def gateways(
    replay: ReplayUpstream,
    redis_ledger_url: str,
    gateway_factory: Callable[..., RunningGateway],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[RunningGateway, RunningGateway]:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    config = base_config(replay.base_url, redis_ledger_url, auth=AUTH)
    return gateway_factory(config), gateway_factory(config)


def chat(
    gw: RunningGateway, key: str, model: str = "thinkgate/auto", **extra: Any
) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": EASY}], **extra}
    headers = {"authorization": f"Bearer {KEYS[key]}"}
    return httpx.post(f"{gw.base_url}/chat/completions", json=body, headers=headers, timeout=30)


def test_a_key_may_only_use_its_models_and_n(
    gateways: tuple[RunningGateway, RunningGateway],
) -> None:
    a, _ = gateways
    for model in ("thinkgate/think", "QwQ-32B"):
        refused = chat(a, "TG_KEY_TEAM", model)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "permission_denied"
    assert chat(a, "TG_KEY_TEAM", "thinkgate/auto", n=2).status_code == 400
    assert chat(a, "TG_KEY_LEGACY", "thinkgate/think").status_code == 200
    route = httpx.post(f"{a.base_url}/route", json={"model": "thinkgate/think", "prompt": HARD},
                       headers={"authorization": f"Bearer {KEYS['TG_KEY_TEAM']}"})  # fmt: skip
    assert route.status_code == 403


def test_requests_per_minute_are_shared_by_replicas(
    gateways: tuple[RunningGateway, RunningGateway],
) -> None:
    a, b = gateways
    # The 403 and 400 of a refused model do not count: admission comes after those checks.
    statuses = [chat(gw, "TG_KEY_TEAM").status_code for gw in (a, b, a, b, a)]
    if statuses[-1] == 200:  # the minute turned over mid-test: the count restarted
        statuses = [chat(gw, "TG_KEY_TEAM").status_code for gw in (a, b, a, b, a)]
    assert statuses.count(200) == 4 and statuses[-1] == 429
    limited = chat(b, "TG_KEY_TEAM")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(limited.headers["retry-after"]) <= 60


def test_tokens_per_day_are_counted_after_each_answer(
    gateways: tuple[RunningGateway, RunningGateway],
) -> None:
    a, b = gateways
    assert chat(a, "TG_KEY_TINY", "thinkgate/direct").status_code == 200  # > 50 tokens used
    over = chat(b, "TG_KEY_TINY", "thinkgate/direct")
    assert over.status_code == 429 and over.json()["error"]["code"] == "tokens_exceeded"
    assert int(over.headers["retry-after"]) <= 86_400


def test_metrics_and_the_api_description_need_the_metrics_key(
    gateways: tuple[RunningGateway, RunningGateway],
) -> None:
    a, _ = gateways
    for path in ("/metrics", "/openapi.json"):
        assert httpx.get(f"{a.url}{path}").status_code == 401
        wrong = {"authorization": f"Bearer {KEYS['TG_KEY_TEAM']}"}
        assert httpx.get(f"{a.url}{path}", headers=wrong).status_code == 403
        right = {"authorization": f"Bearer {KEYS['TG_KEY_METRICS']}"}
        assert httpx.get(f"{a.url}{path}", headers=right).status_code == 200


def test_the_other_endpoints_check_the_key_too(
    gateways: tuple[RunningGateway, RunningGateway],
) -> None:
    a, _ = gateways
    headers = {"authorization": f"Bearer {KEYS['TG_KEY_TEAM']}"}
    forced = {"model": "thinkgate/think", "input": EASY}
    assert httpx.post(f"{a.base_url}/responses", json=forced, headers=headers).status_code == 403
    text = {"model": "QwQ-32B", "prompt": EASY}
    assert httpx.post(f"{a.base_url}/completions", json=text, headers=headers).status_code == 403


def test_a_spend_budget_counts_each_answers_cost(
    replay: ReplayUpstream,
    gateway_factory: Callable[..., RunningGateway],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TG_KEY_SPENDER", "tg-spender-0123456789")
    auth = {"keys": [{"name": "spender", "key_env": "TG_KEY_SPENDER", "budget": 0.002,
                      "budget_period": "total"}]}  # fmt: skip
    config = base_config(replay.base_url, f"sqlite:///{tmp_path}/ledger.db", auth=auth)
    config["profiles"]["direct"].update(price_in=1e-5, price_out=1e-4)
    gw = gateway_factory(config)
    headers = {"authorization": "Bearer tg-spender-0123456789"}
    body = {"model": "thinkgate/direct", "messages": [{"role": "user", "content": EASY}]}
    spent, answered = 0.0, 0
    for _ in range(20):  # each answer costs over 1e-4: the budget ends well before
        resp = httpx.post(f"{gw.base_url}/chat/completions", json=body, headers=headers)
        if resp.status_code != 200:
            break
        answered += 1
        request_id = resp.headers["x-thinkgate-request-id"]
        record = next(r for r in gw.records() if r.request_id == request_id)
        # The spend is the record's cost, at the profile's prices.
        assert record.cost == pytest.approx(
            record.prompt_tokens * 1e-5 + record.completion_tokens * 1e-4
        )
        spent += record.cost
    assert resp.status_code == 429 and resp.json()["error"]["code"] == "budget_exceeded"
    assert answered >= 1 and spent >= 0.002 and spent - record.cost < 0.002


def test_records_carry_the_key_name_and_savings_break_down_by_key(
    gateways: tuple[RunningGateway, RunningGateway],
) -> None:
    a, b = gateways
    sent = {"team": [chat(a, "TG_KEY_TEAM"), chat(b, "TG_KEY_TEAM")],
            "default": [chat(b, "TG_KEY_LEGACY", "thinkgate/direct")]}  # fmt: skip
    ids = {name: {r.headers["x-thinkgate-request-id"] for r in rs} for name, rs in sent.items()}
    assert all(r.status_code == 200 for rs in sent.values() for r in rs)
    records = {r.request_id: r for r in a.records()}
    for name, request_ids in ids.items():
        assert {records[i].key for i in request_ids} == {name}
    # The name, never the key itself.
    assert not any(secret in records[i].dumps() for i in records for secret in KEYS.values())
    legacy = {"authorization": f"Bearer {KEYS['TG_KEY_LEGACY']}"}
    by_key = httpx.get(f"{b.base_url}/savings", headers=legacy, timeout=30).json()["by_key"]
    assert set(by_key) == {"team", "default"}  # one Redis ledger: both replicas' requests
    for name, request_ids in ids.items():
        mine = [records[i] for i in request_ids]
        assert by_key[name]["requests"] == len(mine)
        assert by_key[name]["completion_tokens"] == sum(r.completion_tokens for r in mine)
        assert by_key[name]["prompt_tokens"] == sum(r.prompt_tokens for r in mine)
        saved = sum(r.saved_tokens_estimate for r in mine)
        assert by_key[name]["saved_estimate"] == pytest.approx(saved, abs=0.01)
