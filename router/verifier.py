"""A verifier profile scoring one (prompt, answer) pair: a reward model or an LLM judge.

Three endpoint shapes, all OpenAI-compatible servers' (vLLM's for the first two):
`pooling` posts the conversation (prompt, then the answer as the assistant's turn) to
`/pooling` and reads the reward of its last token; `score` posts `text_1` = prompt and
`text_2` = answer to `{api_base}/score`; `judge` asks a chat model to grade the answer from 0 to
10 and reads the first number of its reply. Every call's tokens are counted for the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from difficulty.tokens import count_tokens
from policies.search import Confidence
from router.errors import UpstreamError
from router.settings import ProfileSettings, VerifierSettings
from router.upstream import Upstream, status_error, translate_error

__all__ = ["JUDGE_TEMPLATE", "Verdict", "Verifier", "post_json"]

JUDGE_TEMPLATE = (
    "Grade a proposed answer to a problem.\n\nProblem:\n{prompt}\n\nProposed answer:\n{answer}"
    "\n\nHow likely is the proposed final answer to be correct? Reply with one number from 0 "
    "(surely wrong) to 10 (surely right) and nothing else."
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Verdict:
    """A verifier's score of one answer and the tokens the call spent."""

    score: float
    prompt_tokens: int
    completion_tokens: int = 0


class Verifier:
    """Scores answers on one verifier profile (`profiles.<name>.verifier` in the config)."""

    def __init__(self, upstream: Upstream, name: str, profile: ProfileSettings) -> None:
        assert profile.verifier is not None
        self.upstream = upstream
        self.name = name
        self.profile = profile
        self.settings: VerifierSettings = profile.verifier

    @property
    def confidence(self) -> Confidence:
        """How a score becomes a vote weight (the configured calibration)."""
        s = self.settings
        return Confidence(s.intercept, s.slope, s.curve, s.base_logit, s.max_weight)

    async def score(self, prompt: str, answer: str) -> Verdict:
        """The verifier's score of `answer` to `prompt`."""
        kind = self.settings.kind
        if kind == "judge":
            return await self._judge(prompt, answer)
        base = (self.profile.api_base or "").rstrip("/")
        model = self.profile.upstream_name
        if kind == "score":
            url = base + (self.settings.path or "/score")
            body: dict[str, Any] = {"model": model, "text_1": prompt, "text_2": answer}
        else:
            root = base.removesuffix("/v1")
            url = root + (self.settings.path or "/pooling")
            messages = [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": answer},
            ]
            body = {"model": model, "messages": messages}
        reply = await post_json(self.upstream, self.name, url, body)
        value = _last_number(reply.get("data"))
        if value is None:
            raise UpstreamError(f"verifier {self.name!r} sent no score")
        usage = reply.get("usage") or {}
        spent = usage.get("prompt_tokens") or count_tokens(prompt + answer)
        return Verdict(value, int(spent))

    async def _judge(self, prompt: str, answer: str) -> Verdict:
        template = self.settings.template or JUDGE_TEMPLATE
        question = template.format(prompt=prompt, answer=answer)
        messages = [{"role": "user", "content": question}]
        text, completion = await self.upstream.complete_text(
            self.name, messages, {"max_tokens": 8, "temperature": 0.0}
        )
        found = _NUMBER.search(text)
        if found is None:
            raise UpstreamError(f"judge {self.name!r} gave no grade: {text[:80]!r}")
        return Verdict(
            float(found.group(0)), count_tokens(question), completion or count_tokens(text)
        )


async def post_json(
    upstream: Upstream, name: str, url: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """POST a JSON body to `url` with profile `name`'s key and timeout; the JSON reply. Not
    retried: a sample the verifier could not score is weighed by its length instead."""
    import aiohttp

    profile = upstream.profiles[name]
    where = f"verifier {name!r} at {url}"
    headers = {"content-type": "application/json"}
    key = upstream.api_key(profile)
    if key:
        headers["authorization"] = f"Bearer {key}"
    timeout = aiohttp.ClientTimeout(total=profile.timeout_s, sock_connect=10.0)
    try:
        async with upstream.session().post(
            url, data=json.dumps(body).encode(), headers=headers, timeout=timeout
        ) as response:
            text = (await response.read()).decode(errors="replace")
            if response.status >= 400:
                detail = text[:300]
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    detail = json.loads(text)["error"]["message"]
                raise status_error(response.status, where, str(detail))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise translate_error(exc, name) from exc
    try:
        reply = json.loads(text)
    except ValueError:
        raise UpstreamError(f"{where} sent a reply that is not JSON") from None
    if not isinstance(reply, dict):
        raise UpstreamError(f"{where} sent a reply that is not a JSON object")
    return reply


def _last_number(data: Any) -> float | None:
    """The score in a pooling or score reply: `score`, else the last number of `data`."""
    if isinstance(data, list):
        for item in reversed(data):
            found = _last_number(item)
            if found is not None:
                return found
        return None
    if isinstance(data, dict):
        if isinstance(data.get("score"), int | float):
            return float(data["score"])
        return _last_number(data.get("data"))
    if isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    return None
