"""Search profiles: draw samples as the vote needs them, stop when it says, stream the answer.

No more samples run at once than could end the search (`AdaptiveVote.needed`, capped by the
profile's `wave`); each finished sample is scored by the verifier when there is one, weighed
and voted on (`policies.search`); progress goes to the client while samples run (SSE comments
or reasoning deltas); once the vote stops, samples still running are cancelled (their tokens
are not billed, and are taken off the sampling saving) and the chosen answer streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import anyio

from difficulty.answers import stated_answer
from difficulty.errors import InvalidInputError, ThinkgateError
from difficulty.tokens import count_tokens
from policies.decision import SamplingPlan
from policies.search import AdaptiveVote, cluster_answers, sample_weight
from router.search_answer import COMMENT, Sample, answer_chunks, progress_chunk
from router.settings import ProfileSettings, SearchSettings
from router.sources import SearchReport, SourceReport
from router.streaming import Accumulator
from router.upstream import Upstream
from router.verifier import Verifier

__all__ = ["COMMENT", "SearchSource", "open_search"]


@dataclass
class _Draw:
    """One sample in flight: its task, what it has streamed so far, whether it has started."""

    task: asyncio.Task[tuple[Sample, str]]
    acc: Accumulator
    opened: asyncio.Event


class SearchSource:
    """A chunk source that runs a search: progress while samples run, then the voted answer."""

    def __init__(
        self,
        upstream: Upstream,
        profile: str,
        plan: SamplingPlan,
        settings: SearchSettings,
        messages: list[dict[str, Any]],
        params: Mapping[str, Any],
        verifier: Verifier | None = None,
        n: int = 1,
    ) -> None:
        self.upstream, self.plan, self.settings = upstream, plan, settings
        self.messages, self.params, self.verifier, self.n = messages, params, verifier, n
        self.prompt = next(
            (str(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        # best-of-N picks by score, so answerless samples (free-form text) still compete.
        self.vote = AdaptiveVote(plan, settle_answerless=settings.aggregate != "best_of_n")
        self.samples: list[Sample] = []
        self.running: list[_Draw] = []
        self.started = 0
        self.cancelled = 0
        self.cancelled_tokens = 0
        self.verifier_calls = 0
        self.verifier_tokens = 0
        self.verifier_failures = 0
        self.last_error: ThinkgateError | None = None
        self._profile = profile

    @property
    def profile(self) -> str:
        """The profile that answered (a fallback after failover)."""
        return self._profile

    # -- drawing ------------------------------------------------------------------------------

    async def _draw(self, acc: Accumulator, opened: asyncio.Event) -> tuple[Sample, str]:
        stream = await self.upstream.open(self._profile, self.messages, self.params)
        opened.set()
        try:
            async for chunk in stream:
                acc.add(chunk)
        finally:
            await stream.aclose()
        content, reasoning = acc.text(0), acc.reasoning_text(0)
        usage = acc.usage or {}
        sample = Sample(
            content=content,
            reasoning=reasoning,
            answer=stated_answer(content),
            completion_tokens=int(
                usage.get("completion_tokens") or count_tokens(reasoning + content)
            ),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            finish_reason=acc.finish.get(0) or "stop",
        )
        return sample, stream.profile

    def _top_up(self) -> None:
        """Start samples until as many run as could end the search (at most `wave`)."""
        want = min(self.settings.wave, self.vote.needed())
        while len(self.running) < want and self.started < self.plan.max_samples:
            acc, opened = Accumulator(), asyncio.Event()
            task = asyncio.create_task(self._draw(acc, opened))
            self.running.append(_Draw(task, acc, opened))
            self.started += 1

    async def start(self) -> None:
        """Start the first samples and wait until one streams (or every one has failed), so
        an upstream that is down fails the request before it is answered."""
        self._top_up()
        while self.running:
            waits = [asyncio.ensure_future(d.opened.wait()) for d in self.running]
            tasks = [d.task for d in self.running]
            done, _ = await asyncio.wait([*waits, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
            if any(d.opened.is_set() for d in self.running):
                return
            for d in [d for d in self.running if d.task.done()]:
                await self._take(d)
            if self.vote.done or not self.running:
                break
        if not self.samples and self.last_error is not None:
            raise self.last_error

    async def _take(self, draw: _Draw) -> bool:
        """Count one finished sample (a failed one counts nothing); whether the vote stopped."""
        self.running.remove(draw)
        try:
            sample, self._profile = draw.task.result()
        except ThinkgateError as err:
            self.last_error = err
            return False
        if self.verifier is not None and sample.content:
            sample = await self._verify(sample)
        sample = replace(sample, weight=self._weight(sample))
        self.samples.append(sample)
        key = cluster_answers([s.answer for s in self.samples])[-1]
        finished = sample.finish_reason == "stop"
        return self.vote.add(key, sample.weight, sample.score, finished=finished)

    async def _verify(self, sample: Sample) -> Sample:
        """The sample with the verifier's score; unscored (weighed by length) if it fails."""
        assert self.verifier is not None
        self.verifier_calls += 1
        try:
            verdict = await self.verifier.score(self.prompt, sample.content)
        except ThinkgateError:
            self.verifier_failures += 1
            return sample
        self.verifier_tokens += verdict.prompt_tokens + verdict.completion_tokens
        return replace(sample, score=verdict.score)

    def _weight(self, sample: Sample) -> float:
        return sample_weight(
            sample.completion_tokens,
            self.plan.typical_tokens,
            sample.score,
            verifier=self.verifier.confidence if self.verifier is not None else None,
        )

    # -- relaying -----------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        try:
            while not self.vote.done and (self.running or self.started < self.plan.max_samples):
                self._top_up()
                if not self.running:
                    break
                await asyncio.wait(
                    [d.task for d in self.running], return_when=asyncio.FIRST_COMPLETED
                )
                for draw in [d for d in self.running if d.task.done()]:
                    stopped = await self._take(draw)
                    if self.settings.progress != "none":
                        yield progress_chunk(self.vote, self.settings.progress)
                    if stopped:
                        break
        finally:
            await self._cancel()
        if not self.samples:
            raise self.last_error or InvalidInputError("the search drew no sample")
        for chunk in answer_chunks(self.samples, self.vote, self.settings.aggregate, self.n):
            yield chunk

    async def _cancel(self) -> None:
        """Cancel the samples still running: counted apart, with what they had streamed."""
        running, self.running = self.running, []
        for draw in running:
            draw.task.cancel()
        with anyio.CancelScope(shield=True):  # let them close their connections
            await asyncio.gather(*(d.task for d in running), return_exceptions=True)
        for draw in running:
            self.cancelled += 1
            self.cancelled_tokens += count_tokens(draw.acc.reasoning_text(0) + draw.acc.text(0))

    async def aclose(self) -> None:
        """Stop: cancel every sample still running."""
        await self._cancel()

    def report(self) -> SourceReport:
        """The samples counted and cancelled, the verifier's calls, the tokens not spent."""
        drawn = len(self.samples)
        per_sample = sum(s.completion_tokens for s in self.samples) / max(drawn, 1)
        saved = (self.plan.max_samples - drawn) * per_sample - self.cancelled_tokens
        search = SearchReport(
            samples=drawn,
            max_samples=self.plan.max_samples,
            saved=float(saved),
            cancelled=self.cancelled,
            cancelled_tokens=self.cancelled_tokens,
            verifier_calls=self.verifier_calls,
            verifier_tokens=self.verifier_tokens,
            verifier_failures=self.verifier_failures,
        )
        return SourceReport(self._profile, search=search)


async def open_search(
    upstream: Upstream,
    profile: str,
    plan: SamplingPlan,
    profiles: Mapping[str, ProfileSettings],
    messages: list[dict[str, Any]],
    params: Mapping[str, Any],
    *,
    n: int = 1,
) -> SearchSource:
    """Start the search for a routed request on `profile` (its verifier from `profiles`); the
    source streams progress, then the answer. A client's `n` is the fewest samples drawn and
    the number of choices returned.
    """
    search = profiles[profile].search
    settings = search or SearchSettings(max_samples=plan.max_samples, wave=plan.max_samples)
    verifier = None
    if settings.verifier is not None:
        verifier = Verifier(upstream, settings.verifier, profiles[settings.verifier])
    if n > plan.max_samples:
        raise InvalidInputError(
            f"n = {n} is more than this search draws (max_samples {plan.max_samples})", param="n"
        )
    plan = replace(plan, min_samples=max(plan.min_samples, n))
    draw_params = {k: v for k, v in params.items() if k != "n"}
    if "temperature" not in draw_params:
        draw_params["temperature"] = settings.temperature
    source = SearchSource(upstream, profile, plan, settings, messages, draw_params, verifier, n)
    await source.start()
    return source
