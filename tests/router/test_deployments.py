"""Profiles with several deployments through a real gateway: litellm's Router balances them, sets
a failing one aside, retries after the Retry-After an endpoint asks for, and the gateway's error
is what the caller sees when every attempt failed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from router.deployments import endpoints, for_router
from router.errors import RateLimitedError, UpstreamRejectedError, UpstreamTimeoutError
from router.replay.server import ReplayUpstream
from router.server_thread import ServerThread
from router.settings import ProfileSettings
from tests.router.conftest import EASY, RunningGateway, replay_rows

DEAD = "http://127.0.0.1:9/v1"  # the discard port: nothing listens, connections are refused


@pytest.fixture(scope="module")
def second() -> Iterator[ReplayUpstream]:
    with ReplayUpstream(replay_rows()) as upstream:
        yield upstream


def _config(deployments: list[dict[str, Any]], ledger: str, **profile: Any) -> dict[str, Any]:
    return {
        "profiles": {
            "direct": {
                "model": "openai/Qwen2.5-32B",
                "predictor": "Qwen2.5-32B",
                "deployments": deployments,
                "retries": 2,
                **profile,
            }
        },
        "reference_profile": "direct",
        "ledger": {"url": ledger},
        "load_balancing": {"allowed_fails": 0, "cooldown_s": 60},
    }


def _ask(gw: RunningGateway) -> httpx.Response:
    body = {"model": "thinkgate/direct", "messages": [{"role": "user", "content": EASY}]}
    return httpx.post(f"{gw.base_url}/chat/completions", json=body, timeout=60)


def test_a_profile_is_balanced_over_its_deployments(
    replay: ReplayUpstream, second: ReplayUpstream, gateway_factory: Any, tmp_path: Any
) -> None:
    deployments = [{"api_base": replay.base_url}, {"api_base": second.base_url}]
    gw = gateway_factory(_config(deployments, f"sqlite:///{tmp_path / 'l.db'}"))
    before = (replay.stats.requests, second.stats.requests)
    for _ in range(24):
        assert _ask(gw).status_code == 200
    served = (replay.stats.requests - before[0], second.stats.requests - before[1])
    assert sum(served) == 24
    assert min(served) >= 4, served  # simple-shuffle, equal weights: both take a share


def test_a_dead_deployment_is_retried_elsewhere_then_set_aside(
    replay: ReplayUpstream, gateway_factory: Any, tmp_path: Any
) -> None:
    deployments = [{"api_base": DEAD}, {"api_base": replay.base_url}]
    gw = gateway_factory(_config(deployments, f"sqlite:///{tmp_path / 'l.db'}"))
    before = replay.stats.requests
    for _ in range(12):
        response = _ask(gw)
        assert response.status_code == 200, response.text
        assert "72" in response.json()["choices"][0]["message"]["content"]
    assert replay.stats.requests == before + 12  # every answer came from the live one


def test_every_deployment_failing_is_the_gateways_502(gateway_factory: Any, tmp_path: Any) -> None:
    gw = gateway_factory(_config([{"api_base": DEAD}], f"sqlite:///{tmp_path / 'l.db'}"))
    response = _ask(gw)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_error"
    assert "profile 'direct'" in response.json()["error"]["message"]


def _rate_limited_once() -> FastAPI:
    """An OpenAI-compatible endpoint that answers its first request 429 with Retry-After: 1."""
    app = FastAPI()
    app.state.arrivals = []

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        app.state.arrivals.append(time.monotonic())
        await request.body()
        if len(app.state.arrivals) == 1:
            error = {"error": {"message": "slow down", "type": "rate_limit_error"}}
            return JSONResponse(error, status_code=429, headers={"retry-after": "1"})
        message = {"role": "assistant", "content": "The answer is 72."}
        usage = {"prompt_tokens": 30, "completion_tokens": 6, "total_tokens": 36}
        body = {"id": "x", "object": "chat.completion", "model": "m", "usage": usage,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}  # fmt: skip
        return JSONResponse(body)

    return app


def test_a_429_is_retried_after_the_retry_after_it_asked_for(
    gateway_factory: Any, tmp_path: Any
) -> None:
    app = _rate_limited_once()
    with ServerThread(app) as endpoint:
        config = _config([], f"sqlite:///{tmp_path / 'l.db'}", api_base=f"{endpoint.url}/v1")
        gw = gateway_factory(config)
        response = _ask(gw)
    assert response.status_code == 200, response.text
    first, second = app.state.arrivals
    assert second - first >= 1.0  # litellm's Router waited as long as the endpoint asked


def test_gateway_errors_keep_their_kind_through_the_router() -> None:
    import litellm

    limited = for_router(RateLimitedError("slow", retry_after=1.5), "openai/m")
    assert isinstance(limited, litellm.RateLimitError)
    assert limited.response.headers["retry-after"] == "2"
    assert isinstance(for_router(UpstreamTimeoutError("late"), "m"), litellm.Timeout)
    rejected = for_router(UpstreamRejectedError("bad"), "m")
    assert isinstance(rejected, litellm.BadRequestError)  # not retried by the Router
    assert rejected.thinkgate_error.message == "bad"  # type: ignore[attr-defined]


def test_deployments_inherit_what_they_leave_out() -> None:
    profile = ProfileSettings.model_validate(
        {
            "model": "openai/a",
            "api_base": "http://one/v1",
            "timeout_s": 7,
            "deployments": [{}, {"api_base": "http://two/v1", "model": "azure/a"}],
        }
    )
    first, other = endpoints(profile)
    assert (first.model, first.api_base, first.timeout_s) == ("openai/a", "http://one/v1", 7)
    assert (other.model, other.api_base, other.timeout_s) == ("azure/a", "http://two/v1", 7)
    assert endpoints(ProfileSettings(model="openai/b")) == [ProfileSettings(model="openai/b")]
