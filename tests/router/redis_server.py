"""A redis-server process of a test's own, on a free port, that the test can kill, restart,
stall (SIGSTOP) and resume: the store failures the ledger must survive."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import redis

__all__ = ["RedisServer"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """`with RedisServer(tmp) as r:` a fresh Redis at `r.url`; `kill()`, `start()`, `stall()`,
    `resume()`. Every write is fsynced to an append-only file, so a killed server comes back
    with everything it acknowledged (as a production Redis holding the ledger is set up)."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.stalled = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Self:
        """Start the server (again) on its port and wait until it answers."""
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        return self

    def kill(self) -> None:
        """SIGKILL: the store disappears mid-flight (connections reset, then refused)."""
        if self.process is not None:
            if self.stalled:
                self.resume()
            self.process.kill()
            self.process.wait()
            self.process = None

    def stall(self) -> None:
        """SIGSTOP: connections still open, nothing answers."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        self.stalled = True

    def resume(self) -> None:
        """SIGCONT after a stall."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)
        self.stalled = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
