"""Live early exit: relay a thinking stream through the convergence watcher and cut it once its
answer has settled.

The watcher (`policies.convergence`) reads the reasoning as it streams (`reasoning_content`
deltas, or `<think>...</think>` inside content). When it calls the answer settled, the upstream
connection is closed, so the server stops generating, and the caller still gets a well-formed
end: the answer from a short continuation with the thinking closed (where the profile allows
prefilling), otherwise the converged candidate, then the final chunk and usage.

In probe mode (`router.probe_run`) the exit comes instead from k agreeing answers of probes sent
beside the stream to the endpoint's text-completions API; their tokens are counted as spent.
Calibrated like the text watcher: the streak k is certified per model under the key
(model, "<family>/probe") from shadow streams, which run whole while probed and also give the
text watcher's key a record (a shadow stream is a sample of the traffic whichever mode chose it).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from difficulty.answers import stated_answer
from difficulty.errors import ThinkgateError
from difficulty.tokens import count_tokens
from policies.convergence import (
    ABSTAIN_TEXT,
    THINK_CLOSE,
    THINK_OPEN,
    CalibrationSettings,
    ConvergenceWatcher,
    ExitDecision,
    ShadowRecord,
    WatcherParams,
    estimated_tokens_saved,
    final_answer_text,
)
from policies.convergence.probe import probe_k
from router.calibrator import ExitCalibrator
from router.chat_request import content_text
from router.dialects import DialectReader
from router.probe_run import ProbeRunner
from router.settings import ProfileSettings
from router.sources import EarlyExitReport, SourceReport
from router.upstream import Upstream, UpstreamStream, uses_http_transport

__all__ = [
    "WatchedStream",
    "open_watched",
    "ANSWER_MAX_TOKENS",
    "continuation_messages",
    "shadow_final",
]

# The continuation only has to state the answer, but worked answers (QwQ on MATH) run to
# ~1,000 tokens and a cut-off one loses its \boxed{} (seen in the demo at 512).
ANSWER_MAX_TOKENS = 1024


def shadow_final(content: str, thinking: str) -> str | None:
    """The answer a shadow stream ended with, that calibration compares exits against: the one
    its response states (`difficulty.answers.stated_answer`), or its thinking's when it wrote no
    response outside the thinking. None, so that every exit on it counts as a changed answer,
    for a free-form response that states none (an email, a list): whether a cut kept such an
    answer cannot be checked, and a number it happens to mention is no agreement."""
    if content.strip():
        return stated_answer(content)
    return stated_answer(thinking)


def continuation_messages(messages: list[dict[str, Any]], reasoning: str) -> list[dict[str, Any]]:
    """The request for the final answer: the thinking so far, closed, as the assistant's prefill."""
    prefill = f"{THINK_OPEN}\n{reasoning.rstrip()}\n{THINK_CLOSE}\n\n"
    return [*messages, {"role": "assistant", "content": prefill}]


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


