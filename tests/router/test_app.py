"""The app around the chat endpoint: health, readiness, models, route, feedback, savings, auth."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from difficulty.level import difficulty_level
from difficulty.model import DEFAULT_MODEL_DIR, DifficultyModel
from policies.profiles import ProfileCost
from policies.routing import PolicyConfig, decide
from router.replay.server import ReplayUpstream
from tests.router.conftest import EASY, HARD, RunningGateway, base_config


def _assert_openai_error(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in resp.text
    return error


def test_health_and_readiness(gateway: RunningGateway) -> None:
    assert httpx.get(f"{gateway.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{gateway.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "model": True, "ledger": True}


def test_start_up_objects_are_frozen_out_of_garbage_collection(gateway: RunningGateway) -> None:
    # A full collection over the imports and the model would stall every stream (~0.2 s).
    import gc

    assert httpx.get(f"{gateway.url}/readyz").status_code == 200
    assert gc.get_freeze_count() > 100_000


def test_not_ready_while_the_ledger_is_unreachable(
    replay: ReplayUpstream, gateway_factory: Callable[..., RunningGateway]
) -> None:
    gw = gateway_factory(base_config(replay.base_url, "redis://127.0.0.1:1/0?prefix=nowhere"))
    resp = httpx.get(f"{gw.url}/readyz", timeout=30)
    assert resp.status_code == 503
    assert resp.json()["ledger"] is False and resp.json()["model"] is True
    # Requests are still answered while the ledger is down (the failed append is logged).
    client = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
    reply = client.chat.completions.create(
        model="thinkgate/direct", messages=[{"role": "user", "content": EASY}]
    )
    assert "72" in (reply.choices[0].message.content or "")


def test_models_lists_auto_targets_and_profiles(gateway: RunningGateway) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused")
    ids = {m.id for m in client.models.list()}
    assert {"thinkgate/auto", "thinkgate/auto?target=accurate"} <= ids
    assert {"thinkgate/direct", "thinkgate/think"} <= ids


def test_route_explains_without_calling_upstream(
    gateway: RunningGateway, replay: ReplayUpstream
) -> None:
    before = replay.stats.requests
    resp = httpx.post(f"{gateway.url}/v1/route", json={"prompt": HARD})
    assert resp.status_code == 200
    body = resp.json()
    # The shipped model's own forecasts, under the gateway's profile names, and the policy's
    # choice on them (the config's target policy, epsilon 0.05).
    model = DifficultyModel.load(DEFAULT_MODEL_DIR).predict_one(HARD)
    forecasts = {"direct": model["Qwen2.5-32B"], "think": model["QwQ-32B"]}
    for name, pred in forecasts.items():
        assert body["predictions"][name]["p_correct"] == pytest.approx(pred.p_correct)
        assert body["predictions"][name]["tokens"] == pytest.approx(pred.tokens)
    costs = {name: ProfileCost(name) for name in forecasts}
    expected = decide(PolicyConfig("target", epsilon=0.05), forecasts, costs, reference="think")
    assert (body["profile"], body["reason"]) == (expected.profile, expected.reason)
    assert body["expected"]["tokens"] == pytest.approx(expected.tokens)
    assert body["difficulty"] == difficulty_level(forecasts) and body["decision_ms"] > 0
    forced = httpx.post(
        f"{gateway.url}/v1/route",
        json={
            "model": "thinkgate/auto?target=accurate",
            "messages": [{"role": "user", "content": EASY}],
        },
    ).json()
    assert forced["profile"] == "think"
    assert replay.stats.requests == before


def test_route_rejects_bad_bodies(gateway: RunningGateway) -> None:
    _assert_openai_error(httpx.post(f"{gateway.url}/v1/route", json={"prompt": "  "}), 400)
    _assert_openai_error(httpx.post(f"{gateway.url}/v1/route", json={"prompt": 3}), 400)
    _assert_openai_error(
        httpx.post(f"{gateway.url}/v1/route", json={"prompt": "x", "model": "gpt-9"}), 404
    )


def test_feedback_labels_a_recorded_request_and_savings_count_it(gateway: RunningGateway) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused")
    before = httpx.get(f"{gateway.url}/v1/savings").json()
    raw = client.chat.completions.with_raw_response.create(
        model="thinkgate/direct", messages=[{"role": "user", "content": EASY}]
    )
    rid = raw.headers["x-thinkgate-request-id"]
    resp = httpx.post(f"{gateway.url}/v1/feedback", json={"request_id": rid, "correct": True})
    assert resp.status_code == 200 and resp.json()["correct"] is True
    after = httpx.get(f"{gateway.url}/v1/savings").json()
    assert after["feedback"]["labelled"] == before["feedback"]["labelled"] + 1
    assert after["estimate"] is True and after["requests"] == before["requests"] + 1
    direct = before["by_profile"].get("direct", {"requests": 0})
    assert after["by_profile"]["direct"]["requests"] == direct["requests"] + 1
    missing = httpx.post(
        f"{gateway.url}/v1/feedback", json={"request_id": "nope", "correct": False}
    )
    assert _assert_openai_error(missing, 404)["param"] == "request_id"
    wrong = httpx.post(f"{gateway.url}/v1/feedback", json={"request_id": rid, "correct": "yes"})
    _assert_openai_error(wrong, 400)


def test_feedback_sent_while_a_stream_runs_waits_for_its_record(
    gateway_factory: Callable[..., RunningGateway], tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.router.conftest import replay_rows

    db = tmp_path_factory.mktemp("feedback") / "ledger.db"
    # 40 tokens a second: the 24-token answer streams for ~0.6 s, so the record lands later
    # than the feedback sent as soon as the headers arrive.
    with ReplayUpstream(replay_rows(), tokens_per_second=40) as slow:
        gw = gateway_factory(base_config(slow.base_url, f"sqlite:///{db}"))
        body = {
            "model": "thinkgate/direct",
            "stream": True,
            "max_tokens": 24,
            "messages": [{"role": "user", "content": EASY}],
        }
        with httpx.stream("POST", f"{gw.url}/v1/chat/completions", json=body) as stream:
            rid = stream.headers["x-thinkgate-request-id"]
            resp = httpx.post(f"{gw.url}/v1/feedback", json={"request_id": rid, "correct": True})
            text = stream.read().decode()
    assert "[DONE]" in text
    assert resp.status_code == 200, resp.text
    labelled = httpx.get(f"{gw.url}/v1/savings").json()["feedback"]["labelled"]
    assert labelled == 1


def test_unknown_paths_and_methods_use_openai_errors(gateway: RunningGateway) -> None:
    _assert_openai_error(httpx.get(f"{gateway.url}/v1/nothing-here"), 404)
    _assert_openai_error(httpx.get(f"{gateway.url}/v1/chat/completions"), 405)
    _assert_openai_error(httpx.get(f"{gateway.url}/v1/savings?bucket_seconds=zero"), 400)


@pytest.fixture
def secured(
    replay: ReplayUpstream,
    gateway_factory: Callable[..., RunningGateway],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> RunningGateway:
    monkeypatch.setenv("TG_TEST_KEY_A", "sk-alpha")
    monkeypatch.setenv("TG_TEST_KEY_B", "sk-beta")
    monkeypatch.setenv("TG_TEST_ADMIN", "sk-admin")
    db = tmp_path_factory.mktemp("secured") / "ledger.db"
    auth = {"api_key_envs": ["TG_TEST_KEY_A", "TG_TEST_KEY_B"], "admin_key_env": "TG_TEST_ADMIN"}
    return gateway_factory(base_config(replay.base_url, f"sqlite:///{db}", auth=auth))


def test_api_keys_are_required(secured: RunningGateway) -> None:
    bad = openai.OpenAI(base_url=secured.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.chat.completions.create(
            model="thinkgate/auto", messages=[{"role": "user", "content": EASY}]
        )
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"
    _assert_openai_error(httpx.get(f"{secured.url}/v1/models"), 401)
    _assert_openai_error(httpx.post(f"{secured.url}/v1/route", json={"prompt": EASY}), 401)
    good = openai.OpenAI(base_url=secured.base_url, api_key="sk-beta")
    reply = good.chat.completions.create(
        model="thinkgate/direct", messages=[{"role": "user", "content": EASY}]
    )
    assert "72" in (reply.choices[0].message.content or "")
    assert httpx.get(f"{secured.url}/healthz").status_code == 200


def test_admin_policy_needs_the_admin_key_and_takes_effect(secured: RunningGateway) -> None:
    url = f"{secured.url}/admin/policy"
    policy = {"kind": "fixed", "profile": "direct"}
    _assert_openai_error(httpx.put(url, json=policy), 401)
    user = {"authorization": "Bearer sk-alpha"}
    _assert_openai_error(httpx.put(url, json=policy, headers=user), 403)
    admin = {"authorization": "Bearer sk-admin"}
    _assert_openai_error(
        httpx.put(url, json={"kind": "fixed", "profile": "ghost"}, headers=admin), 400
    )
    _assert_openai_error(httpx.put(url, json={"kind": "nonsense"}, headers=admin), 400)
    assert httpx.put(url, json=policy, headers=admin).status_code == 200
    routed = httpx.post(f"{secured.url}/v1/route", json={"prompt": HARD}, headers=user).json()
    assert routed["profile"] == "direct" and "fixed" in routed["reason"]
    assert httpx.get(url, headers=admin).json()["policy"]["profile"] == "direct"


def test_dashboard_and_metrics_are_mounted(gateway: RunningGateway) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused")
    client.chat.completions.create(
        model="thinkgate/direct", messages=[{"role": "user", "content": EASY}]
    )
    page = httpx.get(f"{gateway.url}/dashboard")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert 'thinkgate_requests_total{mode="forced",profile="direct",status="200"}' in metrics
    counts = re.findall(r"^thinkgate_decision_duration_seconds_count (\S+)$", metrics, re.M)
    assert counts and float(counts[0]) >= 1


def test_the_shipped_model_is_served_on_its_static_table(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from router.app import load_predictor
    from router.settings import Settings

    db = tmp_path_factory.mktemp("static") / "ledger.db"
    settings = Settings(**base_config("http://127.0.0.1:9/v1", f"sqlite:///{db}"))
    model = load_predictor(settings).named  # the config's `predictor` heads
    assert model.encoder_.single_backend() == "static"
    served = model.predict_one(HARD)
    exact = model.predict([HARD]).row(0)  # the batch path that training and figures use
    for name, pred in exact.items():
        assert served[name].p_correct == pytest.approx(pred.p_correct, abs=1e-6)


def test_a_minilm_model_is_served_on_the_int8_graph(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    import importlib.util
    import json
    import shutil

    from difficulty.model import DEFAULT_MODEL_DIR
    from router.app import load_predictor
    from router.settings import Settings

    root = tmp_path_factory.mktemp("int8")
    # The shipped model's boosters read 384 embedding dimensions, as MiniLM's: relabelled, it
    # stands in for a model trained on MiniLM.
    model_dir = root / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    meta = json.loads((model_dir / "metadata.json").read_text())
    meta["encoder"] = "all-MiniLM-L6-v2"
    (model_dir / "metadata.json").write_text(json.dumps(meta))
    ledger = f"sqlite:///{root / 'ledger.db'}"
    settings = Settings(**base_config("http://127.0.0.1:9/v1", ledger, model_dir=str(model_dir)))
    model = load_predictor(settings).named
    have_onnx = all(importlib.util.find_spec(m) for m in ("onnxruntime", "onnx"))
    assert model.encoder_.single_backend() == ("onnx-int8" if have_onnx else "numpy")
    served = model.predict_one(HARD)
    exact = model.predict([HARD]).row(0)  # the fp32 batch path
    for name, pred in exact.items():
        assert served[name].p_correct == pytest.approx(pred.p_correct, abs=0.03)


def test_no_request_waits_on_the_thread_pool() -> None:
    # FastAPI runs plain `def` endpoints and dependencies on its thread pool; under streaming load
    # each such hop waited milliseconds for the GIL before the request began.
    import inspect

    from fastapi.dependencies.models import Dependant
    from fastapi.routing import APIRoute

    from router.app import create_app
    from router.settings import settings_from_mapping

    settings = settings_from_mapping(base_config("http://127.0.0.1:9/v1", "sqlite:///:memory:"))
    app = create_app(settings)

    def calls(dependant: Dependant) -> Iterator[Callable[..., object]]:
        if dependant.call is not None:
            yield dependant.call
        for sub in dependant.dependencies:
            yield from calls(sub)

    def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            inner = getattr(route, "original_router", None)  # included routers (FastAPI >= 0.165)
            if inner is not None:
                yield from api_routes(inner.routes)

    routes = list(api_routes(app.routes))
    assert any(r.path == "/v1/chat/completions" for r in routes)
    sync = {
        f"{route.path}: {call.__name__}"
        for route in routes
        for call in calls(route.dependant)
        if not inspect.iscoroutinefunction(call)
    }
    assert not sync
