"""One chat request from its routing decision to its ledger record: the `Call`.

The call owns the decision, the source that answers (plain, watched, search), what the caller
received and how the request ended. It writes the ledger record and the metrics once, in
`close()`, on every way out: an answer read to its end, an upstream error before or during the
stream, a caller who left, an early exit, a search.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.requests import Request

from difficulty.errors import ThinkgateError
from policies.effort import EffortResolution
from router.chat_request import ChatRequest
from router.dialects import ChunkRewriter, describe, rewrite_message
from router.early_exit import open_watched
from router.errors import UpstreamError, error_body
from router.gateway import Gateway
from router.keys import ApiKey
from router.ledger.record import LedgerRecord
from router.pipeline import Routing, saved_by
from router.request_plan import RequestPlan, plan_chat, upstream_params
from router.search import COMMENT, open_search
from router.sources import ChunkSource, SourceReport, read_to_end
from router.sse import SSE_DONE, sse
from router.streaming import Accumulator, RelayResponse, buffered, unless_gone
from router.upstream import uses_http_transport
from router.usage_count import ledger_tokens

__all__ = ["Call", "CLIENT_GONE"]

_log = logging.getLogger("thinkgate.chat")


# The status a request is recorded with when its caller disconnected (nginx's convention).
CLIENT_GONE = 499
# Longer texts are token-counted for the record on a worker thread (at most ~11 ms a text:
# router.usage_count).
_COUNT_OFF_LOOP_CHARS = 20_000


class Call:
    """One chat request: `async with call:` records it once, however the block is left.

    A streamed answer outlives the block: `stream()` hands the call to the response, which
    records it before the caller sees the end (or when the stream breaks or the caller leaves).
    """

    def __init__(
        self,
        gateway: Gateway,
        routing: Routing,
        chat: ChatRequest,
        plan: RequestPlan,
        endpoint: str = "chat",
    ) -> None:
        self.gateway = gateway
        self.settings = gateway.settings
        self.routing = routing
        self.chat = chat
        self.plan = plan
        self.endpoint = endpoint
        self.effort: EffortResolution | None = None
        self.caller: ApiKey | None = None  # the API key whose limits its usage counts to
        self.started = time.perf_counter()  # after the decision: latency and TTFT exclude it
        self.started_ns = time.time_ns() - int(routing.decision_ms * 1e6)  # before it
        self.trace_parent: Any = None  # the context its spans go under (router.tracing)
        self.ttft_ms: float | None = None
        self.received = Accumulator()
        self.source: ChunkSource | None = None
        self.status = 200
        self.error: str | None = None
        self.record: LedgerRecord | None = None
        self._streaming = False
        self._closed = False

    @classmethod
    async def start(
        cls, gateway: Gateway, chat: ChatRequest, key: str | None = None, endpoint: str = "chat"
    ) -> Call:
        """Route the request among the profiles that can take it and begin its call; `key`
        names the caller's API key (its effort setting)."""
        plan = plan_chat(gateway.settings, chat, gateway.capabilities(), key)
        earlier = chat.earlier_turns(gateway.settings.conversation.turns)
        routing = await gateway.ready_pipeline().route(
            chat.model,
            chat.prompt,
            n=chat.n,
            eligible=plan.eligible,
            check=plan.check,
            earlier=earlier,
        )
        if gateway.metrics is not None:
            gateway.metrics.observe_decision(routing.decision_ms / 1000.0)
        return cls(gateway, routing, chat, plan, endpoint)

    async def __aenter__(self) -> Call:
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            self.fail(exc)
        elif self._streaming:
            return  # the streaming response records it
        await self.close()

    # -- answering ----------------------------------------------------------------------------

    @property
    def headers(self) -> dict[str, str]:
        """The x-thinkgate-* headers: the decision, and what the source did about it."""
        headers = self.routing.headers()
        if self.source is not None:
            report = self.source.report()
            if report.search is not None and not self._streaming:  # (a stream's: still sampling)
                headers["x-thinkgate-samples"] = str(report.search.samples)
            headers["x-thinkgate-profile"] = report.profile
            if report.early_exit is not None:
                headers["x-thinkgate-early-exit"] = str(report.early_exit.tokens_at_exit)
        return headers

    async def open(self, request: Request) -> bool:
        """Open the source that answers; False when the caller left first (a search or a slow
        first token can take long)."""
        if self.gateway.tracer is not None:
            self.trace_parent = self.gateway.tracer.parent(request.headers)
        source, gone = await unless_gone(request, self._open_source)
        self.source = source
        if source is None or gone:
            self.fail(None)
            return False
        return True

    async def _open_source(self) -> ChunkSource:
        upstream = self.gateway.ready_upstream()
        name = self.routing.profile
        profile = self.settings.profiles[name]
        messages = self.chat.upstream_messages(profile.prompt_style)
        params, self.effort = upstream_params(self.chat, profile, self.plan)
        plan = self.routing.decision.sampling
        if plan is not None and plan.max_samples > 1:
            profiles, n = self.settings.profiles, self.chat.n or 1
            return await open_search(upstream, name, plan, profiles, messages, params, n=n)
        # A tool call or a JSON answer has a shape a cut would break: never watched.
        if profile.watches_convergence and not self.plan.constrained:
            pred = self.routing.predictions.get(name)
            expected = pred.tokens if pred is not None else None
            cal, rid = self.gateway.calibrator, self.routing.request_id
            return await open_watched(upstream, name, profile, messages, params, expected, cal, rid)
        return await upstream.open(name, messages, params)

    def _take(self, chunk: dict[str, Any]) -> None:
        if self.received.add(chunk) and self.ttft_ms is None:
            self.ttft_ms = (time.perf_counter() - self.started) * 1000.0

    @property
    def _model(self) -> str:
        answered = self.source.profile if self.source is not None else self.routing.profile
        return self.settings.profiles[answered].upstream_name

    def stream(self, events: AsyncIterator[bytes] | None = None) -> RelayResponse:
        """The SSE response relaying the source (as chat chunks unless `events` renders them
        otherwise); it records the call when it ends."""
        self._streaming = True
        body = self._events() if events is None else events
        return RelayResponse(body, on_end=self.abandon, headers=self.headers)

    async def chunks(self, *, comments: bool = False) -> AsyncIterator[dict[str, Any]]:
        """The answer's chunks as relayed; the end is held until the call is recorded, then
        carries the facts (and counted usage when the upstream sent none); with `comments`, a
        search's progress lines too."""
        source = self.source
        assert source is not None
        completion_id, model = f"chatcmpl-{self.routing.request_id}", self._model
        writers = self._writers()
        held: list[dict[str, Any]] = []  # the finishing chunk and all after it
        async for chunk in source:
            if COMMENT in chunk:
                if comments:
                    yield chunk
                continue
            chunk["id"], chunk["model"] = completion_id, model
            self._take(chunk)
            if writers is not None:
                writers(chunk)
            if held or _finishes(chunk):
                held.append(chunk)  # it gets the facts, known once the stream has ended
                continue
            yield chunk
        await self.close()  # before the caller sees the end: a finished stream is recorded
        for chunk in self._ending(held, completion_id, model, writers):
            yield chunk

    async def _events(self) -> AsyncIterator[bytes]:
        out: list[bytes] = []  # events not yet handed to the server
        try:
            async for chunk in self.chunks(comments=True):
                self._relay(chunk, out)
                # Events that arrived together go out in one write; none waits for the network.
                if out and not buffered(self.source):
                    yield b"".join(out)
                    out.clear()
            yield b"".join(out) + SSE_DONE
        except Exception as exc:  # an upstream error or a bug must end the stream cleanly
            err = self.fail(exc)
            yield b"".join(out) + sse(error_body(err))
        except BaseException:
            self.fail(None)
            raise
        finally:
            await self.close()

    def _relay(self, chunk: dict[str, Any], out: list[bytes]) -> None:
        if COMMENT in chunk:  # a search's progress: an SSE comment clients skip
            out.append(f": {chunk[COMMENT]}\n\n".encode())
        elif "usage" not in chunk or self.chat.include_usage:
            out.append(sse(chunk))
        elif chunk.get("choices"):
            del chunk["usage"]
            out.append(sse(chunk))

    def _writers(self) -> ChunkRewriter | None:
        output = self.plan.reasoning_output
        if output == "upstream":
            return None  # the hot path: chunks are relayed as they came
        profile = self.settings.profiles[
            self.source.profile if self.source else self.routing.profile
        ]
        thinking = profile.watches_convergence and uses_http_transport(profile)
        return ChunkRewriter(output, profile.reasoning_format, thinking)

    def _ending(
        self,
        held: list[dict[str, Any]],
        completion_id: str,
        model: str,
        writers: ChunkRewriter | None,
    ) -> list[dict[str, Any]]:
        """The held end of the stream with the facts on its finishing chunk, and a counted
        usage chunk when the caller asked for usage and the upstream sent none."""
        base: dict[str, Any] = {"id": completion_id, "object": "chat.completion.chunk"}
        base.update(model=model, created=self.received.created or int(time.time()))
        tail = writers.tail() if writers is not None else []
        if tail:
            held.insert(0, {**base, "choices": tail})
        target = next((c for c in held if c.get("choices")), None)
        if target is None:
            target = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": None}]}
            held.insert(0, target)
        target["thinkgate"] = self.facts()
        if self.chat.include_usage and self.received.usage is None:
            held.append({**base, "choices": [], "usage": self.counted_usage()})
        return held

    def facts(self) -> dict[str, Any]:
        """The `thinkgate` field: the decision, what the source did, whether usage was counted."""
        assert self.record is not None
        facts = self.routing.facts()
        facts.update(
            profile=self.record.profile,
            samples=self.record.samples,
            early_exit=self.record.early_exit,
            usage_counted=self.record.tokens_counted,
            search=self.record.search,
        )
        return facts

    def counted_usage(self) -> dict[str, Any]:
        """The usage thinkgate counted (the upstream sent none)."""
        assert self.record is not None
        prompt, completion = self.record.prompt_tokens, self.record.completion_tokens
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        reasoning = self.record.reasoning or {}
        if reasoning.get("tokens"):
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning["tokens"]}
        return usage

    async def collect(self, request: Request) -> dict[str, Any] | None:
        """The whole answer as one chat.completion body; None when the caller left first."""
        source = self.source
        assert source is not None

        done, gone = await unless_gone(request, self._read_all)
        if done is None or gone:
            self.fail(None)
            return None
        await self.close()
        body = self.received.completion(f"chatcmpl-{self.routing.request_id}", self._model)
        for choice in body["choices"]:
            choice["message"] = rewrite_message(choice["message"], self.plan.reasoning_output)
        if "usage" not in body:
            body["usage"] = self.counted_usage()
        body["thinkgate"] = self.facts()
        return body

    async def _read_all(self) -> bool:
        def restart() -> None:
            self.received, self.ttft_ms = Accumulator(), None

        assert self.source is not None
        self.source = await read_to_end(self.source, self._take, self._open_source, restart)
        return True

    # -- ending -------------------------------------------------------------------------------

    def fail(self, exc: BaseException | None) -> ThinkgateError:
        """Note how the call failed (None: the caller left); the error to show the caller."""
        if isinstance(exc, ThinkgateError):
            err = exc
            self.status, self.error = exc.status, exc.message
        elif isinstance(exc, Exception):
            err = UpstreamError(f"the stream failed: {type(exc).__name__}")
            self.status, self.error = 500, err.message
        else:
            err = UpstreamError("client disconnected")
            self.status, self.error = CLIENT_GONE, err.message
        return err

    async def abandon(self) -> None:
        """Record the call as left by its caller unless it has been recorded already."""
        if not self._closed:
            self.fail(None)
            await self.close()

    async def close(self) -> None:
        """Close the source and write the ledger record and metrics; only the first call acts."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            report = None
            if self.source is not None:
                await self.source.aclose()
                report = self.source.report()
            if len(self.chat.transcript) + len(self.received.all_text()) > _COUNT_OFF_LOOP_CHARS:
                self.record = await asyncio.to_thread(self._ledger_record, report)
            else:
                self.record = self._ledger_record(report)
            if self.gateway.metrics is not None:
                self.gateway.metrics.observe(self.record)
            self._trace(self.record)
            await self.gateway.keys.charge(self.caller, self.record)  # at the record's cost
            try:
                await self.gateway.ready_ledger().append(self.record)
            except Exception:
                # The caller still gets the answer; /readyz reports the ledger down so the load
                # balancer moves traffic away, and the log keeps the id that was not stored.
                _log.exception("ledger append failed for request %s", self.routing.request_id)
                return
            if self.gateway.explorer is not None:  # after the record: it names the request
                self.gateway.explorer.consider(self)

    def _trace(self, record: LedgerRecord) -> None:
        tracer = self.gateway.tracer
        if tracer is None:
            return
        try:
            tracer.record(record, self.routing, self.started_ns, time.time_ns(), self.trace_parent)
        except Exception:  # tracing must never fail a request
            _log.exception("tracing failed for request %s", self.routing.request_id)

    def _ledger_record(self, report: SourceReport | None) -> LedgerRecord:
        routing, received = self.routing, self.received
        usage = received.usage or {}
        completion_text = received.all_text()
        prompt_tokens, completion_tokens = (
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
        )
        counted = bool(report and report.usage_counted) or None in (
            prompt_tokens,
            completion_tokens,
        )
        if prompt_tokens is None:
            prompt_tokens = ledger_tokens(self.chat.transcript)
        if completion_tokens is None:
            completion_tokens = ledger_tokens(completion_text)
        reference = self.settings.reference_profile
        ref_pred = routing.predictions.get(reference) if reference else None
        savings, early_exit, probe_tokens = saved_by(routing, report, reference)
        answered = report.profile if report is not None else routing.profile
        money = self.gateway.ready_pipeline().money(
            routing, answered, int(prompt_tokens), int(completion_tokens), savings
        )
        store_text = self.settings.ledger.store_text
        scrub = self.gateway.redactor.scrub
        return LedgerRecord(
            request_id=routing.request_id,
            time=time.time(),
            # What a caller wrote or an error said must not carry a key into the ledger.
            model=scrub(routing.model),
            profile=report.profile if report is not None else routing.profile,
            decision_reason=scrub(routing.decision.reason),
            predictions={
                n: {"p_correct": p.p_correct, "tokens": p.tokens}
                for n, p in routing.predictions.items()
            },
            difficulty=routing.difficulty,
            novelty=routing.novelty,
            novel=routing.novel,
            reference_profile=reference,
            prompt_tokens=int(prompt_tokens),
            completion_tokens=int(completion_tokens),
            tokens_counted=counted,
            reference_tokens_estimate=ref_pred.tokens if ref_pred is not None else None,
            saved_tokens_estimate=float(sum(savings.values())),
            saved_by=savings,
            early_exit=early_exit,
            probe_tokens=probe_tokens,
            samples=report.search.samples if report and report.search else None,
            search=report.search.to_json() if report and report.search else None,
            key=self.caller.name if self.caller is not None else None,
            latency_ms=(time.perf_counter() - self.started) * 1000.0,
            ttft_ms=self.ttft_ms,
            stream=self.chat.stream,
            status=self.status,
            error=None if self.error is None else scrub(self.error),
            prompt=self.chat.transcript if store_text else None,
            completion=completion_text if store_text else None,
            endpoint=self.endpoint,
            reasoning=describe(received.choice(0).message(), received.usage),
            effort=self.effort.record() if self.effort is not None else None,
            cost=money.cost,
            reference_cost=money.reference,
            saved_cost=money.saved,
        )


def _finishes(chunk: dict[str, Any]) -> bool:
    return any(c.get("finish_reason") for c in chunk.get("choices") or ())
