"""`thinkgate replay-upstream` as a real process serving a bundled dataset and a user's file."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from difficulty.datasets import load_dataset
from difficulty.outcomes import Outcome, write_outcomes
from difficulty.tokens import count_tokens
from router.cli import main


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    command = [sys.executable, "-m", "router.cli", "replay-upstream", *args, "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"replay-upstream exited: {process.stdout.read()}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("replay-upstream did not start")


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def mip_upstream() -> Iterator[str]:
    process, url = _start("--dataset", "mip-gsm8k", "--alias", "think=QwQ-32B")
    yield url
    _stop(process)


def test_serves_a_bundled_dataset_recording_verbatim(mip_upstream: str) -> None:
    row = next(r for r in load_dataset("mip-gsm8k") if r.profile == "QwQ-32B" and r.reasoning)
    client = openai.OpenAI(base_url=f"{mip_upstream}/v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="think",
        messages=[{"role": "user", "content": row.prompt}],
        stream=True,
        stream_options={"include_usage": True},
    )
    reasoning, content, usage = "", "", None
    for chunk in stream:
        usage = chunk.usage or usage
        if chunk.choices:
            reasoning += getattr(chunk.choices[0].delta, "reasoning_content", None) or ""
            content += chunk.choices[0].delta.content or ""
    assert reasoning == row.reasoning
    assert content == row.response
    assert usage is not None
    assert usage.completion_tokens == count_tokens(row.reasoning) + count_tokens(row.response or "")
    models = {m.id for m in client.models.list()}
    assert {"QwQ-32B", "Qwen2.5-32B", "think"} <= models


def test_serves_an_outcome_file(tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    write_outcomes(
        [Outcome("q1", "Capital of France?", "my-model", True, 3, response="Paris.")], path
    )
    process, url = _start("--outcomes", str(path), "--tokens-per-second", "50")
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(
            model="my-model", messages=[{"role": "user", "content": "Capital of France?"}]
        )
        assert reply.choices[0].message.content == "Paris."
    finally:
        _stop(process)


def test_bad_alias_and_unknown_dataset_fail_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["replay-upstream", "--dataset", "no-such-set", "--port", "1"]) == 2
    assert "unknown dataset 'no-such-set'" in capsys.readouterr().err
    code = main(["replay-upstream", "--dataset", "mip-math", "--alias", "oops", "--port", "1"])
    assert code == 2
    assert "NAME=PROFILE" in capsys.readouterr().err
