"""What a search sends its caller: progress while samples run, then the chosen answer(s).

Progress is an SSE comment (`: ...`, which OpenAI clients skip) or a reasoning delta; the answer
is the voted sample's reasoning and content, one choice per requested `n` (the voted answer
first, then the best of the other answers), and the usage of the samples counted (cancelled
ones are not billed); the call adds the search's facts to the finishing chunk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from policies.search import AdaptiveVote, cluster_answers

__all__ = ["COMMENT", "Sample", "answer_chunks", "progress_chunk", "progress_text"]

# A chunk carrying this key is written to the caller as an SSE comment, not as data.
COMMENT = "thinkgate_comment"


@dataclass(frozen=True)
class Sample:
    """One finished sample: its text, answer, tokens, and (with a verifier) score and weight."""

    content: str
    reasoning: str
    answer: str | None
    completion_tokens: int
    prompt_tokens: int
    finish_reason: str
    score: float | None = None
    weight: float = 1.0


def progress_text(vote: AdaptiveVote) -> str:
    """One line on how the samples agree so far."""
    agree = max(vote.counts.values(), default=0)
    return (
        f"thinkgate search: {vote.samples} sample{'s' * (vote.samples != 1)}, {agree} agree; "
        f"P(majority) {vote.posterior:.3f} (stop at {vote.plan.threshold})"
    )


def progress_chunk(vote: AdaptiveVote, how: str) -> dict[str, Any]:
    """Progress as an SSE comment marker or as a reasoning delta."""
    text = progress_text(vote)
    if how == "comment":
        return {COMMENT: text}
    choice = {"index": 0, "delta": {"reasoning_content": text + "\n"}, "finish_reason": None}
    return {"object": "chat.completion.chunk", "created": int(time.time()), "choices": [choice]}


def _ranked(samples: list[Sample], vote: AdaptiveVote, aggregate: str, n: int) -> list[Sample]:
    """The answer's sample first, then one sample per other answer by weight, then the rest."""
    keys = cluster_answers([s.answer for s in samples])
    chosen = vote.answer(aggregate)
    best_of = aggregate == "best_of_n"

    def rank(i: int) -> tuple[float, float, float]:
        k = keys[i]
        first = k >= 0 and keys.index(k) == i
        key_weight = vote.weights.get(k, 0.0) if first else -1.0
        return (
            -float(k == chosen),
            -key_weight,
            -(samples[i].score or 0.0) if best_of else float(i),
        )

    order = sorted(range(len(samples)), key=rank)
    if best_of and chosen is not None:
        # best-of-N returns the best-scored sample of the chosen answer, not its first.
        top = max((i for i in order if keys[i] == chosen), key=lambda i: samples[i].score or 0.0)
        order = [top, *(i for i in order if i != top)]
    return [samples[i] for i in order[:n]]


def answer_chunks(
    samples: list[Sample], vote: AdaptiveVote, aggregate: str, n: int = 1
) -> list[dict[str, Any]]:
    """The chunks that stream the chosen sample(s), the search's facts and the usage."""
    created = int(time.time())

    def chunk(choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {"object": "chat.completion.chunk", "created": created, "choices": choices}

    out = []
    chosen = _ranked(samples, vote, aggregate, n)
    for i, s in enumerate(chosen):
        out.append(chunk([{"index": i, "delta": {"role": "assistant"}, "finish_reason": None}]))
        if s.reasoning:
            delta = {"reasoning_content": s.reasoning}
            out.append(chunk([{"index": i, "delta": delta, "finish_reason": None}]))
        out.append(chunk([{"index": i, "delta": {"content": s.content}, "finish_reason": None}]))
        out.append(chunk([{"index": i, "delta": {}, "finish_reason": s.finish_reason}]))
    completion = sum(s.completion_tokens for s in samples)
    prompt = sum(s.prompt_tokens for s in samples)
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    out.append(chunk([]) | {"usage": usage | {"total_tokens": prompt + completion}})
    return out
