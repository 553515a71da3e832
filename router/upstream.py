"""Calls to LLM endpoints: the only module that talks to them (router.upstream_errors turns what
they raise into the gateway's errors).

Every call streams, through litellm (every provider it knows) or a direct SSE client on aiohttp
for OpenAI-compatible endpoints (litellm's per-chunk processing, ~0.7 ms of CPU a chunk, would
dominate the gateway's overhead). Which deployment answers, and failures before the first chunk
(retries waiting out a Retry-After of up to 2 s, cooldowns, fallbacks), are litellm's Router's
(router/deployments.py); failures after it end the caller's stream with an UpstreamError.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import anyio

from router.deployments import Deployments
from router.errors import UpstreamError
from router.providers import LITELLM_KWARGS, supported_params, uses_http_transport
from router.settings import LoadBalancingSettings, ProfileSettings
from router.sources import SourceReport
from router.sse import SSEReader
from router.upstream_errors import json_or_text, retry_after_s, status_error, translate_error

__all__ = ["UpstreamStream", "Upstream", "uses_http_transport", "supported_params"]


Chunk = dict[str, Any]

# How long an idle pooled stream connection is kept: under uvicorn's 5 s keep-alive (vLLM's and
# SGLang's servers, the replay upstream), so the pool drops a connection before the server
# closes it, instead of sending the next request down a socket the server is closing
# (aiohttp's default, 15 s, cost 5-24 of 128 streams a 502 in `bench/watch_cpu.py`).
POOL_IDLE_S = 4.0


class UpstreamStream:
    """An open upstream stream: its first chunk is already here; iterate for chunk dicts."""

    def __init__(
        self,
        profile: str,
        next_chunk: Callable[[], Awaitable[Chunk | None]],
        close: Callable[[], Awaitable[None]],
        first: Chunk | None,
        pending: Callable[[], int] | None = None,
    ) -> None:
        self.profile = profile
        self._pending = pending
        self.attempts = 1
        self._next = next_chunk
        self._close = close
        self._first = first
        self._closed = False

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._iterate()

    def report(self) -> SourceReport:
        """A plain stream reports only the profile that answered."""
        return SourceReport(self.profile)

    def buffered(self) -> int:
        """How many chunks have arrived and not been taken yet (0 when unknown)."""
        waiting = self._pending() if self._pending is not None else 0
        return waiting + (self._first is not None)

    async def _iterate(self) -> AsyncIterator[Chunk]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        while True:
            try:
                chunk = await self._next()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise translate_error(exc, self.profile) from exc
            if chunk is None:
                return
            yield chunk

    async def aclose(self) -> None:
        """Close the connection, so the upstream server stops generating."""
        if not self._closed:
            self._closed = True
            # Shielded: a second cancellation must not leave the connection open.
            with anyio.CancelScope(shield=True):
                await self._close()


class Upstream:
    """Opens streams on each profile's deployments through litellm's Router."""

    def __init__(
        self,
        profiles: Mapping[str, ProfileSettings],
        balancing: LoadBalancingSettings | None = None,
    ) -> None:
        import httpx
        import litellm

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        self._litellm = litellm
        self._httpx = httpx
        self.profiles = dict(profiles)
        self._deployments = Deployments(
            self.profiles, balancing or LoadBalancingSettings(), self._open_once
        )
        self._http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=1024, max_keepalive_connections=256),
            timeout=None,
        )
        self._session: Any = None

    def session(self) -> Any:
        """The shared aiohttp session (pass-through endpoints use it too)."""
        return self._stream_session()

    def api_key(self, profile: ProfileSettings) -> str | None:
        """The profile's upstream API key, if it has one."""
        return self._api_key(profile)

    def _stream_session(self) -> Any:
        # Streams go through aiohttp: its C parser costs a fraction of httpx's per-chunk CPU.
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=1024, limit_per_host=0, keepalive_timeout=POOL_IDLE_S
                ),
                auto_decompress=True,
            )
        return self._session

    async def aclose(self) -> None:
        """Release pooled connections."""
        await self._http.aclose()
        if self._session is not None:
            await self._session.close()

    # -- one attempt ------------------------------------------------------------------------

    def _params(self, profile: ProfileSettings, params: Mapping[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = dict(profile.params)
        for key, value in params.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        if profile.max_tokens is not None:
            # Cap the field the caller used (o-series take only max_completion_tokens).
            key = "max_completion_tokens" if "max_completion_tokens" in merged else "max_tokens"
            limit = merged.get(key)
            merged[key] = min(limit, profile.max_tokens) if limit else profile.max_tokens
        # A None from the request removes the profile's own value (the effort policy's "keep").
        return {k: v for k, v in merged.items() if v is not None}

    def _api_key(self, profile: ProfileSettings) -> str | None:
        return profile.api_key.get_secret_value() if profile.api_key is not None else None

    async def _open_http(
        self, name: str, profile: ProfileSettings, messages: list[Chunk], params: Mapping[str, Any]
    ) -> UpstreamStream:
        where = f"upstream for profile {name!r}"
        body = self._params(profile, params)
        extra = body.pop("extra_body", None) or {}
        headers = dict(body.pop("extra_headers", None) or {})
        body.update(extra)
        body.update(
            model=profile.upstream_name,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
        key = self._api_key(profile)
        if key:
            headers["authorization"] = f"Bearer {key}"
        url = f"{(profile.api_base or '').rstrip('/')}/chat/completions"
        import aiohttp

        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(profile.timeout_s, 10.0), sock_read=profile.timeout_s
        )
        headers["content-type"] = "application/json"
        response = await self._stream_session().post(
            url, data=json.dumps(body).encode(), headers=headers, timeout=timeout
        )
        reader = SSEReader(response, where)

        async def close() -> None:
            # A body read to its end goes back to the pool; anything else drops the connection,
            # which is what tells the upstream server to stop generating.
            if reader.done and response.content.at_eof():
                response.release()
            else:
                response.close()

        if response.status >= 400:
            body = json_or_text(await response.read())
            response.release()
            raise status_error(response.status, where, body, retry_after_s(response.headers))
        try:
            first = await reader.next()
        except BaseException:
            response.close()
            raise
        return UpstreamStream(name, reader.next, close, first, reader.pending)

    async def _open_litellm(
        self, name: str, profile: ProfileSettings, messages: list[Chunk], params: Mapping[str, Any]
    ) -> UpstreamStream:
        kwargs = self._params(profile, params)
        # Fields litellm does not know travel in extra_body, which it merges into the request.
        extra = {k: kwargs.pop(k) for k in list(kwargs) if k not in LITELLM_KWARGS}
        if extra:
            kwargs["extra_body"] = {**extra, **(kwargs.get("extra_body") or {})}
        kwargs.update(
            model=profile.model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            timeout=profile.timeout_s,
            max_retries=0,  # retries are the Router's, bounded per profile
            api_key=self._api_key(profile) or "none",
        )
        if profile.api_base:
            kwargs["api_base"] = profile.api_base
        wrapper = await self._litellm.acompletion(**kwargs)

        async def next_chunk() -> Chunk | None:
            try:
                chunk = await wrapper.__anext__()
            except StopAsyncIteration:
                return None
            dumped: Chunk = chunk.model_dump(exclude_none=True)
            return dumped

        try:
            first = await next_chunk()
        except BaseException:
            await wrapper.aclose()
            raise
        return UpstreamStream(name, next_chunk, wrapper.aclose, first)

    async def _open_once(
        self, name: str, endpoint: ProfileSettings, messages: list[Chunk], params: Mapping[str, Any]
    ) -> UpstreamStream:
        """One attempt on one deployment (`endpoint`) of profile `name`: the Router's host."""
        opener = self._open_http if uses_http_transport(endpoint) else self._open_litellm
        try:
            async with asyncio.timeout(endpoint.timeout_s):
                return await opener(name, endpoint, messages, params)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise translate_error(exc, name) from exc

    async def open(
        self, name: str, messages: list[Chunk], params: Mapping[str, Any]
    ) -> UpstreamStream:
        """Open a stream on profile `name` (or a fallback): a deployment litellm's Router picks,
        with its retries, cooldowns and fallbacks for failures before the first chunk."""
        try:
            stream: UpstreamStream = await self._deployments.open(name, messages, params)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise translate_error(exc, name) from exc
        return stream

    async def complete_text(
        self, name: str, messages: list[Chunk], params: Mapping[str, Any]
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

    async def complete_prompt(
        self,
        name: str,
        prompt: str,
        *,
        max_tokens: int,
        api_base: str | None = None,
        model: str | None = None,
        timeout_s: float | None = None,
    ) -> tuple[str, int | None, int | None]:
        """A greedy text completion of `prompt` on profile `name`'s `/completions` endpoint.

        Returns (text, prompt tokens, completion tokens) as the server counted them (None when
        it did not say). Not retried: a probe that fails is simply not counted.
        """
        profile = self.profiles[name]
        where = f"completions endpoint for profile {name!r}"
        base = (api_base or profile.api_base or "").rstrip("/")
        body = {
            "model": model or profile.upstream_name,
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "stream": False,
        }
        headers: dict[str, str] = {}
        key = self._api_key(profile)
        if key:
            headers["authorization"] = f"Bearer {key}"
        limit = timeout_s or profile.timeout_s
        timeout = self._httpx.Timeout(limit, connect=min(limit, 10.0))
        try:
            response = await self._http.post(
                f"{base}/completions", json=body, headers=headers, timeout=timeout
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise translate_error(exc, name) from exc
        if response.status_code >= 400:
            raise status_error(response.status_code, where, json_or_text(response.content))
        try:
            reply = response.json()
            text = str(reply["choices"][0].get("text") or "")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise UpstreamError(f"{where} sent a malformed completion") from None
        usage = reply.get("usage") or {}
        return text, usage.get("prompt_tokens"), usage.get("completion_tokens")
