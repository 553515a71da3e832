"""The demo's traffic: every prompt through the gateway with the official `openai` client.

Streamed, a bounded number at a time, no client retries (a failure must show, not be hidden);
each graded answer is sent back as feedback so the dashboard can show accuracy too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from difficulty.answers import with_thinking

__all__ = ["Answer", "send_prompts"]


@dataclass(frozen=True)
class Answer:
    """What the client received for one prompt."""

    item_id: str
    request_id: str | None
    profile: str | None
    completion_tokens: int | None  # from the streamed usage
    reasoning: str
    content: str
    error: str | None = None

    @property
    def text(self) -> str:
        """Reasoning, closed, then the answer (the form answers are graded in)."""
        return with_thinking(self.reasoning, self.content)


async def _ask(client: Any, model: str, item_id: str, prompt: str) -> Answer:
    import openai

    request_id = profile = None
    reasoning: list[str] = []
    content: list[str] = []
    tokens: int | None = None
    try:
        raw = await client.chat.completions.with_raw_response.create(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            stream=True,
            stream_options={"include_usage": True},
        )
        request_id = raw.headers.get("x-thinkgate-request-id")
        profile = raw.headers.get("x-thinkgate-profile")
        stream = raw.parse()
        async for chunk in stream:
            if chunk.usage is not None:
                tokens = chunk.usage.completion_tokens
            for choice in chunk.choices:
                delta = choice.delta
                # reasoning_content is not in the OpenAI schema; the client keeps it as an extra.
                thought = getattr(delta, "reasoning_content", None)
                if thought:
                    reasoning.append(str(thought))
                if delta.content:
                    content.append(delta.content)
    except openai.OpenAIError as exc:
        error = f"{type(exc).__name__}: {exc}"
        return Answer(item_id, request_id, profile, tokens, "".join(reasoning), "", error)
    answer = Answer(item_id, request_id, profile, tokens, "".join(reasoning), "".join(content))
    if tokens is None:
        return replace(answer, error="the stream ended without usage")
    return answer


async def send_prompts(
    base_url: str,
    prompts: Sequence[tuple[str, str]],
    *,
    model: str,
    concurrency: int,
    grade: Callable[[Answer], bool | None] | None = None,
    on_done: Callable[[Answer], None] | None = None,
    timeout_s: float = 300.0,
) -> list[Answer]:
    """Send (item id, prompt) pairs, `concurrency` at a time; answers in the prompts' order."""
    import httpx
    import openai

    gate = asyncio.Semaphore(concurrency)
    async with (
        httpx.AsyncClient(timeout=timeout_s) as http,
        openai.AsyncOpenAI(
            base_url=base_url, api_key="thinkgate-demo", max_retries=0, timeout=timeout_s
        ) as client,
    ):

        async def one(item_id: str, prompt: str) -> Answer:
            async with gate:
                answer = await _ask(client, model, item_id, prompt)
                correct = grade(answer) if grade is not None and answer.error is None else None
                if correct is not None and answer.request_id:
                    response = await http.post(
                        f"{base_url}/feedback",
                        json={"request_id": answer.request_id, "correct": correct},
                    )
                    if response.status_code != 200:
                        answer = replace(answer, error=f"feedback: HTTP {response.status_code}")
            if on_done is not None:
                on_done(answer)
            return answer

        return list(await asyncio.gather(*(one(i, p) for i, p in prompts)))
