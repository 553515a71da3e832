"""`/v1/completions` and `/v1/embeddings`: passed through to the profile the model names.

No routing applies (nothing to decide between: a text completion or an embedding is asked of
one model); the request goes as sent, with the model renamed, to an OpenAI-compatible endpoint,
or through litellm's `atext_completion` / `aembedding` to any other provider.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from router.errors import UpstreamError
from router.upstream import Upstream, uses_http_transport
from router.upstream_errors import json_or_text, retry_after_s, status_error, translate_error

__all__ = ["ENDPOINTS", "CompletionRequest", "EmbeddingRequest", "forward"]

ENDPOINTS = ("completions", "embeddings")


class CompletionRequest(BaseModel):
    """POST /v1/completions: the model and prompt thinkgate reads; every other field is relayed."""

    model_config = ConfigDict(extra="allow")
    model: StrictStr = Field(min_length=1)
    prompt: StrictStr | list[StrictStr] | list[int] | list[list[int]]
    stream: StrictBool = False


class EmbeddingRequest(BaseModel):
    """POST /v1/embeddings: the model and input thinkgate reads; every other field is relayed."""

    model_config = ConfigDict(extra="allow")
    model: StrictStr = Field(min_length=1)
    input: StrictStr | list[StrictStr] | list[int] | list[list[int]]


async def forward(
    upstream: Upstream, name: str, endpoint: str, body: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, AsyncIterator[bytes] | None]:
    """Send the request to profile `name`: (JSON body, None) or (None, SSE bytes) when streamed."""
    profile = upstream.profiles[name]
    request = {**body, "model": profile.upstream_name}
    try:
        async with asyncio.timeout(profile.timeout_s):
            if uses_http_transport(profile):
                return await _forward_http(upstream, name, endpoint, request)
            return await _forward_litellm(upstream, name, endpoint, request), None
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise translate_error(exc, name) from exc


async def _forward_http(
    upstream: Upstream, name: str, endpoint: str, body: dict[str, Any]
) -> tuple[dict[str, Any] | None, AsyncIterator[bytes] | None]:
    import aiohttp

    profile = upstream.profiles[name]
    where = f"upstream for profile {name!r}"
    headers = {"content-type": "application/json"}
    key = upstream.api_key(profile)
    if key:
        headers["authorization"] = f"Bearer {key}"
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=min(profile.timeout_s, 10.0), sock_read=profile.timeout_s
    )
    url = f"{(profile.api_base or '').rstrip('/')}/{endpoint}"
    response = await upstream.session().post(
        url, data=json.dumps(body).encode(), headers=headers, timeout=timeout
    )
    if response.status >= 400:
        body = json_or_text(await response.read())
        response.release()
        raise status_error(response.status, where, body, retry_after_s(response.headers))
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        try:
            reply = json.loads(await response.read())
        except ValueError:
            raise UpstreamError(f"{where} sent a malformed reply") from None
        finally:
            response.release()
        return reply, None

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for data in response.content.iter_any():
                yield data
        except Exception as exc:
            raise translate_error(exc, name) from exc
        finally:
            response.close()

    return None, relay()


async def _forward_litellm(
    upstream: Upstream, name: str, endpoint: str, body: dict[str, Any]
) -> dict[str, Any]:
    import litellm

    profile = upstream.profiles[name]
    kwargs = {k: v for k, v in body.items() if k != "model"}
    kwargs.update(
        model=profile.model,
        timeout=profile.timeout_s,
        api_key=upstream.api_key(profile) or "none",
    )
    if profile.api_base:
        kwargs["api_base"] = profile.api_base
    if endpoint == "embeddings":
        reply = await litellm.aembedding(**kwargs)
    else:
        reply = await litellm.atext_completion(**kwargs)
    dumped: dict[str, Any] = reply.model_dump(exclude_none=True)
    return dumped
