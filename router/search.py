"""Search profiles: sample in concurrent waves, vote, stop adaptively, return the majority's answer.

Samples of a wave run concurrently; each finished sample is voted on at once (answers grouped
by the shared normaliser), and once policies.search.vote says the leader is safe the samples
still running are cancelled. The winning sample's full response is then streamed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from difficulty.answers import extract_answer
from difficulty.errors import ThinkgateError
from policies.decision import SamplingPlan
from policies.search import AdaptiveVote, cluster_answers
from router.settings import SearchSettings
from router.sources import SearchReport, SourceReport, StaticSource
from router.streaming import Accumulator
from router.upstream import Upstream

__all__ = ["Sample", "SearchResult", "run_search", "open_search"]


@dataclass
class Sample:
    """One finished sample: its text, answer and tokens."""

    content: str
    reasoning: str
    answer: str | None
    completion_tokens: int
    prompt_tokens: int
    finish_reason: str


@dataclass
class SearchResult:
    """The voted sample and every sample that was counted."""

    winner: Sample
    samples: list[Sample]
    max_samples: int
    profile: str


async def _draw(
    upstream: Upstream, profile: str, messages: list[dict[str, Any]], params: Mapping[str, Any]
) -> tuple[Sample, str]:
    from difficulty.tokens import count_tokens

    stream = await upstream.open(profile, messages, params)
    acc = Accumulator()
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
        answer=extract_answer(content) if content else None,
        completion_tokens=int(usage.get("completion_tokens") or count_tokens(reasoning + content)),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        finish_reason=acc.finish.get(0) or "stop",
    )
    return sample, stream.profile


async def run_search(
    upstream: Upstream,
    profile: str,
    plan: SamplingPlan,
    wave: int,
    messages: list[dict[str, Any]],
    params: Mapping[str, Any],
) -> SearchResult:
    """Draw samples wave by wave until the adaptive vote stops; errors only if none succeeds."""
    vote = AdaptiveVote(plan)
    samples: list[Sample] = []
    answered_by = profile
    last_error: ThinkgateError | None = None
    drawn = 0
    while not vote.done and drawn < plan.max_samples:
        size = min(wave, plan.max_samples - drawn)
        drawn += size
        tasks = [
            asyncio.create_task(_draw(upstream, profile, messages, params)) for _ in range(size)
        ]
        try:
            for next_done in asyncio.as_completed(tasks):
                try:
                    sample, answered_by = await next_done
                except ThinkgateError as err:
                    last_error = err
                    continue
                samples.append(sample)
                keys = cluster_answers([s.answer for s in samples])
                if vote.add(keys[-1]):
                    break
        finally:
            for task in tasks:
                task.cancel()  # decided (or abandoned): stop generating the rest
            with anyio.CancelScope(shield=True):  # let them close their connections
                await asyncio.gather(*tasks, return_exceptions=True)
        if not samples and last_error is not None:
            raise last_error
    keys = cluster_answers([s.answer for s in samples])
    leader = vote.leader
    winner = samples[keys.index(leader)] if leader is not None else samples[0]
    return SearchResult(winner, samples, plan.max_samples, answered_by)


def _chunks(result: SearchResult) -> list[dict[str, Any]]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {"object": "chat.completion.chunk", "created": created, "choices": [choice]}

    w = result.winner
    out = [chunk({"role": "assistant"})]
    if w.reasoning:
        out.append(chunk({"reasoning_content": w.reasoning}))
    out.append(chunk({"content": w.content}))
    final = chunk({}, w.finish_reason)
    final["thinkgate"] = {"samples": len(result.samples), "max_samples": result.max_samples}
    out.append(final)
    completion = sum(s.completion_tokens for s in result.samples)
    prompt = sum(s.prompt_tokens for s in result.samples)
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    out.append(
        {"object": "chat.completion.chunk", "created": created, "choices": [], "usage": usage}
    )
    return out


async def open_search(
    upstream: Upstream,
    profile: str,
    plan: SamplingPlan,
    search: SearchSettings | None,
    messages: list[dict[str, Any]],
    params: Mapping[str, Any],
) -> StaticSource:
    """Run the search for a routed request; its voted answer as a source, with the report."""
    wave = search.wave if search is not None else plan.max_samples
    draw_params = {k: v for k, v in params.items() if k != "n"}
    if search is not None and "temperature" not in draw_params:
        draw_params["temperature"] = search.temperature
    result = await run_search(upstream, profile, plan, wave, messages, draw_params)
    drawn = len(result.samples)
    per_sample = sum(s.completion_tokens for s in result.samples) / max(drawn, 1)
    saved = float((plan.max_samples - drawn) * per_sample)
    report = SourceReport(result.profile, search=SearchReport(drawn, plan.max_samples, saved))
    return StaticSource(_chunks(result), report)
