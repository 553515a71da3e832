"""Real servers for the gateway tests: the replay upstream, the gateway itself, and ledgers.

The replay upstream is thinkgate's own OpenAI-compatible server answering from recorded
outputs (the only fake: it stands where the LLM endpoint would). The gateway runs under
uvicorn on a free port; ledgers are a temporary SQLite file or the real Redis with a unique
prefix removed afterwards.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from difficulty.outcomes import Outcome
from router.app import create_app
from router.replay.server import ReplayUpstream
from router.server_thread import ServerThread
from router.settings import Settings, settings_from_mapping

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REDIS_URL = "redis://127.0.0.1:6379/0"


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Terminate a server process the test started; kill it if it does not exit in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


EASY = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
    "to her friends in May. How many clips did Natalia sell altogether in April and May?"
)
HARD = (
    "Let $f(x) = x^4 - 4x^3 + 6x^2 - 4x$. Find the minimum value of $f(x)$ over all real "
    "numbers $x$, and give the sum of all $x$ at which it is attained."
)
PROMPTS = (EASY, HARD)

_REASONING = {
    EASY: (
        "Okay, Natalia sold 48 clips in April. In May she sold half as many, so 48 / 2 = 24. "
        "Altogether that is 48 + 24 = 72. Let me make sure: April 48, May 24, total 72."
    ),
    HARD: (
        "Note that f(x) = (x - 1)^4 - 1. The fourth power is at least zero, so the minimum is "
        "-1, attained only at x = 1. So the sum of the x values is 1."
    ),
}
_ANSWER = {EASY: "Natalia sold 72 clips. The answer is \\boxed{72}.", HARD: "\\boxed{-1}, at x=1."}


def replay_rows() -> list[Outcome]:
    """Recorded outputs for the two replay profiles: Qwen2.5-32B (direct) and QwQ-32B (thinking)."""
    rows: list[Outcome] = []
    for i, prompt in enumerate(PROMPTS):
        rows.append(
            Outcome(
                id=f"t-{i}",
                prompt=prompt,
                profile="Qwen2.5-32B",
                correct=True,
                tokens=20,
                response=_ANSWER[prompt],
            )
        )
        rows.append(
            Outcome(
                id=f"t-{i}",
                prompt=prompt,
                profile="QwQ-32B",
                correct=True,
                tokens=80,
                reasoning=_REASONING[prompt],
                response=_ANSWER[prompt],
            )
        )
    return rows


@pytest.fixture(scope="session")
def replay() -> Iterator[ReplayUpstream]:
    """The replay upstream, as fast as it can stream."""
    with ReplayUpstream(replay_rows()) as upstream:
        yield upstream


def _spool_path() -> str:
    import tempfile

    return str(Path(tempfile.mkdtemp(prefix="thinkgate-spool-")) / "spool.db")


def base_config(api_base: str, ledger_url: str, **overrides: Any) -> dict[str, Any]:
    """A gateway config for the replay upstream: direct -> Qwen2.5-32B, think -> QwQ-32B."""
    config: dict[str, Any] = {
        "profiles": {
            "direct": {
                "model": "openai/Qwen2.5-32B",
                "api_base": api_base,
                "predictor": "Qwen2.5-32B",
                "max_tokens": 2048,
                "retries": 1,
            },
            "think": {
                "model": "openai/QwQ-32B",
                "api_base": api_base,
                "predictor": "QwQ-32B",
                "max_tokens": 8192,
                "retries": 1,
                "aliases": ["qwq"],
            },
        },
        "policy": {"kind": "target", "epsilon": 0.05},
        "targets": {"accurate": {"kind": "fixed", "profile": "think"}},
        "reference_profile": "think",
        # A Redis ledger's spool goes to a file of the test's own, never the working directory.
        "ledger": {"url": ledger_url, "spool": {"path": _spool_path()}},
        # No background second answers unless a test asks: they would move upstream counters.
        "exploration": {"share": 0.0},
    }

    for key, value in overrides.items():
        config[key] = value
    return config


@dataclass
class RunningGateway:
    """A gateway served on a free port."""

    server: ServerThread
    settings: Settings

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/v1"

    def records(self) -> list[Any]:
        """Every ledger record so far, read through a separate connection to the store."""
        return read_records(self.settings.ledger.url)


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.05) -> bool:
    """Poll until `predicate` holds or the time runs out (servers settle on their own threads)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def read_records(url: str) -> list[Any]:
    """Every record in the ledger at `url` (opened, read and closed here)."""
    import asyncio

    from router.ledger.base import open_ledger

    async def read() -> list[Any]:
        ledger = open_ledger(url)
        try:
            return await ledger.records()
        finally:
            await ledger.close()

    return asyncio.run(read())


def start_gateway(config: dict[str, Any]) -> RunningGateway:
    """Validate `config`, build the app, serve it; the caller stops it."""
    settings = settings_from_mapping(config)
    app = create_app(settings)
    server = ServerThread(app, start_timeout=120).start()
    return RunningGateway(server, settings)


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    """Start gateways with custom configs; all are stopped after the test."""
    started: list[RunningGateway] = []

    def make(config: dict[str, Any]) -> RunningGateway:
        gw = start_gateway(config)
        started.append(gw)
        return gw

    yield make
    for gw in started:
        gw.server.stop()


@pytest.fixture(scope="session")
def gateway(
    replay: ReplayUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    """The default gateway: replay upstream, SQLite ledger in a temp dir, no auth."""
    db = tmp_path_factory.mktemp("ledger") / "ledger.db"
    gw = start_gateway(base_config(replay.base_url, f"sqlite:///{db}"))
    yield gw
    gw.server.stop()


@pytest.fixture
def redis_ledger_url() -> Iterator[str]:
    """A Redis ledger URL with a unique prefix; its keys are deleted afterwards."""
    import redis

    prefix = f"thinkgate-test-{uuid.uuid4().hex[:12]}"
    yield f"{REDIS_URL}?prefix={prefix}"
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