class WatchedStream:
    """An upstream stream relayed through the convergence watcher; ends early on convergence."""

    def __init__(
        self,
        upstream: Upstream,
        stream: UpstreamStream,
        routed: str,
        profile: ProfileSettings,
        messages: list[dict[str, Any]],
        params: Mapping[str, Any],
        expected_tokens: float | None,
        calibrator: ExitCalibrator | None = None,
        request_id: str = "",
    ) -> None:
        self.upstream = upstream
        self.stream = stream
        self.settings = profile
        self.messages = messages
        self.params = params
        self.expected_tokens = expected_tokens  # the difficulty model's forecast for the profile
        self.watcher: ConvergenceWatcher | None = None
        self.prober: ProbeRunner | None = None
        self.calibrator: ExitCalibrator | None = None  # set when the text watcher calibrates
        if profile.probes and profile.probe is not None:
            if stream.profile == routed:  # a fallback's server is not the one to probe
                turns = [
                    (str(m.get("role", "user")), content_text(m.get("content"))) for m in messages
                ]
                k, shadow = self._probe_calibration(profile, calibrator, request_id)
                self.prober = ProbeRunner(
                    upstream, stream.profile, profile.probe, turns, k=k, shadow=shadow
                )
                if shadow:  # the text watcher reads the same stream, in shadow
                    self.watcher = ConvergenceWatcher(WatcherParams(), shadow=True)
        else:
            self.watcher = self._watcher(profile, calibrator, request_id)
        # Every reasoning dialect is watched; a template-opened one (no `<think>`, only
        # `</think>`) is declared by `reasoning_format` or, on a self-hosted endpoint, read
        # from the first chunks (router.dialects).
        self.reader = DialectReader(profile.reasoning_format, thinking=uses_http_transport(profile))
        self.reasoning: list[str] = []
        self.answering = False  # the model has started its visible answer: stop watching
        self.exit: EarlyExitReport | None = None
        self._exiting = False  # the chunk just handed on is the last before an exit
        self.content: list[str] = []

    @property
    def _loop_action(self) -> str:
        return self.watcher.params.loop_action if self.watcher is not None else "off"

    def _watcher(
        self, profile: ProfileSettings, calibrator: ExitCalibrator | None, request_id: str
    ) -> ConvergenceWatcher:
        """The text watcher: at the threshold certified for this model, or in shadow."""
        params = WatcherParams.from_config(profile.convergence)
        config = profile.convergence or {}
        calibration = config.get("calibration")
        off = calibration is False or (
            isinstance(calibration, Mapping) and calibration.get("enabled") is False
        )
        if calibrator is None or off or params.rule != "learned":
            return ConvergenceWatcher(params)
        settings = CalibrationSettings.from_config(
            calibration if isinstance(calibration, Mapping) else None
        )
        book = calibrator.book(settings)
        self.calibrator = calibrator
        family = params.calibration_family(str(config.get("family", "default")))
        self.key = (profile.upstream_name, family)
        self.threshold = book.threshold(*self.key)
        certified = book.certified(*self.key)
        # Before certification every stream runs whole (nothing is cut, so it costs nothing).
        shadow = self.threshold is None or book.shadow(*self.key, request_id)
        self.shadow_threshold = self.threshold if certified else None
        return ConvergenceWatcher(params, threshold=self.threshold, shadow=shadow)

    def _probe_calibration(
        self, profile: ProfileSettings, calibrator: ExitCalibrator | None, request_id: str
    ) -> tuple[int | None, bool]:
        """(the certified streak or None, whether this stream is a shadow) in probe mode."""
        config = profile.probe.calibration if profile.probe is not None else False
        if calibrator is None or config is False:
            return None, False
        settings = CalibrationSettings.from_config(config if isinstance(config, Mapping) else None)
        book = calibrator.book(settings)
        self.calibrator = calibrator
        self.key = (profile.upstream_name, WatcherParams().calibration_family("default"))
        self.probe_key = (profile.upstream_name, "default/probe")
        self.threshold = threshold = book.threshold(*self.probe_key)
        self.shadow_threshold = threshold if book.certified(*self.probe_key) else None
        shadow = threshold is None or book.shadow(*self.probe_key, request_id)
        return (None if threshold is None else probe_k(threshold)), shadow

    @property
    def profile(self) -> str:
        """The profile answering (a fallback after failover)."""
        return self.stream.profile

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def aclose(self) -> None:
        """Close the upstream connection and cancel the probe in flight."""
        await self.stream.aclose()
        if self.prober is not None:
            await self.prober.aclose()

    def buffered(self) -> int:
        """Chunks the upstream already holds, so the relay sends them in one write as it does
        for an unwatched stream (one write a chunk cost watching ~30% more CPU per stream);
        none once an exit is decided, whose answer is awaited before the next chunk."""
        return 0 if self._exiting else self.stream.buffered()

    def report(self) -> SourceReport:
        """The profile that answered, the exit (if any) and the probes' spending."""
        probes = self.prober.report() if self.prober is not None else None
        return SourceReport(
            self.profile, usage_counted=self.exit is not None, early_exit=self.exit, probes=probes
        )

    def _think(self, thought: str) -> ExitDecision | None:
        if self.prober is not None:
            if self.watcher is not None:  # a shadow: the text watcher only keeps its trail
                self.watcher.feed(thought)
            return self.prober.feed(thought)
        if self.watcher is not None:
            return self.watcher.feed(thought)
        return None

    def _read(self, chunk: dict[str, Any]) -> Iterator[tuple[str, str]]:
        """(thinking, answer text) of the first choice's delta, through the dialect reader."""
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) == 0:
                yield self.reader.read(choice.get("delta") or {})

    def _watch(self, chunk: dict[str, Any]) -> ExitDecision | None:
        decision = None
        for thought, content in self._read(chunk):
            if content:
                self.content.append(content)
            if self.reader.answering:
                self.answering = True
            if thought and not self.answering:
                self.reasoning.append(thought)
                decision = self._think(thought) or decision
        if decision is None and self.prober is not None and not self.answering:
            decision = self.prober.poll()  # a probe may answer between thinking deltas
        return decision

    def _keep_answer(self, chunk: dict[str, Any]) -> None:
        """A shadow stream keeps its whole response, the answer its record is judged by (the
        watcher stops reading at the first answer delta)."""
        if self.watcher is None or not self.watcher.shadow:
            return
        self.content.extend(content for _, content in self._read(chunk) if content)

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        async for chunk in self.stream:
            if self.answering:
                self._keep_answer(chunk)
                decision = None
            else:
                decision = self._watch(chunk)
            self._exiting = decision is not None
            yield chunk
            if decision is not None:
                await self.stream.aclose()  # the server sees the disconnect and stops
                # The ending chunks copy the last chunk's (read here, not per chunk).
                template: dict[str, Any] = {
                    k: chunk[k] for k in ("object", "created") if k in chunk
                }
                async for end in self._finish(decision, template):
                    yield end
                return
        await self._record_shadow()

    async def _record_shadow(self) -> None:
        """A shadow stream ran whole: store where the watcher (and the probes) would have
        exited, and the end."""
        watcher = self.watcher
        if self.calibrator is None or watcher is None or not watcher.shadow:
            return
        final = shadow_final("".join(self.content), watcher.text)
        model, family = self.key
        record = ShadowRecord(model, family, tuple(watcher.trail), watcher.tokens, final)
        if self.prober is None:
            await self.calibrator.record(record, self.shadow_threshold)
            return
        await self.calibrator.record(record, None)  # the text key: no text threshold forgone
        trail = tuple(self.prober.tracker.trail)
        probed = ShadowRecord(model, self.probe_key[1], trail, watcher.tokens, final)
        await self.calibrator.record(probed, self.shadow_threshold)

    async def _answer(self, decision: ExitDecision) -> tuple[str, int | None, str]:
        # A loop stopped: abstain when configured, or when there is nothing to answer from.
        nothing = not decision.answer and not self.settings.prefill
        if decision.loop and (self._loop_action == "abstain" or nothing):
            return ABSTAIN_TEXT, None, "abstain"
        if self.settings.prefill:
            params = _merge(self.params, self.settings.prefill_params)
            params["max_tokens"] = ANSWER_MAX_TOKENS
            messages = continuation_messages(self.messages, "".join(self.reasoning))
            try:
                text, tokens = await self.upstream.complete_text(self.profile, messages, params)
            except ThinkgateError:
                text, tokens = "", None
            if text.strip():
                return text, tokens, "continuation"
        return final_answer_text(decision), None, "probe" if self.prober else "candidate"

    async def _finish(
        self, decision: ExitDecision, template: dict[str, Any]
    ) -> AsyncIterator[dict[str, Any]]:
        base = template or {"object": "chat.completion.chunk", "created": int(time.time())}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        answer, answer_tokens, source = await self._answer(decision)
        if self.reader.in_think:
            answer = f"\n{THINK_CLOSE}\n\n" + answer  # keep <think>-in-content output well formed
        yield chunk({"content": answer})
        yield chunk({}, "stop")
        # Stripped: `<think>\n` leaves a newline no other dialect has.
        reasoning_tokens = count_tokens("".join(self.reasoning).strip())
        completion = reasoning_tokens + (answer_tokens or count_tokens(answer))
        prompt = count_tokens("\n".join(content_text(m.get("content")) for m in self.messages))
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        self.exit = EarlyExitReport(
            tokens_at_exit=reasoning_tokens,
            checkpoint=decision.checkpoint,
            answer=decision.answer,
            answer_from=source,
            expected_tokens=self.expected_tokens,
            saved=float(estimated_tokens_saved(decision, self.expected_tokens)),
        )
        yield {**base, "choices": [], "usage": usage}


async def open_watched(
    upstream: Upstream,
    name: str,
    profile: ProfileSettings,
    messages: list[dict[str, Any]],
    params: Mapping[str, Any],
    expected_tokens: float | None,
    calibrator: ExitCalibrator | None = None,
    request_id: str = "",
) -> WatchedStream:
    """Open the upstream stream of thinking profile `name` with the watcher on."""
    stream = await upstream.open(name, messages, params)
    if calibrator is not None:
        await calibrator.refresh()
    return WatchedStream(
        upstream, stream, name, profile, messages, params, expected_tokens, calibrator, request_id
    )
