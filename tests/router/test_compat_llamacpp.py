"""The drop-in against a real llama.cpp server (llama-cpp-python, SmolLM2-135M-Instruct).

Tools (grammar-constrained function calling), JSON mode, a stream without usage (llama.cpp
sends none: the gateway counts it), embeddings and text completions passed through, the
Responses API and LangChain; a recording proxy in front of llama.cpp keeps every request body
so the tests assert on what the upstream received. Skipped when llama-cpp-python is absent.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from openai import OpenAI

from router.server_thread import ServerThread
from tests.router.compat_fields import TOOL
from tests.router.conftest import RunningGateway, start_gateway, stop_process

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (see the README)")

from tests.router.test_probe_llamacpp import _free_port, smollm2_gguf  # noqa: E402

# A limit on each call, not a timing claim: on a loaded 2-core machine llama.cpp takes up to two
# minutes for one grammar-constrained call of SmolLM2 (146 s seen at load 15).
TIMEOUT_S = 300.0


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama.cpp serving chat with function calling and embeddings; yields its `/v1` URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "1",
        "--chat_format", "chatml-function-calling", "--embedding", "true",
    ]  # fmt: skip  # one thread: see test_probe_llamacpp's fixture
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
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


class Recorder:
    """A proxy in front of llama.cpp that keeps every request body it forwards."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.bodies: list[tuple[str, dict[str, Any]]] = []

    def app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response, StreamingResponse
        from starlette.routing import Route

        client = httpx.AsyncClient(timeout=TIMEOUT_S)

        async def forward(request: Request) -> Response:
            path = request.path_params["path"]
            body = await request.json()
            self.bodies.append((path, body))
            upstream = client.build_request("POST", f"{self.target}/{path}", json=body)
            reply = await client.send(upstream, stream=True)
            kind = reply.headers.get("content-type", "application/json")

            async def relay() -> AsyncIterator[bytes]:
                try:
                    async for data in reply.aiter_raw():
                        yield data
                finally:
                    await reply.aclose()

            return StreamingResponse(relay(), status_code=reply.status_code, media_type=kind)

        return Starlette(routes=[Route("/v1/{path:path}", forward, methods=["POST"])])

    def last(self, path: str) -> dict[str, Any]:
        return next(body for p, body in reversed(self.bodies) if p == path)


@pytest.fixture(scope="module")
def recorder(llama: str) -> Iterator[Recorder]:
    rec = Recorder(llama)
    with ServerThread(rec.app()) as server:
        rec.url = f"{server.url}/v1"  # type: ignore[attr-defined]
        yield rec


@pytest.fixture(scope="module")
def gw(recorder: Recorder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    db = tmp_path_factory.mktemp("llama-gw") / "ledger.db"
    profile = {"model": "openai/smollm2", "api_base": recorder.url, "predictor": "Qwen2.5-32B"}  # type: ignore[attr-defined]
    config = {
        "profiles": {"llama": {**profile, "timeout_s": TIMEOUT_S}},
        "policy": {"kind": "fixed", "profile": "llama"},
        "ledger": {"url": f"sqlite:///{db}"},
    }
    gateway = start_gateway(config)
    yield gateway
    gateway.server.stop()


def client(gw: RunningGateway) -> OpenAI:
    return OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0, timeout=TIMEOUT_S)


QUESTION = [{"role": "user", "content": "What is the weather in Paris? Use the tool."}]
FORCED = {"type": "function", "function": {"name": "submit"}}


def test_llamacpp_tool_calls_non_streamed_and_streamed(
    gw: RunningGateway, recorder: Recorder
) -> None:
    reply = client(gw).chat.completions.create(
        model="thinkgate/llama",
        messages=QUESTION,
        tools=[TOOL],
        tool_choice=FORCED,
        max_tokens=40,  # type: ignore[arg-type,list-item]
    )
    call = (reply.choices[0].message.tool_calls or [])[0]
    assert call.function.name == "submit"  # type: ignore[union-attr]
    # Grammar-constrained to the schema (the tiny model may run out of tokens inside the string).
    assert call.function.arguments.replace(" ", "").startswith('{"total":"')  # type: ignore[union-attr]
    assert recorder.last("chat/completions")["tools"] == [TOOL]
    arguments = ""
    for chunk in client(gw).chat.completions.create(
        model="thinkgate/llama",
        messages=QUESTION,
        tools=[TOOL],
        tool_choice=FORCED,
        max_tokens=40,
        stream=True,  # type: ignore[arg-type,list-item]
    ):
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                arguments += (delta.function.arguments or "") if delta.function else ""
    assert arguments.replace(" ", "").startswith('{"total":"')


def test_llamacpp_json_mode_and_counted_usage(gw: RunningGateway, recorder: Recorder) -> None:
    usage, facts, content = None, {}, ""
    for chunk in client(gw).chat.completions.create(
        model="thinkgate/auto",
        messages=[{"role": "user", "content": "Reply with a JSON object with a key name."}],
        response_format={"type": "json_object"},
        max_tokens=30,
        stream=True,
        stream_options={"include_usage": True},
    ):
        usage = chunk.usage or usage
        facts = (chunk.model_extra or {}).get("thinkgate") or facts
        content += "".join(c.delta.content or "" for c in chunk.choices)
    assert content.lstrip().startswith("{")
    assert recorder.last("chat/completions")["response_format"] == {"type": "json_object"}
    # llama.cpp streams no usage; the gateway counted it and says so.
    assert usage is not None and usage.completion_tokens > 0 and facts["usage_counted"] is True


def test_llamacpp_embeddings_and_completions_pass_through(
    gw: RunningGateway, recorder: Recorder
) -> None:
    api = client(gw)
    vectors = api.embeddings.create(model="thinkgate/llama", input="hello")
    assert len(vectors.data) == 1 and recorder.last("embeddings")["input"] == "hello"
    text = api.completions.create(model="thinkgate/llama", prompt="Once upon a time", max_tokens=5)
    assert text.choices[0].text and recorder.last("completions")["prompt"] == "Once upon a time"
    streamed = "".join(
        c.choices[0].text
        for c in api.completions.create(
            model="thinkgate/llama", prompt="Hello", max_tokens=5, stream=True
        )
        if c.choices
    )
    assert streamed
    kinds = {r.endpoint for r in gw.records()}
    assert {"embeddings", "completions"} <= kinds


def test_llamacpp_responses_api_and_langchain(gw: RunningGateway, recorder: Recorder) -> None:
    from langchain_openai import ChatOpenAI

    reply = client(gw).responses.create(
        model="thinkgate/llama", input="Say hi.", max_output_tokens=12, store=False
    )
    assert reply.output_text and recorder.last("chat/completions")["max_tokens"] == 12
    llm = ChatOpenAI(
        model="thinkgate/llama",
        base_url=gw.base_url,
        api_key="unused",  # type: ignore[arg-type]
        max_tokens=8,
        timeout=TIMEOUT_S,
    )
    assert llm.invoke("Say hi.").content
