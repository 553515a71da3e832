"""The front door against slow and malformed clients: the gateway's own body deadline, and
deploy/nginx.conf in front of it (slow headers, idle connections and CL+TE never reach it)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.replay import ReplayUpstream
from tests.router.conftest import RunningGateway, base_config, start_gateway, stop_process

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture(scope="module")
def gw(
    replay: ReplayUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    db = tmp_path_factory.mktemp("front-door") / "ledger.db"
    config = base_config(replay.base_url, f"sqlite:///{db}",
                         limits={"body_timeout_s": 1.0})  # fmt: skip
    gateway = start_gateway(config)
    yield gateway
    gateway.server.stop()


def _closed(sock: socket.socket, within: float) -> tuple[bytes, bool]:
    """What the server sent, and whether it closed the connection within `within` seconds."""
    sock.settimeout(within)
    data = b""
    try:
        while part := sock.recv(65536):
            data += part
        return data, True
    except TimeoutError:
        return data, False
    except ConnectionResetError:
        return data, True


def _trickle(sock: socket.socket) -> bytes:
    """A body byte every half second (more often than any per-read timeout), never the whole
    body, until the server answers; what it answered so far."""
    sock.settimeout(0.5)
    for _ in range(12):
        try:
            if data := sock.recv(65536):
                return data
        except TimeoutError:
            pass
        try:
            sock.sendall(b" ")
        except OSError:
            break
    return b""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_trickled_body_is_a_408_and_the_connection_closes(gw: RunningGateway) -> None:
    with socket.create_connection((gw.server.host, gw.server.port)) as sock:
        sock.sendall(b"POST /v1/route HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{")  # fmt: skip
        first = _trickle(sock)
        rest, closed = _closed(sock, 10.0)
        data = first + rest
    assert data.startswith(b"HTTP/1.1 408 ")
    assert b'"code":"request_timeout"' in data and closed


@pytest.fixture(scope="module")
def nginx(gw: RunningGateway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """deploy/nginx.conf in front of the gateway, its timeouts cut to 1 s for the test."""
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    tmp = tmp_path_factory.mktemp("nginx")
    port = _free_port()
    site = (DEPLOY / "nginx.conf").read_text()
    site = site.replace("server gateway:8000 resolve;", f"server 127.0.0.1:{gw.server.port};")
    site = site.replace("listen 8000;", f"listen 127.0.0.1:{port};")
    site = site.replace("_timeout 10s;", "_timeout 1s;").replace(
        "keepalive_timeout 30s", "keepalive_timeout 1s"
    )
    site = "\n".join(line for line in site.splitlines() if not line.startswith("resolver"))
    (tmp / "site.conf").write_text(site)
    (tmp / "nginx.conf").write_text(
        f"worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/error.log warn;\n"
        "events { worker_connections 256; }\n"
        f"http {{ access_log off; client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;"
        f" include {tmp}/site.conf; }}\n"
    )
    proc = subprocess.Popen(["nginx", "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    stop_process(proc)


@pytest.mark.parametrize("kind", ["headers", "idle"])
def test_nginx_closes_slow_header_and_idle_connections(nginx: int, kind: str) -> None:
    with socket.create_connection(("127.0.0.1", nginx)) as sock:
        if kind == "headers":
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Slow: ")
        _, closed = _closed(sock, 10.0)
    assert closed


def test_nginx_refuses_content_length_with_transfer_encoding(nginx: int) -> None:
    body = b'{"prompt": "What is 2 + 3?"}'
    with socket.create_connection(("127.0.0.1", nginx)) as sock:
        sock.sendall(b"POST /v1/route HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")  # fmt: skip
        data, closed = _closed(sock, 10.0)
    assert data.startswith(b"HTTP/1.1 400 ") and closed


def test_nginx_relays_a_stream(nginx: int) -> None:
    import httpx

    from tests.router.conftest import EASY

    body = {"model": "thinkgate/direct", "stream": True,
            "messages": [{"role": "user", "content": EASY}]}  # fmt: skip
    with httpx.stream("POST", f"http://127.0.0.1:{nginx}/v1/chat/completions", json=body,
                      timeout=30) as resp:  # fmt: skip
        lines = [line for line in resp.iter_lines() if line.startswith("data: ")]
    assert resp.status_code == 200 and lines[-1] == "data: [DONE]" and len(lines) > 3


def test_nginx_closes_a_trickled_body_with_the_gateways_408(nginx: int) -> None:
    with socket.create_connection(("127.0.0.1", nginx)) as sock:
        sock.sendall(b"POST /v1/route HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{")  # fmt: skip
        first = _trickle(sock)
        rest, closed = _closed(sock, 10.0)
        data = first + rest
    assert data.startswith(b"HTTP/1.1 408 ") and closed
