"""Prometheus metrics of one gateway process, in their own registry, fed one ledger record each.

Each replica exposes its own counters on ``GET /metrics``; Prometheus sums them across replicas.
The worker processes of one ``thinkgate serve --workers N`` share a port, so a scrape reaches any
one of them: they run in prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``,
set by ``serve`` before the workers start) and every worker renders the sum over all of them.
Token savings are estimates (against the reference profile), like the ledger's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from starlette.responses import Response

from router.ledger.record import SAVED_BY_KEYS, LedgerRecord
from router.pipeline import request_mode

__all__ = ["GatewayMetrics", "MULTIPROC_ENV", "follow_backlog", "metrics_router", "mount"]

# prometheus-client reads it when it is first imported: a process started with it set keeps its
# values in files there, which any process can sum.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_DECISION_SECONDS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1)
_SAMPLES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)
# How often each worker sets its ledger gauges under `serve --workers N` (a scrape reaches one).
_BACKLOG_EVERY_S = 5.0


class GatewayMetrics:
    """The gateway's Prometheus series; nothing is global, so many gateways can share a process."""

    def __init__(
        self, registry: CollectorRegistry | None = None, namespace: str = "thinkgate"
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        ns, reg = namespace, self.registry
        self.requests = Counter(
            "requests", "Requests answered, by profile, mode and HTTP status.",
            ["profile", "mode", "status"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.prompt_tokens = Counter(
            "prompt_tokens", "Prompt tokens sent upstream, by profile.",
            ["profile"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.completion_tokens = Counter(
            "completion_tokens", "Completion tokens (reasoning included), by profile.",
            ["profile"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.reference_tokens = Counter(
            "reference_tokens_estimate", "Estimated completion tokens of the reference profile.",
            namespace=ns, registry=reg,
        )  # fmt: skip
        self.saved_tokens = Counter(
            "saved_tokens_estimate", "Estimated tokens saved against the reference, by mechanism.",
            ["mechanism"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.extra_tokens = Counter(
            "extra_tokens_estimate",
            "Estimated tokens spent beyond the reference (a negative saving), by mechanism.",
            ["mechanism"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.decisions = Counter(
            "decisions", "Routing decisions, by chosen profile and difficulty level.",
            ["profile", "difficulty", "mode"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.novel = Counter(
            "novel_requests", "Requests whose prompt was novel to the difficulty model.",
            namespace=ns, registry=reg,
        )  # fmt: skip
        self.novelty = Histogram(
            "novelty", "Novelty score of scored prompts (distance to the training prompts).",
            buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0), namespace=ns, registry=reg,
        )  # fmt: skip
        self.early_exits = Counter(
            "early_exits", "Reasoning streams cut by the convergence watcher, by profile.",
            ["profile"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.upstream_errors = Counter(
            "upstream_errors", "Requests that failed upstream (5xx to the caller), by profile.",
            ["profile", "status"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.feedback = Counter(
            "feedback", "Feedback labels received, by correctness.",
            ["correct"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.latency = Histogram(
            "request_duration_seconds", "Time from request to last byte, by profile.",
            ["profile"], namespace=ns, registry=reg, buckets=_SECONDS,
        )  # fmt: skip
        self.ttft = Histogram(
            "time_to_first_token_seconds", "Time to the first streamed token, by profile.",
            ["profile"], namespace=ns, registry=reg, buckets=_SECONDS,
        )  # fmt: skip
        self.decision_latency = Histogram(
            "decision_duration_seconds", "Time to score a prompt and choose a profile.",
            namespace=ns, registry=reg, buckets=_DECISION_SECONDS,
        )  # fmt: skip
        self.samples = Histogram(
            "samples", "Samples drawn by search profiles per request.",
            ["profile"], namespace=ns, registry=reg, buckets=_SAMPLES,
        )  # fmt: skip
        self.endpoint_requests = Counter(
            "endpoint_requests", "Requests answered, by API endpoint (chat, responses, ...).",
            ["endpoint"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.reasoning_tokens = Counter(
            "reasoning_tokens", "Reasoning tokens, by profile and the dialect the upstream used.",
            ["profile", "dialect"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.exploration_runs = Counter(
            "exploration_runs", "Background second answers of the exploration share, by "
            "alternative profile and how the pair was labelled (agreement, judge, none).",
            ["profile", "label"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.exploration_tokens = Counter(
            "exploration_tokens", "Tokens the exploration share spent (answer: the second run; "
            "judge: grading), by kind and direction (prompt, completion).",
            ["kind", "direction"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.exploration_skipped = Counter(
            "exploration_skipped", "Requests the exploration share sampled but skipped: "
            "max_running background runs were already going.",
            namespace=ns, registry=reg,
        )  # fmt: skip
        self.exploration_cost = Counter(
            "exploration_cost", "Money the exploration share spent (second runs and judge calls).",
            namespace=ns, registry=reg,
        )  # fmt: skip
        # The ledger gauges under `serve --workers N`: records in memory and refused by the
        # spool are each worker's own (summed); the spool file is shared, so every worker reads
        # the same count (the largest is taken); the store is up when every worker reaches it.
        self.ledger_backlog = Gauge(
            "ledger_pending_records", "Records not yet in the ledger store, waiting in memory.",
            namespace=ns, registry=reg, multiprocess_mode="livesum",
        )  # fmt: skip
        self.ledger_spooled = Gauge(
            "ledger_spooled_records", "Records waiting in the ledger's spool for the store.",
            namespace=ns, registry=reg, multiprocess_mode="livemax",
        )  # fmt: skip
        self.ledger_dropped = Gauge(
            "ledger_dropped_records", "Records the full spool refused since the process started.",
            namespace=ns, registry=reg, multiprocess_mode="livesum",
        )  # fmt: skip
        self.ledger_store_up = Gauge(
            "ledger_store_up", "1 while calls reach the ledger store (its breaker is closed).",
            namespace=ns, registry=reg, multiprocess_mode="livemin",
        )  # fmt: skip
        for mechanism in SAVED_BY_KEYS:  # present at zero before the first request
            self.saved_tokens.labels(mechanism)
            self.extra_tokens.labels(mechanism)

    def observe(self, record: LedgerRecord) -> None:
        """Count one finished request (call once per ledger record)."""
        profile, mode = record.profile, request_mode(record.model)
        self.requests.labels(profile, mode, str(record.status)).inc()
        self.prompt_tokens.labels(profile).inc(max(record.prompt_tokens, 0))
        self.completion_tokens.labels(profile).inc(max(record.completion_tokens, 0))
        if record.reference_tokens_estimate is not None:
            self.reference_tokens.inc(max(record.reference_tokens_estimate, 0.0))
        for mechanism, amount in record.saved_by.items():
            # Counters only go up: a negative estimate (the choice cost more, or probes that
            # never cut the stream) goes to its own counter; saved minus extra is the ledger's
            # net saving (policies.savings.GRAFANA_SAVED_SHARE).
            if amount > 0:
                self.saved_tokens.labels(mechanism).inc(amount)
            elif amount < 0:
                self.extra_tokens.labels(mechanism).inc(-amount)
        self.decisions.labels(profile, record.difficulty or "unknown", mode).inc()
        if record.novelty is not None:
            self.novelty.observe(record.novelty)
        if record.novel:
            self.novel.inc()
        if record.early_exit is not None:
            self.early_exits.labels(profile).inc()
        if record.status >= 500:
            self.upstream_errors.labels(profile, str(record.status)).inc()
        self.latency.labels(profile).observe(max(record.latency_ms, 0.0) / 1000)
        if record.ttft_ms is not None:
            self.ttft.labels(profile).observe(max(record.ttft_ms, 0.0) / 1000)
        if record.samples is not None:
            self.samples.labels(profile).observe(record.samples)
        if record.feedback is not None:
            self.observe_feedback(record.feedback)
        self.endpoint_requests.labels(record.endpoint).inc()
        reasoning = record.reasoning or {}
        if reasoning.get("tokens"):
            dialect = str(reasoning.get("dialect") or "unknown")
            self.reasoning_tokens.labels(profile, dialect).inc(max(int(reasoning["tokens"]), 0))

    def observe_feedback(self, correct: bool) -> None:
        """Count one feedback label (``POST /v1/feedback``)."""
        self.feedback.labels(str(correct).lower()).inc()

    def observe_exploration(self, record: Any) -> None:
        """Count one stored counterfactual record (router.ledger.counterfactual)."""
        alt = record.alternative
        self.exploration_runs.labels(alt.profile, record.label or "none").inc()
        tokens = self.exploration_tokens
        tokens.labels("answer", "prompt").inc(max(int(alt.prompt_tokens), 0))
        tokens.labels("answer", "completion").inc(max(int(alt.completion_tokens), 0))
        tokens.labels("judge", "prompt").inc(max(int(record.judge_prompt_tokens), 0))
        tokens.labels("judge", "completion").inc(max(int(record.judge_completion_tokens), 0))
        self.exploration_cost.inc(max(float(record.cost), 0.0))

    def observe_decision(self, seconds: float) -> None:
        """Record how long one routing decision took."""
        self.decision_latency.observe(seconds)

    def observe_backlog(self, backlog: Any) -> None:
        """Set the ledger backlog gauges from a router.ledger.durable.Backlog."""
        self.ledger_backlog.set(backlog.pending)
        self.ledger_spooled.set(backlog.spooled)
        self.ledger_dropped.set(backlog.dropped)
        self.ledger_store_up.set(1 if backlog.store == "closed" else 0)

    def render(self) -> bytes:
        """The registry in Prometheus' text exposition format (every worker's, summed, in
        multiprocess mode)."""
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            summed = CollectorRegistry()
            multiprocess.MultiProcessCollector(summed)
            return generate_latest(summed)
        return generate_latest(self.registry)

    def response(self) -> Response:
        """``GET /metrics`` response."""
        return Response(self.render(), media_type=CONTENT_TYPE_LATEST)

    def close(self) -> None:
        """A worker that stops takes its gauges out of the sum (multiprocess mode)."""
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())


def follow_backlog(metrics: GatewayMetrics | None, ledger: Any) -> asyncio.Task[None] | None:
    """Under `serve --workers N`, a task keeping this worker's ledger gauges current: a scrape
    reaches one worker, and the sum would otherwise hold the others' values from their last."""
    from router.ledger.durable import DurableLedger

    if metrics is None or not isinstance(ledger, DurableLedger):
        return None
    if not os.environ.get(MULTIPROC_ENV):
        return None  # one process: the scrape itself sets them (mount's refresh)

    async def follow() -> None:
        while True:
            with contextlib.suppress(Exception):  # a spool read failing skips one update
                metrics.observe_backlog(await _probed_backlog(ledger))
            await asyncio.sleep(_BACKLOG_EVERY_S)

    return asyncio.create_task(follow(), name="thinkgate-ledger-gauges")


async def _probed_backlog(ledger: Any) -> Any:
    """The DurableLedger's backlog, the store probed first when its breaker waits for a probe:
    a process that makes no other store call would report the store down long after a blip."""
    backlog = await ledger.backlog()
    if backlog.store == "half-open":
        await ledger.ping()  # through the breaker: success closes it
        backlog = await ledger.backlog()
    return backlog


def metrics_router(
    metrics: GatewayMetrics,
    *,
    dependencies: Sequence[Any] = (),
    refresh: Callable[[Request], Awaitable[None]] | None = None,
) -> APIRouter:
    """An APIRouter serving ``GET /metrics`` from ``metrics`` (``refresh`` runs before each)."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False, dependencies=list(dependencies))
    async def get_metrics(request: Request) -> Response:
        if refresh is not None:
            await refresh(request)
        return metrics.response()

    return router


def mount(app: FastAPI) -> GatewayMetrics:
    """Give ``app`` its metrics (``app.state.metrics``; call ``observe``) and ``GET /metrics``."""
    from router.gateway import require_metrics_key
    from router.ledger.durable import DurableLedger

    metrics = GatewayMetrics()

    async def backlog(request: Request) -> None:
        ledger = request.app.state.gateway.ledger
        if isinstance(ledger, DurableLedger):
            metrics.observe_backlog(await _probed_backlog(ledger))

    app.state.metrics = metrics
    guard = [Depends(require_metrics_key)]
    app.include_router(metrics_router(metrics, dependencies=guard, refresh=backlog))
    return metrics
