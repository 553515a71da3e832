"""Bad input through a real gateway: every case a 4xx in OpenAI's error format (or a sane 200),
never a 500, and the keep-alive connection it arrived on still serves the next request."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from router.replay import ReplayUpstream
from tests.router.conftest import EASY, RunningGateway, base_config, start_gateway

ADMIN_KEY = "tg-test-admin-0123456789"


@pytest.fixture(scope="module")
def gw(
    replay: ReplayUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    import os

    os.environ["TG_BAD_INPUT_ADMIN"] = ADMIN_KEY
    db = tmp_path_factory.mktemp("bad-input") / "ledger.db"
    config = base_config(replay.base_url, f"sqlite:///{db}",
                         auth={"admin_key_env": "TG_BAD_INPUT_ADMIN"})  # fmt: skip
    gateway = start_gateway(config)
    yield gateway
    gateway.server.stop()


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        assert part, "the gateway closed the connection before answering"
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        part = sock.recv(65536)
        assert part
        body += part
    return int(lines[0].split()[1]), body[:length]


def exchange(gw: RunningGateway, request: bytes) -> tuple[int, bytes, int]:
    """Send `request`, then GET /healthz on the same connection: (status, body, healthz status)."""
    with socket.create_connection((gw.server.host, gw.server.port), timeout=30) as sock:
        sock.sendall(request)
        status, body = _read_response(sock)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
        follow, _ = _read_response(sock)
    return status, body, follow


def raw(method: str, path: str, body: bytes, *headers: str) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: gw", "Content-Type: application/json",
            f"Content-Length: {len(body)}", *headers]  # fmt: skip
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def deep(depth: int) -> bytes:
    return b'{"model": "thinkgate/auto", "messages": ' + b"[" * depth + b"]" * depth + b"}"


def chat(content: str, **extra: object) -> bytes:
    body = {"model": "thinkgate/auto", "messages": [{"role": "user", "content": content}], **extra}
    return json.dumps(body).encode()


BIG_INT = b"9" * 5000
CASES: dict[str, tuple[str, str, bytes, int]] = {
    "deep JSON, chat": ("POST", "/v1/chat/completions", deep(1_000), 400),
    "deep JSON, route": ("POST", "/v1/route", deep(1_000), 400),
    "deep JSON, feedback": ("POST", "/v1/feedback", deep(100_000), 400),
    "65 levels, chat": ("POST", "/v1/chat/completions", deep(65), 400),
    "5000-digit n": ("POST", "/v1/chat/completions",
                     chat(EASY).replace(b'"model"', b'"n": ' + BIG_INT + b', "model"'), 400),
    "5000-digit max_tokens, stream": ("POST", "/v1/chat/completions",
                                      chat(EASY, stream=True).replace(
                                          b'"model"', b'"max_tokens": ' + BIG_INT + b', "model"'),
                                      400),
    "5000-digit integer, route": ("POST", "/v1/route", b'{"prompt": "hi", "x": ' + BIG_INT + b"}",
                                  400),
    "5000-digit integer, feedback": ("POST", "/v1/feedback",
                                     b'{"request_id": ' + BIG_INT + b', "correct": true}', 400),
    "lone surrogate, route": ("POST", "/v1/route", b'{"prompt": "what is 2 + 2? \\ud800"}', 200),
    "lone surrogate in a model name": ("POST", "/v1/chat/completions",
                                       chat(EASY).replace(b"thinkgate/auto", b"\\udfff"), 404),
    "NaN temperature": ("POST", "/v1/chat/completions",
                        chat(EASY).replace(b'"model"', b'"temperature": NaN, "model"'), 400),
    "1e999 top_p": ("POST", "/v1/chat/completions",
                    chat(EASY).replace(b'"model"', b'"top_p": 1e999, "model"'), 400),
    "empty body": ("POST", "/v1/chat/completions", b"", 400),
    "not UTF-8": ("POST", "/v1/chat/completions", b'{"model": "\xff\xfe"}', 400),
    "an array body": ("POST", "/v1/chat/completions", b"[1, 2]", 400),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_a_4xx_and_the_connection_stays_open(gw: RunningGateway, case: str) -> None:
    method, path, body, expected = CASES[case]
    status, reply, follow = exchange(gw, raw(method, path, body))
    assert status == expected, reply[:300]
    assert follow == 200  # the keep-alive connection still serves
    if status >= 400:
        error = json.loads(reply)["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"]
        assert len(reply) < 2_000  # errors do not echo huge input back


@pytest.mark.parametrize("stream", [False, True])
def test_a_lone_surrogate_in_a_chat_message_is_answered(gw: RunningGateway, stream: bool) -> None:
    # The surrogate becomes U+FFFD before any tokenizer; the recorded prompt no longer matches,
    # so the replay upstream answers 404 and the gateway relays that as a 400: not a 500.
    body = chat(EASY + " X", stream=stream).replace(b' X"', b' \\ud800"')
    status, reply, follow = exchange(gw, raw("POST", "/v1/chat/completions", body))
    assert status in (200, 400), reply[:300]
    assert follow == 200


@pytest.mark.parametrize(
    "policy",
    [b'{"kind": "utility", "lam": Infinity}', b'{"kind": "utility", "lam": 1e999}',
     b'{"kind": "utility", "lam": 3.7e15}', b'{"kind": "target", "epsilon": 2.0}',
     b'{"kind": "utility", "lam": NaN}'],
)  # fmt: skip
def test_admin_policy_refuses_non_finite_and_absurd_numbers(
    gw: RunningGateway, policy: bytes
) -> None:
    request = raw("PUT", "/admin/policy", policy, f"Authorization: Bearer {ADMIN_KEY}")
    status, reply, follow = exchange(gw, request)
    assert status == 400, reply
    assert follow == 200
