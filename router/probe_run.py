"""Probe mode's I/O edge: send the probes `policies.convergence.probe` asks for, beside the stream.

Each probe is a background task on the profile's text-completions endpoint; the stream never
waits for one. Answers are collected as later chunks go by; closing cancels the probe in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from difficulty.errors import ThinkgateError
from policies.convergence import (
    DEFAULT_MARKERS,
    DEFAULT_SUFFIX,
    ExitDecision,
    ProbeParams,
    ProbeRequest,
    ProbeTracker,
    chatml_prompt,
)
from router.errors import UpstreamRejectedError
from router.settings import ProbeSettings
from router.sources import ProbeReport
from router.upstream import Upstream

__all__ = ["ProbeRunner", "probe_params"]

# An endpoint that failed this many probes in a row is not asked again for this stream; one that
# refused a probe (its 4xx: e.g. the prompt is over its context) at once, since every later probe
# carries the same fields and a longer prompt.
_MAX_FAILURES = 3

_Reply = tuple[str, int | None, int | None]


def probe_params(settings: ProbeSettings, k: int | None = None) -> ProbeParams:
    """The pure tracker's params from a profile's probe settings (unset: the defaults); `k`, a
    calibrated streak, overrides the configured one."""
    defaults = ProbeParams()
    configured = settings.k if settings.k is not None else defaults.k
    return ProbeParams(
        k=k if k is not None else configured,
        interval_tokens=settings.interval_tokens or defaults.interval_tokens,
        min_tokens=settings.min_tokens if settings.min_tokens is not None else defaults.min_tokens,
        markers=tuple(settings.markers) if settings.markers is not None else DEFAULT_MARKERS,
        suffix=settings.suffix if settings.suffix is not None else DEFAULT_SUFFIX,
    )


class ProbeRunner:
    """Probes one thinking stream: feed it thinking, poll it for the exit, close it at the end."""

    def __init__(
        self,
        upstream: Upstream,
        profile: str,
        settings: ProbeSettings,
        turns: Sequence[tuple[str, str]],
        *,
        k: int | None = None,
        shadow: bool = False,
    ) -> None:
        self.upstream = upstream
        self.profile = profile
        self.settings = settings
        prompt = chatml_prompt(turns, system=settings.system, think_open=settings.think_open)
        self.tracker = ProbeTracker(probe_params(settings, k), prompt, shadow=shadow)
        self.failures = 0
        self.failed = 0
        self.cancelled = 0
        self._task: asyncio.Task[_Reply] | None = None

    def feed(self, thinking: str) -> ExitDecision | None:
        """Add thinking; send a probe if one is due; the exit if a finished probe called it."""
        self.tracker.feed(thinking)
        decision = self.poll()
        if decision is None and self.failures < _MAX_FAILURES and self.tracker.due():
            self._task = asyncio.create_task(self._send(self.tracker.start()))
        return decision

    def poll(self) -> ExitDecision | None:
        """Read the probe in flight if it has finished (never waits)."""
        task = self._task
        if task is None or not task.done():
            return None
        self._task = None
        if task.cancelled():
            self.tracker.cancel()
            return None
        error = task.exception()
        if error is not None:
            refused = isinstance(error, UpstreamRejectedError)
            self.failures = _MAX_FAILURES if refused else self.failures + 1
            self.failed += 1
            self.tracker.cancel()
            return None
        self.failures = 0
        text, prompt_tokens, completion_tokens = task.result()
        if completion_tokens is None:
            from difficulty.tokens import count_tokens

            completion_tokens = count_tokens(text)
        return self.tracker.finish(
            text, completion_tokens=completion_tokens, prompt_tokens=prompt_tokens or 0
        )

    async def _send(self, request: ProbeRequest) -> _Reply:
        return await self.upstream.complete_prompt(
            self.profile,
            request.prompt,
            max_tokens=self.settings.max_tokens,
            api_base=self.settings.api_base,
            model=self.settings.model,
            timeout_s=self.settings.timeout_s,
        )

    async def aclose(self) -> None:
        """Cancel the probe in flight (its answer would come too late to matter)."""
        task = self._task
        if task is None:
            return
        if task.done():
            self.poll()  # answered but not yet read: its tokens were spent all the same
            return
        self._task = None
        task.cancel()
        self.cancelled += 1
        with contextlib.suppress(asyncio.CancelledError, ThinkgateError, Exception):
            await task
        self.tracker.cancel()

    def report(self) -> ProbeReport:
        """The probes so far: how many, what they said, the tokens they spent."""
        tracker = self.tracker
        return ProbeReport(
            probes=len(tracker.results),
            probe_tokens=tracker.probe_tokens,
            probe_prompt_tokens=tracker.probe_prompt_tokens,
            cancelled=self.cancelled,
            failed=self.failed,
            answers=tuple(r.to_json() for r in tracker.results),
        )
