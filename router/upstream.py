"""Calls to LLM endpoints through litellm: the only module that talks to them.

Every call streams. Failures before the first chunk (timeouts, refused connections, 5xx, 429)
are retried, then failed over to the profile's fallbacks; failures after it surface as an
UpstreamError for the caller to end its stream with. Network errors are translated here only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from difficulty.errors import ThinkgateError
from router.errors import (
    RateLimitedError,
    UpstreamError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
)
from router.settings import ProfileSettings

__all__ = ["UpstreamStream", "Upstream", "translate_error"]

_BACKOFF_S = 0.05


def translate_error(exc: BaseException, profile: str) -> ThinkgateError:
    """The gateway error for an exception raised by litellm or the network under it."""
    import litellm

    where = f"upstream for profile {profile!r}"
    if isinstance(exc, ThinkgateError):
        return exc
    if isinstance(exc, litellm.Timeout | asyncio.TimeoutError | TimeoutError):
        return UpstreamTimeoutError(f"{where} timed out")
    if isinstance(exc, litellm.RateLimitError):
        return RateLimitedError(f"{where} is rate limiting requests")
    if isinstance(
        exc,
        litellm.BadRequestError | litellm.NotFoundError | litellm.UnprocessableEntityError,
    ):
        return UpstreamRejectedError(f"{where} rejected the request: {_short(exc)}")
    if isinstance(exc, litellm.APIConnectionError):
        text = str(exc).lower()
        if "timeout" in text or "timed out" in text:
            return UpstreamTimeoutError(f"{where} timed out")
    return UpstreamError(f"{where} failed: {type(exc).__name__}: {_short(exc)}")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def _retryable(err: ThinkgateError) -> bool:
    return isinstance(err, UpstreamError)


@dataclass
class UpstreamStream:
    """An open upstream stream: its first chunk is already here; iterate for chunk dicts."""

    profile: str
    _wrapper: Any
    _first: dict[str, Any] | None
    attempts: int = 1
    _closed: bool = field(default=False, init=False)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        while True:
            try:
                chunk = await self._wrapper.__anext__()
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise translate_error(exc, self.profile) from exc
            yield chunk.model_dump(exclude_none=True)

    async def aclose(self) -> None:
        """Close the connection, so the upstream server stops generating."""
        if not self._closed:
            self._closed = True
            await self._wrapper.aclose()


class Upstream:
    """Opens streams to each profile's endpoint with its retries and fallbacks."""

    def __init__(self, profiles: Mapping[str, ProfileSettings]) -> None:
        import litellm

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        self._litellm = litellm
        self.profiles = dict(profiles)

    def _kwargs(
        self, profile: ProfileSettings, messages: list[dict[str, Any]], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(profile.params)
        kwargs.update(params)
        kwargs.update(
            model=profile.model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            timeout=profile.timeout_s,
            max_retries=0,  # retries are ours, counted and bounded per profile
        )
        if profile.api_base:
            kwargs["api_base"] = profile.api_base
        kwargs["api_key"] = (
            profile.api_key.get_secret_value() if profile.api_key is not None else "none"
        )
        if profile.max_tokens is not None:
            limit = kwargs.get("max_tokens")
            kwargs["max_tokens"] = min(limit, profile.max_tokens) if limit else profile.max_tokens
        return kwargs

    async def _open_once(
        self, name: str, messages: list[dict[str, Any]], params: Mapping[str, Any]
    ) -> UpstreamStream:
        profile = self.profiles[name]
        kwargs = self._kwargs(profile, messages, params)
        wrapper: Any = None
        try:
            async with asyncio.timeout(profile.timeout_s):
                wrapper = await self._litellm.acompletion(**kwargs)
                first = await wrapper.__anext__()
        except StopAsyncIteration:
            return UpstreamStream(name, wrapper, None)
        except asyncio.CancelledError:
            if wrapper is not None:
                await wrapper.aclose()
            raise
        except Exception as exc:
            if wrapper is not None:
                await wrapper.aclose()
            raise translate_error(exc, name) from exc
        return UpstreamStream(name, wrapper, first.model_dump(exclude_none=True))

    async def open(
        self, name: str, messages: list[dict[str, Any]], params: Mapping[str, Any]
    ) -> UpstreamStream:
        """Open a stream on profile `name` (or a fallback), retrying failures before the start."""
        last: ThinkgateError | None = None
        attempts = 0
        for candidate in [name, *self.profiles[name].fallbacks]:
            retries = self.profiles[candidate].retries
            for attempt in range(retries + 1):
                attempts += 1
                try:
                    stream = await self._open_once(candidate, messages, params)
                except ThinkgateError as err:
                    last = err
                    if not _retryable(err):
                        raise
                    if attempt < retries:
                        await asyncio.sleep(_BACKOFF_S * 2**attempt)
                    continue
                stream.attempts = attempts
                return stream
        assert last is not None
        raise last

    async def complete_text(
        self, name: str, messages: list[dict[str, Any]], params: Mapping[str, Any]
    ) -> tuple[str, int | None]:
        """A whole (short) completion's text and its completion tokens, streamed and joined."""
        stream = await self.open(name, messages, params)
        parts: list[str] = []
        tokens: int | None = None
        try:
            async for chunk in stream:
                for choice in chunk.get("choices") or []:
                    parts.append((choice.get("delta") or {}).get("content") or "")
                usage = chunk.get("usage")
                if usage:
                    tokens = usage.get("completion_tokens")
        finally:
            await stream.aclose()
        return "".join(parts), tokens
