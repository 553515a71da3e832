"""Process helpers the benchmark programs share: free ports, readiness, RSS and CPU of a server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "BENCH_ENV",
    "CLI",
    "RedisProcess",
    "free_port",
    "wait_ready",
    "rss_mb",
    "cpu_s",
    "stop",
    "start_nginx",
]

BENCH_ENV = dict(
    os.environ,
    HF_HUB_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    LITELLM_LOCAL_MODEL_COST_MAP="True",
    TOKENIZERS_PARALLELISM="false",
)
CLI = [sys.executable, "-m", "router.cli"]


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 300.0) -> None:
    """Poll `url` until it answers 200; exit with the process's stderr tail if it dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            raise SystemExit(f"{url}: process exited with {proc.returncode}\n{tail}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url}: not ready after {timeout:.0f} s")


def _tree(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found.extend(_tree(int(child)))
    return found


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory in MB of a process and its children, summed."""
    now = peak = 0.0
    for p in _tree(pid):
        fields = {}
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        now += int(fields["VmRSS"].split()[0]) / 1024
        peak += int(fields["VmHWM"].split()[0]) / 1024
    return now, peak


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children."""
    total = 0.0
    for p in _tree(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Terminate a process this program started; kill it if it lingers."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class RedisProcess:
    """A redis-server of the benchmark's own on a free port; every write fsynced to an
    append-only file, so a kill -9 loses nothing Redis acknowledged."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)


def start_nginx(tmp: Path, backend: int, port: int, read_timeout: float | None = None) -> Any:
    """deploy/nginx.conf in front of 127.0.0.1:`backend`, listening on `port` (its client
    timeouts set to `read_timeout` seconds when given); the nginx process, once it listens."""
    site = (Path(__file__).resolve().parents[1] / "deploy" / "nginx.conf").read_text()
    site = site.replace("server gateway:8000 resolve;", f"server 127.0.0.1:{backend};")
    site = site.replace("listen 8000;", f"listen 127.0.0.1:{port};")
    if read_timeout is not None:
        t = f"{read_timeout:g}s;"
        site = site.replace("client_header_timeout 10s;", f"client_header_timeout {t}")
        site = site.replace("client_body_timeout 10s;", f"client_body_timeout {t}")
    site = "\n".join(line for line in site.splitlines() if not line.startswith("resolver"))
    (tmp / "site.conf").write_text(site)
    (tmp / "nginx.conf").write_text(
        f"worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/nginx.log warn;\n"
        "events { worker_connections 4096; }\n"
        f"http {{ access_log off; client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;"
        f" include {tmp}/site.conf; }}\n"
    )
    proc = subprocess.Popen(["nginx", "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nginx did not start")
