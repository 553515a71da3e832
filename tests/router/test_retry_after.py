"""An upstream's Retry-After: waited out when short (then the retry succeeds), passed on to the
caller when longer than a retry may wait. The upstream is a small real HTTP endpoint that rate
limits the first calls, then answers like an OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from router.replay.server import ReplayUpstream
from router.server_thread import ServerThread
from router.upstream_errors import retry_after_s
from tests.router.conftest import EASY, RunningGateway, base_config


class Limited:
    """Answers 429 with `retry_after` to the next `refusals` calls, then a completion."""

    def __init__(self) -> None:
        self.refusals = 0
        self.retry_after = "1"
        self.calls = 0

    async def answer(self, request: Request) -> JSONResponse:
        self.calls += 1
        if self.refusals > 0:
            self.refusals -= 1
            body = {
                "error": {"message": "slow down, sk-secret-leaked-123456", "type": "rate_limit"}
            }
            return JSONResponse(body, 429, headers={"retry-after": self.retry_after})
        return JSONResponse({
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "72"}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        })  # fmt: skip


@pytest.fixture(scope="module")
def limited() -> Iterator[tuple[Limited, str]]:
    handler = Limited()
    app = Starlette(routes=[Route("/v1/chat/completions", handler.answer, methods=["POST"])])
    with ServerThread(app) as server:
        yield handler, f"{server.url}/v1"


@pytest.fixture
def gw(limited: tuple[Limited, str], gateway_factory: Any, tmp_path: Any) -> RunningGateway:
    _, base = limited
    config = base_config(base, f"sqlite:///{tmp_path}/ledger.db")
    config["profiles"]["direct"]["retries"] = 2
    return gateway_factory(config)


def _ask(gw: RunningGateway) -> httpx.Response:
    body = {"model": "thinkgate/direct", "messages": [{"role": "user", "content": EASY}]}
    return httpx.post(f"{gw.base_url}/chat/completions", json=body, timeout=30)


def test_a_short_retry_after_is_waited_out(
    gw: RunningGateway, limited: tuple[Limited, str]
) -> None:
    handler, _ = limited
    handler.refusals, handler.retry_after, handler.calls = 1, "1", 0
    resp = _ask(gw)
    assert resp.status_code == 200 and handler.calls == 2


def test_a_long_retry_after_is_passed_on_without_retrying(
    gw: RunningGateway, limited: tuple[Limited, str]
) -> None:
    handler, _ = limited
    handler.refusals, handler.retry_after, handler.calls = 5, "30", 0
    resp = _ask(gw)
    assert resp.status_code == 429 and handler.calls == 1
    assert resp.headers["retry-after"] == "30"
    error = resp.json()["error"]
    assert error["code"] == "rate_limited" and "sk-secret" not in resp.text


def test_a_long_retry_after_moves_on_to_the_fallback_at_once(
    limited: tuple[Limited, str], replay: ReplayUpstream, gateway_factory: Any, tmp_path: Any
) -> None:
    handler, base = limited
    config = base_config(base, f"sqlite:///{tmp_path}/ledger.db")
    config["profiles"]["direct"].update(retries=2, fallbacks=["think"])
    config["profiles"]["think"]["api_base"] = replay.base_url
    gw = gateway_factory(config)
    handler.refusals, handler.retry_after, handler.calls = 5, "30", 0
    resp = _ask(gw)
    # The Router's retries on `direct` replay its refusal without asking again or waiting.
    assert resp.status_code == 200 and handler.calls == 1
    assert resp.headers["x-thinkgate-profile"] == "think"


def test_a_long_retry_after_moves_on_to_a_sibling_deployment(
    limited: tuple[Limited, str], replay: ReplayUpstream, gateway_factory: Any, tmp_path: Any
) -> None:
    handler, base = limited
    config = base_config(base, f"sqlite:///{tmp_path}/ledger.db")
    deployments = [{"api_base": base}, {"api_base": replay.base_url}]
    config["profiles"]["direct"].update(retries=2, deployments=deployments)
    gw = gateway_factory(config)
    handler.refusals, handler.retry_after, handler.calls = 100, "30", 0
    for _ in range(6):
        before = handler.calls
        assert _ask(gw).status_code == 200
        assert handler.calls - before <= 1  # the refusing deployment is never asked twice
    handler.refusals = 0


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [({"retry-after": "7"}, 7.0), ({"retry-after-ms": "250"}, 0.25),
     ({"retry-after": "soon"}, None), ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
     ({}, None)],
)  # fmt: skip
def test_retry_after_headers_are_read(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_s(headers) == seconds
