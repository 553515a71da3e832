"""Described profiles through the gateway: the general model routes, novelty is reported in
/v1/route, the response headers, the ledger, /metrics and /v1/savings, and its policy acts."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.app import load_predictor
from router.novelty import NoveltySettings, is_novel
from router.pipeline import Pipeline
from router.replay.server import ReplayUpstream
from router.settings import load_settings, settings_from_mapping
from tests.router.conftest import EASY, base_config

ROOT = Path(__file__).resolve().parents[2]
AIME = json.loads((ROOT / "bench/data/competition_math.jsonl").read_text().split("\n")[0])["prompt"]
FOREIGN = "東京の天気はどうですか"  # a script the static token table never saw


def _described(api_base: str, ledger: str, **overrides: Any) -> dict[str, Any]:
    config = base_config(api_base, ledger, **overrides)
    for name, effort in (("direct", "direct"), ("think", "think")):
        profile = config["profiles"][name]
        profile.pop("predictor")
        profile.update(effort=effort, strength="strong")
    config["policy"] = {"kind": "target", "epsilon": 0.03}
    return config


def _route(pipeline: Pipeline, prompt: str) -> Any:
    return asyncio.run(pipeline.route("thinkgate/auto", prompt))


def test_example_config_sends_a_greeting_direct_and_aime_to_think() -> None:
    settings = load_settings(ROOT / "router/configs/replay.yaml")
    pipeline = Pipeline(settings, load_predictor(settings))
    try:
        hello, aime = _route(pipeline, "hello"), _route(pipeline, AIME)
        assert (hello.profile, aime.profile) == ("direct", "think")
        assert set(aime.predictions) == {"direct", "think", "search"}
        assert aime.novelty is not None and not aime.novel
        assert _route(pipeline, FOREIGN).novel
    finally:
        pipeline.close()


def test_novelty_policy_sends_novel_prompts_to_the_reference() -> None:
    config = _described("http://127.0.0.1:9/v1", "sqlite:///unused.db")
    config["novelty"] = {"action": "reference"}
    settings = settings_from_mapping(config)
    pipeline = Pipeline(settings, load_predictor(settings))
    try:
        routed = _route(pipeline, FOREIGN)
        assert routed.novel and routed.profile == "think"
        assert routed.decision.reason.startswith("novel prompt (novelty")
        familiar = _route(pipeline, EASY)  # familiar: the policy decides
        assert not familiar.novel and familiar.decision.reason.startswith("target")
    finally:
        pipeline.close()


def test_is_novel_prefers_the_configured_threshold() -> None:
    assert is_novel(0.5, 0.4, NoveltySettings())
    assert not is_novel(0.5, 0.4, NoveltySettings(threshold=0.6))
    assert not is_novel(None, 0.4, NoveltySettings())


@pytest.fixture
def described_gateway(
    replay: ReplayUpstream, gateway_factory: Any, tmp_path: Path
) -> tuple[Any, Path]:
    db = tmp_path / "ledger.db"
    return gateway_factory(_described(replay.base_url, f"sqlite:///{db}")), db


def test_route_headers_ledger_metrics_and_savings_report_novelty(
    described_gateway: tuple[Any, Path],
) -> None:
    gateway, db = described_gateway
    body = httpx.post(f"{gateway.url}/v1/route", json={"prompt": FOREIGN}).json()
    assert body["novel"] is True and body["novelty"] > 0.9
    familiar = httpx.post(f"{gateway.url}/v1/route", json={"prompt": EASY}).json()
    assert familiar["novel"] is False and 0 < familiar["novelty"] < body["novelty"]
    resp = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "thinkgate/auto", "messages": [{"role": "user", "content": EASY}]},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    assert float(resp.headers["x-thinkgate-novelty"]) == pytest.approx(
        familiar["novelty"], abs=1e-3
    )
    for _ in range(100):  # the record lands after the response
        savings = httpx.get(f"{gateway.url}/v1/savings").json()
        if savings["requests"]:
            break
        time.sleep(0.05)
    assert savings["novelty"] == {"scored": 1, "novel": 0, "share": 0.0}
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert "thinkgate_novelty_count 1.0" in metrics
    with sqlite3.connect(db) as conn:
        rows = [json.loads(r[0]) for r in conn.execute("SELECT record FROM ledger")]
    assert [r["novel"] for r in rows] == [False]
    assert rows[0]["novelty"] == pytest.approx(familiar["novelty"], abs=1e-3)
