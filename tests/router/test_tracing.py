"""OpenTelemetry spans per request (router.tracing), from a real request through the gateway:
the routing decision, the upstream call and an early exit, under the caller's trace."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest

from router.replay.server import ReplayUpstream
from tests.router.conftest import EASY, RunningGateway, base_config, start_gateway, wait_for
from tests.router.test_early_exit import QUESTION, _config, paced  # noqa: F401 (a fixture)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def spans() -> Any:
    """The process's tracer provider, exporting to memory (the `global` exporter's target)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider  # nothing else set one first
    return exporter


@pytest.fixture(scope="module")
def traced(
    paced: ReplayUpstream,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
    spans: Any,
) -> Iterator[RunningGateway]:
    config = _config(paced, tmp_path_factory.mktemp("traced"), prefill=True)
    config["tracing"] = {"enabled": True, "exporter": "global"}
    gateway = start_gateway(config)
    yield gateway
    gateway.server.stop()


def _by_name(exported: Any, request_id: str) -> dict[str, Any]:
    roots = [s for s in exported if s.attributes.get("thinkgate.request_id") == request_id]
    assert len(roots) == 1
    trace_id = roots[0].context.trace_id
    # FastAPI writes spans of its own to the global provider (its server span among them).
    return {s.name: s for s in exported if s.context.trace_id == trace_id}


def test_a_cut_stream_has_routing_upstream_and_early_exit_spans_under_the_callers_trace(
    traced: RunningGateway, spans: Any
) -> None:
    body = {
        "model": "thinkgate/think",
        "messages": [{"role": "user", "content": QUESTION}],
        "stream": True,
    }
    headers = {"traceparent": TRACEPARENT}
    with httpx.stream(
        "POST", f"{traced.base_url}/chat/completions", json=body, headers=headers, timeout=30
    ) as resp:
        assert resp.status_code == 200
        rid = resp.headers["x-thinkgate-request-id"]
        list(resp.iter_lines())
    assert wait_for(lambda: any(r.request_id == rid for r in traced.records()))
    record = next(r for r in traced.records() if r.request_id == rid)
    assert record.early_exit is not None
    named = _by_name(spans.get_finished_spans(), rid)
    assert {n for n in named if n.startswith("thinkgate.")} == {
        "thinkgate.request",
        "thinkgate.routing",
        "thinkgate.upstream",
        "thinkgate.early_exit",
    }
    root, routing = named["thinkgate.request"], named["thinkgate.routing"]
    upstream, exited = named["thinkgate.upstream"], named["thinkgate.early_exit"]
    # Under the caller's trace, within FastAPI's server span, as the module's docstring draws it.
    server = named["POST /v1/chat/completions"]
    assert format(root.context.trace_id, "032x") == TRACE_ID
    assert format(server.parent.span_id, "016x") == "00f067aa0ba902b7"
    chain, span = [], root
    while span.parent.span_id in {s.context.span_id for s in named.values()}:
        span = next(s for s in named.values() if s.context.span_id == span.parent.span_id)
        chain.append(span.name)
    assert chain == ["fastapi.endpoint", "POST /v1/chat/completions"]
    assert routing.parent.span_id == root.context.span_id
    assert upstream.parent.span_id == root.context.span_id
    assert exited.parent.span_id == upstream.context.span_id
    # Real times: the decision, then the upstream call, within the request.
    assert root.start_time == routing.start_time < routing.end_time <= upstream.start_time
    assert upstream.end_time == root.end_time
    assert upstream.end_time - upstream.start_time >= int(record.latency_ms * 1e6) * 0.9
    assert routing.attributes["thinkgate.profile"] == "think"
    assert routing.attributes["thinkgate.forced"] is True
    assert routing.attributes["thinkgate.p_correct"] == pytest.approx(
        record.predictions["think"]["p_correct"]
    )
    assert upstream.attributes["gen_ai.usage.input_tokens"] == record.prompt_tokens
    assert upstream.attributes["gen_ai.usage.output_tokens"] == record.completion_tokens
    assert upstream.attributes["http.response.status_code"] == 200
    tokens_at_exit = record.early_exit["tokens_at_exit"]
    assert exited.attributes["thinkgate.early_exit.tokens_at_exit"] == tokens_at_exit
    saved = exited.attributes["thinkgate.early_exit.saved_tokens"]
    assert saved == record.saved_by["early_exit"] and saved > 0
    # No text in any span: not the question, not the answer.
    for span in named.values():
        assert not any("cookies" in str(v) or str(v) == "72" for v in span.attributes.values())


