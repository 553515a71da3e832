"""Optional OpenTelemetry spans per request: the routing decision, the upstream call, an early exit.

Off by default; `tracing.enabled: true` in the config turns it on, and needs the `otel` extra
(`pip install 'thinkgate[otel]'`): nothing of OpenTelemetry is imported while it is off. The
exporter is OTLP over HTTP (`tracing.endpoint`, else the `OTEL_EXPORTER_OTLP_*` environment the
exporter reads, else http://localhost:4318/v1/traces), `console` (stdout, for a look), or
`global`: spans go to the process's tracer provider, as set by `opentelemetry-instrument` or by
the program that embeds the gateway.

Each request's spans are written once it is recorded in the ledger, from the record and its
timings, with the times they really began and ended:

    thinkgate.request            (a child of the caller's `traceparent`, when it sends one)
    +-- thinkgate.routing        difficulty scoring and the policy's decision
    +-- thinkgate.upstream       first byte to last of the answer (status, tokens, TTFT)
        +-- thinkgate.early_exit when the watcher cut the thinking (where, tokens saved)

Spans carry no prompt or completion text, whatever `ledger.store_text` says.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from router.errors import ConfigError

if TYPE_CHECKING:
    from router.ledger.record import LedgerRecord
    from router.pipeline import Routing

__all__ = ["TracingSettings", "CallTracer"]

_INSTALL = "pip install 'thinkgate[otel]'"


class TracingSettings(BaseModel):
    """`tracing:` in the config."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    exporter: Literal["otlp", "console", "global"] = "otlp"
    endpoint: str | None = None  # OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces
    service_name: str = "thinkgate"


class CallTracer:
    """Writes one request's spans from its ledger record (see the module's docstring)."""

    def __init__(self, tracer: Any, provider: Any = None) -> None:
        self.tracer = tracer
        self._provider = provider  # ours to flush and shut down; None: the global one

    @classmethod
    def from_settings(cls, settings: TracingSettings) -> CallTracer | None:
        """None when tracing is off; a ConfigError when it is on without the `otel` extra."""
        if not settings.enabled:
            return None
        try:
            from opentelemetry import trace
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
        except ImportError:
            raise ConfigError(
                f"config key 'tracing.enabled': OpenTelemetry is not installed: {_INSTALL}",
                "tracing.enabled",
            ) from None
        if settings.exporter == "global":
            return cls(trace.get_tracer("thinkgate"))
        if settings.exporter == "console":
            exporter: Any = ConsoleSpanExporter()
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=settings.endpoint)
        provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
        provider.add_span_processor(BatchSpanProcessor(exporter))
        return cls(provider.get_tracer("thinkgate"), provider)

    def parent(self, headers: Mapping[str, str]) -> Any:
        """The context a request's spans go under: the span current while it is handled (a
        server span of an instrumented FastAPI or ASGI stack), else the caller's `traceparent`."""
        from opentelemetry import context, propagate, trace

        if trace.get_current_span().get_span_context().is_valid:
            return context.get_current()
        return propagate.extract(headers)

    def record(
        self,
        record: LedgerRecord,
        routing: Routing,
        started_ns: int,
        ended_ns: int,
        parent: Any = None,
    ) -> None:
        """The spans of one request: it began at `started_ns` (its decision then took
        `routing.decision_ms`) and was recorded at `ended_ns` (epoch nanoseconds), under
        `parent` (from `parent()`; None: a new trace)."""
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode

        decided_ns = started_ns + int(routing.decision_ms * 1e6)
        root = self.tracer.start_span(
            "thinkgate.request", context=parent, start_time=started_ns, attributes=_request(record)
        )
        inside = trace.set_span_in_context(root)
        decision = self.tracer.start_span(
            "thinkgate.routing", context=inside, start_time=started_ns, attributes=_routing(routing)
        )
        decision.end(end_time=decided_ns)
        upstream = self.tracer.start_span(
            "thinkgate.upstream",
            context=inside,
            start_time=decided_ns,
            attributes=_upstream(record),
        )
        if record.early_exit is not None:
            exited = self.tracer.start_span(
                "thinkgate.early_exit",
                context=trace.set_span_in_context(upstream),
                start_time=ended_ns,
                attributes=_early_exit(record),
            )
            exited.end(end_time=ended_ns)
        if record.status >= 400 or record.error:
            failed = Status(StatusCode.ERROR, f"status {record.status}")
            upstream.set_status(failed)
            root.set_status(failed)
        upstream.end(end_time=ended_ns)
        root.end(end_time=ended_ns)

    def shutdown(self) -> None:
        """Send what is buffered and stop the exporter (a global provider is left alone)."""
        if self._provider is not None:
            self._provider.shutdown()


def _request(record: LedgerRecord) -> dict[str, Any]:
    return {
        "thinkgate.request_id": record.request_id,
        "thinkgate.endpoint": record.endpoint,
        "thinkgate.model": record.model,
        "thinkgate.stream": record.stream,
        "http.response.status_code": record.status,
    }


def _routing(routing: Routing) -> dict[str, Any]:
    out: dict[str, Any] = {
        "thinkgate.profile": routing.profile,
        "thinkgate.decision.reason": routing.decision.reason,
        "thinkgate.forced": routing.forced,
        "thinkgate.decision_ms": routing.decision_ms,
    }
    if routing.difficulty is not None:
        out["thinkgate.difficulty"] = routing.difficulty
    pred = routing.predictions.get(routing.profile)
    if pred is not None:
        out["thinkgate.p_correct"] = float(pred.p_correct)
        if pred.tokens is not None:
            out["thinkgate.predicted_tokens"] = float(pred.tokens)
    return out


def _upstream(record: LedgerRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "thinkgate.profile": record.profile,
        "gen_ai.usage.input_tokens": record.prompt_tokens,
        "gen_ai.usage.output_tokens": record.completion_tokens,
        "thinkgate.tokens_counted": record.tokens_counted,
        "http.response.status_code": record.status,
    }
    if record.ttft_ms is not None:
        out["thinkgate.ttft_ms"] = record.ttft_ms
    if record.samples is not None:
        out["thinkgate.samples"] = record.samples
    if record.error:
        out["error.type"] = record.error[:200]  # already scrubbed of credentials and text
    return out


def _early_exit(record: LedgerRecord) -> dict[str, Any]:
    exit_ = record.early_exit or {}
    out: dict[str, Any] = {
        "thinkgate.early_exit.saved_tokens": float(record.saved_by.get("early_exit", 0.0)),
    }
    for key in ("tokens_at_exit", "checkpoint", "answer_from"):
        if exit_.get(key) is not None:
            out[f"thinkgate.early_exit.{key}"] = exit_[key]
    return out
