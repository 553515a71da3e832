"""Recorded searches in the replay upstream: successive samples, and the verifier's scores.

A row whose samples carry their text (e.g. `qwen25-math-eval`) answers the same prompt with its
next recorded sample on every request, in the recorded order, so a search against the replay
draws exactly the samples the recording holds. The recorded scores answer a reward model's
`/pooling` and `/score` calls (vLLM's shapes) and an LLM judge's chat call (the grade alone),
found by the (prompt, answer) pair; unknown pairs are a 404.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request

from difficulty.errors import InvalidInputError
from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens
from router.chat_request import parse_json
from router.replay.catalog import UnknownPromptError, normalise_prompt

__all__ = ["SampleBook", "JUDGE_MODEL", "score_routes", "has_sample_texts"]

# Chat requests naming this model are answered as a judge: the recorded score, rounded.
JUDGE_MODEL = "replay-judge"
# router.verifier.JUDGE_TEMPLATE's layout (answers hold blank lines: read to the question).
_JUDGED = re.compile(
    r"Problem:\n(?P<prompt>.*?)\n\nProposed answer:\n(?P<answer>.*)\n\nHow likely", re.S
)


def has_sample_texts(outcome: Outcome) -> bool:
    """Whether the row's samples carry their text (so it can answer as a search)."""
    return bool(outcome.samples) and all(s.text for s in outcome.samples or ())


class SampleBook:
    """Per (profile, prompt): which recorded sample comes next; and every scored sample."""

    def __init__(self, outcomes: Sequence[Outcome]) -> None:
        self.turns: dict[tuple[str, str], int] = {}
        self._views: dict[tuple[int, int], Outcome] = {}
        self.scores: dict[tuple[str, str], float] = {}
        for o in outcomes:
            for s in o.samples or ():
                if s.text is not None and s.score is not None:
                    self.scores.setdefault((normalise_prompt(o.prompt), s.text.strip()), s.score)

    def next_sample(self, outcome: Outcome) -> Outcome:
        """The outcome as its next recorded sample (response = the sample's text)."""
        if not has_sample_texts(outcome):
            return outcome
        samples = outcome.samples or ()
        key = (outcome.profile, normalise_prompt(outcome.prompt))
        turn = self.turns.get(key, 0)
        self.turns[key] = turn + 1
        i = turn % len(samples)
        view = self._views.get((id(outcome), i))
        if view is None:  # kept, so the catalog's piece cache (by id) stays right
            view = replace(outcome, response=samples[i].text, reasoning=None, samples=None)
            self._views[(id(outcome), i)] = view
        return view

    def score(self, prompt: str, answer: str) -> float:
        """The recorded score of this answer to this prompt."""
        found = self.scores.get((normalise_prompt(prompt), answer.strip()))
        if found is None:
            raise UnknownPromptError(
                f"no recorded score for this answer to '{normalise_prompt(prompt)[:80]}'",
                param="input",
            )
        return found


def _book(request: Request) -> SampleBook:
    book: SampleBook = request.app.state.replay.samples
    return book


def _usage(*texts: str) -> dict[str, int]:
    tokens = sum(count_tokens(t) for t in texts)
    return {"prompt_tokens": tokens, "total_tokens": tokens}


def _pair(body: Any, first: str, second: str) -> tuple[str, str]:
    if not isinstance(body, dict) or not isinstance(body.get(first), str):
        raise InvalidInputError(f"give '{first}' and '{second}' as strings", param=first)
    other = body.get(second)
    if isinstance(other, list) and len(other) == 1:
        other = other[0]
    if not isinstance(other, str):
        raise InvalidInputError(f"give one '{second}' string", param=second)
    return body[first], other


score_routes = APIRouter()


@score_routes.post("/pooling")
async def pooling(request: Request) -> dict[str, Any]:
    """A reward model's score of a conversation (user prompt, assistant answer)."""
    body = parse_json(await request.body())
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or len(messages) < 2:
        raise InvalidInputError("give the prompt and the answer as messages", param="messages")
    prompt, answer = (str(m.get("content") or "") for m in (messages[-2], messages[-1]))
    value = _book(request).score(prompt, answer)
    data = [{"index": 0, "object": "pooling", "data": [value]}]
    return {"object": "list", "data": data, "usage": _usage(prompt, answer)}


@score_routes.post("/v1/score")
@score_routes.post("/score")
async def score(request: Request) -> dict[str, Any]:
    """A cross-encoder style score of `text_2` (the answer) against `text_1` (the prompt)."""
    prompt, answer = _pair(parse_json(await request.body()), "text_1", "text_2")
    value = _book(request).score(prompt, answer)
    data = [{"index": 0, "object": "score", "score": value}]
    return {"object": "list", "data": data, "usage": _usage(prompt, answer)}


def judge_reply(book: SampleBook, question: str) -> str:
    """A judge's grade (0 to 10) of the answer quoted in a grading prompt: the recorded reward
    score, clipped to the scale."""
    found = _JUDGED.search(question)
    if found is None:
        raise InvalidInputError("not a grading prompt this replay knows", param="messages")
    value = book.score(found["prompt"], found["answer"])
    return str(round(min(max(value, 0.0), 10.0), 2))