def test_a_failed_upstream_call_is_an_error_span(
    gateway_factory: Any, spans: Any, tmp_path: Any
) -> None:
    config = base_config("http://127.0.0.1:9/v1", f"sqlite:///{tmp_path / 'ledger.db'}")
    config["profiles"]["direct"]["retries"] = 0
    config["tracing"] = {"enabled": True, "exporter": "global"}
    gw = gateway_factory(config)
    body = {"model": "thinkgate/direct", "messages": [{"role": "user", "content": "2 + 2?"}]}
    resp = httpx.post(f"{gw.base_url}/chat/completions", json=body, timeout=30)
    assert resp.status_code == 502
    rid = resp.headers["x-thinkgate-request-id"]
    assert wait_for(lambda: any(r.request_id == rid for r in gw.records()))
    named = _by_name(spans.get_finished_spans(), rid)
    assert {n for n in named if n.startswith("thinkgate.")} == {
        "thinkgate.request",
        "thinkgate.routing",
        "thinkgate.upstream",
    }
    upstream = named["thinkgate.upstream"]
    assert upstream.status.status_code.name == "ERROR"
    assert upstream.attributes["http.response.status_code"] == 502
    assert named["thinkgate.request"].status.status_code.name == "ERROR"


class _Collector(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers["Content-Length"])
        _Collector.bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_otlp_exporter_sends_the_spans_to_the_configured_endpoint(
    replay: ReplayUpstream, tmp_path: Any
) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    collector = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{collector.server_port}/v1/traces"
    config = base_config(replay.base_url, f"sqlite:///{tmp_path / 'ledger.db'}")
    config["tracing"] = {"enabled": True, "endpoint": endpoint, "service_name": "tg-test"}
    gw = start_gateway(config)
    try:
        body = {"model": "thinkgate/direct", "messages": [{"role": "user", "content": EASY}]}
        resp = httpx.post(f"{gw.base_url}/chat/completions", json=body, timeout=30)
        assert resp.status_code == 200
        rid = resp.headers["x-thinkgate-request-id"]
    finally:
        gw.server.stop()  # the gateway's shutdown flushes its batch of spans
        collector.shutdown()
    names, services = [], set()
    for raw in _Collector.bodies:
        request = ExportTraceServiceRequest.FromString(raw)
        for resource_spans in request.resource_spans:
            for attr in resource_spans.resource.attributes:
                if attr.key == "service.name":
                    services.add(attr.value.string_value)
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    ids = [a.value.string_value for a in span.attributes]
                    if span.name != "thinkgate.request" or rid in ids:
                        names.append(span.name)
    assert services == {"tg-test"}
    assert sorted(names) == ["thinkgate.request", "thinkgate.routing", "thinkgate.upstream"]


def test_off_by_default_and_nothing_imported() -> None:
    # (FastAPI and litellm import OpenTelemetry's API and metrics SDK themselves.)
    code = (
        "import sys\n"
        "from router.app import create_app\n"
        "from router.settings import settings_from_mapping\n"
        "from router.tracing import CallTracer\n"
        "s = settings_from_mapping({'profiles': {'d': {'model': 'openai/x',"
        " 'api_base': 'http://127.0.0.1:9/v1', 'predictor': 'Qwen2.5-32B'}}})\n"
        "create_app(s)\n"
        "assert s.tracing.enabled is False\n"
        "assert CallTracer.from_settings(s.tracing) is None\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk.trace',"
        " 'opentelemetry.exporter'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"
