"""Upstream faults through a real gateway: retries, failover, 502/504, broken streams, disconnects.

Faults are injected by the replay upstream (server side, for the next request), so the gateway
sees real HTTP failures: error statuses, a server that never answers, a connection dropped
mid-body, a port nobody listens on.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from router.replay.server import ReplayUpstream
from tests.router.conftest import (
    EASY,
    HARD,
    RunningGateway,
    base_config,
    replay_rows,
    start_gateway,
    wait_for,
)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[ReplayUpstream, ReplayUpstream]]:
    """A fast replay for faults and a paced one (a real model's speed) for disconnects."""
    with (
        ReplayUpstream(replay_rows()) as fast,
        ReplayUpstream(replay_rows(), tokens_per_second=20) as paced,
    ):
        yield fast, paced


@pytest.fixture(scope="module")
def gw(
    upstreams: tuple[ReplayUpstream, ReplayUpstream], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    fast, paced = upstreams
    db = tmp_path_factory.mktemp("faults") / "ledger.db"
    config = base_config(fast.base_url, f"sqlite:///{db}")
    profiles: dict[str, Any] = config["profiles"]
    profiles["flaky"] = {
        "model": "openai/Qwen2.5-32B",
        "api_base": fast.base_url,
        "retries": 0,
        "fallbacks": ["think"],
    }
    profiles["dead"] = {
        "model": "openai/Qwen2.5-32B",
        "api_base": f"http://127.0.0.1:{_closed_port()}/v1",
        "retries": 1,
    }
    profiles["slow"] = {
        "model": "openai/QwQ-32B",
        "api_base": fast.base_url,
        "retries": 0,
        "timeout_s": 1.0,
    }
    profiles["paced"] = {"model": "openai/QwQ-32B", "api_base": paced.base_url, "retries": 0}
    profiles["paced-vote"] = {
        "model": "openai/QwQ-32B",
        "api_base": paced.base_url,
        "retries": 0,
        "search": {"max_samples": 3, "min_samples": 3, "wave": 3},
    }
    profiles["via-litellm"] = {
        "model": "openai/QwQ-32B",
        "api_base": fast.base_url,
        "retries": 1,
        "transport": "litellm",
    }
    gateway = start_gateway(config)
    yield gateway
    gateway.server.stop()


def _post(gw: RunningGateway, model: str, prompt: str = EASY, **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}
    return httpx.post(f"{gw.base_url}/chat/completions", json=body, timeout=30)


def _record(gw: RunningGateway, request_id: str) -> Any:
    return next(r for r in gw.records() if r.request_id == request_id)


def test_a_5xx_is_retried(
    gw: RunningGateway, upstreams: tuple[ReplayUpstream, ReplayUpstream]
) -> None:
    fast, _ = upstreams
    before = fast.stats.requests
    fast.schedule_fault("500")
    resp = _post(gw, "thinkgate/direct")
    assert resp.status_code == 200, resp.text
    assert "72" in resp.json()["choices"][0]["message"]["content"]
    assert fast.stats.requests == before + 2


def test_litellm_transport_retries_and_relays_reasoning(
    gw: RunningGateway, upstreams: tuple[ReplayUpstream, ReplayUpstream]
) -> None:
    fast, _ = upstreams
    fast.schedule_fault("503")
    resp = _post(gw, "thinkgate/via-litellm", HARD)
    assert resp.status_code == 200, resp.text
    message = resp.json()["choices"][0]["message"]
    assert "(x - 1)^4 - 1" in message["reasoning_content"]
    assert "-1" in message["content"]
    fast.schedule_fault("break-after=6")
    body = {
        "model": "thinkgate/via-litellm",
        "messages": [{"role": "user", "content": HARD}],
        "stream": True,
    }
    with httpx.stream("POST", f"{gw.base_url}/chat/completions", json=body, timeout=30) as streamed:
        events = [line[6:] for line in streamed.iter_lines() if line.startswith("data: ")]
    assert "error" in json.loads(events[-1])


def test_failover_to_the_fallback_profile(
    gw: RunningGateway, upstreams: tuple[ReplayUpstream, ReplayUpstream]
) -> None:
    fast, _ = upstreams
    fast.schedule_fault("503")
    resp = _post(gw, "thinkgate/flaky")
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-thinkgate-profile"] == "think"
    assert resp.json()["thinkgate"]["profile"] == "think"
    assert _record(gw, resp.headers["x-thinkgate-request-id"]).profile == "think"


def test_persistent_5xx_is_a_502(
    gw: RunningGateway, upstreams: tuple[ReplayUpstream, ReplayUpstream]
) -> None:
    fast, _ = upstreams
    fast.schedule_fault("500", count=2)
    resp = _post(gw, "thinkgate/direct")
    assert resp.status_code == 502
    error = resp.json()["error"]
    assert error["code"] == "upstream_error" and error["type"] == "api_error"
    record = _record(gw, resp.headers["x-thinkgate-request-id"])
    assert record.status == 502 and record.error


def test_persistent_5xx_before_a_stream_starts_is_a_502_too(
    gw: RunningGateway, upstreams: tuple[ReplayUpstream, ReplayUpstream]
) -> None:
    fast, _ = upstreams
    fast.schedule_fault("502", count=2)
    client = openai.OpenAI(base_url=gw.base_url, api_key="x", max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="thinkgate/direct", messages=[{"role": "user", "content": EASY}], stream=True
        )
    assert info.value.status_code == 502


def test_timeout_is_a_504(
    gw: RunningGateway, upstreams: tuple[ReplayUpstream, ReplayUpstream]
) -> None:
    fast, _ = upstreams
    fast.schedule_fault("timeout")
    resp = _post(gw, "thinkgate/slow")
    assert resp.status_code == 504, resp.text
    assert resp.json()["error"]["code"] == "upstream_timeout"
    record = _record(gw, resp.headers["x-thinkgate-request-id"])
    assert record.status == 504 and record.error == "upstream for profile 'slow' timed out"


def test_connection_refused_is_a_502(gw: RunningGateway) -> None:
    resp = _post(gw, "thinkgate/dead")
    assert resp.status_code == 502
    assert resp.json()["error"]["type"] == "api_error"
    streamed = _post(gw, "thinkgate/dead", stream=True)
    assert streamed.status_code == 502 and "error" in streamed.json()


def test_a_stream_broken_midway_ends_with_an_error_event(
    gw: RunningGateway, upstreams: tuple[ReplayUpstream, ReplayUpstream]
) -> None:
    fast, _ = upstreams
    fast.schedule_fault("break-after=6")
    body = {
        "model": "thinkgate/think",
        "messages": [{"role": "user", "content": HARD}],
        "stream": True,
    }
    # A stream that hung instead of ending would trip the client's timeout here.
    with httpx.stream("POST", f"{gw.base_url}/chat/completions", json=body, timeout=30) as resp:
        assert resp.status_code == 200
        rid = resp.headers["x-thinkgate-request-id"]
        events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert "[DONE]" not in events
    last = json.loads(events[-1])
    assert set(last["error"]) == {"message", "type", "param", "code"}
    assert last["error"]["code"] == "upstream_error"
    assert any("choices" in json.loads(e) for e in events[:-1])  # some text was relayed first
    record = _record(gw, rid)
    assert record.status == 502 and record.stream is True

    fast.schedule_fault("break-after=6")
    client = openai.OpenAI(base_url=gw.base_url, api_key="x", max_retries=0)
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(
            model="thinkgate/think", messages=[{"role": "user", "content": HARD}], stream=True
        ):
            pass


def test_a_non_streamed_request_broken_midway_is_asked_again(
    gw: RunningGateway, upstreams: tuple[ReplayUpstream, ReplayUpstream]
) -> None:
    fast, _ = upstreams
    fast.schedule_fault("break-after=6")
    resp = _post(gw, "thinkgate/think", HARD)
    assert resp.status_code == 200  # the caller had nothing yet: the answer was asked again
    assert "-1" in resp.json()["choices"][0]["message"]["content"]
    record = _record(gw, resp.headers["x-thinkgate-request-id"])
    assert record.status == 200 and record.completion_tokens > 0


def test_a_non_streamed_request_broken_twice_is_a_502(
    gw: RunningGateway, upstreams: tuple[ReplayUpstream, ReplayUpstream]
) -> None:
    fast, _ = upstreams
    fast.schedule_fault("break-after=6", count=2)
    resp = _post(gw, "thinkgate/think", HARD)
    assert resp.status_code == 502
    assert resp.json()["error"]["code"] == "upstream_error"


def test_client_disconnect_cancels_the_upstream_stream(
    gw: RunningGateway, upstreams: tuple[ReplayUpstream, ReplayUpstream]
) -> None:
    _, paced = upstreams
    before = paced.stats.disconnects
    body = {
        "model": "thinkgate/paced",
        "messages": [{"role": "user", "content": EASY}],
        "stream": True,
    }
    with httpx.stream("POST", f"{gw.base_url}/chat/completions", json=body, timeout=30) as resp:
        rid = resp.headers["x-thinkgate-request-id"]
        lines = resp.iter_lines()
        got = [next(lines) for _ in range(4)]
    assert any(line.startswith("data: ") for line in got)
    # The paced upstream would need ~4 s more; it must see the disconnect well before that.
    assert wait_for(lambda: paced.stats.disconnects > before, timeout=3.0)
    assert wait_for(lambda: any(r.request_id == rid for r in gw.records()), timeout=10.0)
    record = _record(gw, rid)
    assert record.status == 499 and record.completion_tokens < 60


def test_client_disconnect_cancels_a_non_streamed_call(
    gw: RunningGateway, upstreams: tuple[ReplayUpstream, ReplayUpstream]
) -> None:
    _, paced = upstreams
    before = paced.stats.disconnects
    body = {"model": "thinkgate/paced", "messages": [{"role": "user", "content": EASY}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{gw.base_url}/chat/completions", json=body, timeout=1.0)
    assert wait_for(lambda: paced.stats.disconnects > before, timeout=3.0)


def test_client_disconnect_cancels_a_running_search(
    gw: RunningGateway, upstreams: tuple[ReplayUpstream, ReplayUpstream]
) -> None:
    _, paced = upstreams
    before = paced.stats.disconnects
    body = {"model": "thinkgate/paced-vote", "messages": [{"role": "user", "content": EASY}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{gw.base_url}/chat/completions", json=body, timeout=1.0)
    # all three samples of the wave were generating; each one is cut off
    assert wait_for(lambda: paced.stats.disconnects >= before + 3, timeout=3.0)
    assert wait_for(lambda: gw.records()[-1].status == 499, timeout=10.0)


class _BurstEndpoint:
    """A raw HTTP/1.1 chat endpoint that sends a whole SSE body (CRLF lines) in one write, ends
    it in another, keeps connections alive and counts them."""

    def __init__(self, words: list[str]) -> None:
        events = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
        events += [{"choices": [{"index": 0, "delta": {"content": w}}]} for w in words]
        events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        events.append({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 5}})
        body = "".join(f"data: {json.dumps(e)}\r\n\r\n" for e in events) + "data: [DONE]\r\n\r\n"
        raw = body.encode()
        self.reply = (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n" + f"{len(raw):x}\r\n".encode() + raw + b"\r\n"
        )
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    buf += conn.recv(65536)
                buf = buf[length:]
                conn.sendall(self.reply)
                time.sleep(0.02)  # the body's end comes in a write of its own, as from a server
                conn.sendall(b"0\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


def test_events_arriving_together_are_all_relayed_and_the_connection_is_reused(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    words = ["The", " answer", " is", " 4", "."]
    endpoint = _BurstEndpoint(words)
    db = tmp_path_factory.mktemp("burst") / "ledger.db"
    config = base_config(endpoint.base_url, f"sqlite:///{db}")
    config["profiles"]["burst"] = {
        "model": "openai/Qwen2.5-32B",
        "api_base": endpoint.base_url,
        "retries": 0,
    }
    gateway = start_gateway(config)
    try:
        for _ in range(3):
            body = {
                "model": "thinkgate/burst",
                "messages": [{"role": "user", "content": EASY}],
                "stream": True,
            }
            url = f"{gateway.base_url}/chat/completions"
            with httpx.stream("POST", url, json=body, timeout=30) as resp:
                assert resp.status_code == 200
                rid = resp.headers["x-thinkgate-request-id"]
                events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
            assert events[-1] == "[DONE]"
            chunks = [json.loads(e) for e in events[:-1]]
            text = "".join(
                c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]
            )
            assert text == "".join(words)
            assert all(c["id"] == f"chatcmpl-{rid}" for c in chunks)
            assert all("usage" not in c for c in chunks)  # the caller did not ask for usage
            record = _record(gateway, rid)
            assert record.status == 200 and record.completion_tokens == 5
            assert record.tokens_counted is False
        # The body was read to its end after [DONE], so the pooled connection was kept.
        assert endpoint.connections == 1
    finally:
        gateway.server.stop()
        endpoint.close()
