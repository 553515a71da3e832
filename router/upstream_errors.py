"""Upstream failures as the gateway's errors, and how long to wait before trying again.

The only place provider and network errors are translated (router.upstream raises what these
return). An error keeps the upstream's status and its error `type`/`code` identifiers, never its
free text: providers quote the request back (the prompt, sometimes the Authorization header).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

from difficulty.errors import ThinkgateError
from router.errors import (
    RateLimitedError,
    UpstreamError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
)
from router.redact import upstream_summary

__all__ = [
    "MAX_RETRY_AFTER_S",
    "json_or_text",
    "retry_after_s",
    "status_error",
    "translate_error",
    "waits_too_long",
]

# The longest upstream Retry-After a retry waits out; a longer one ends the retries on that
# deployment (router.deployments: its siblings and the profile's fallbacks are tried, else the
# caller gets the 429 with the upstream's Retry-After).
MAX_RETRY_AFTER_S = 2.0


def status_error(
    status: int, where: str, body: Any, retry_after: float | None = None
) -> ThinkgateError:
    # Only the status and the error's type/code reach the caller and the ledger: providers quote
    # the request in their error text (the prompt, sometimes the Authorization header).
    summary = upstream_summary(status, body)
    err: ThinkgateError
    if status in (408, 504):
        err = UpstreamTimeoutError(f"{where} timed out ({summary})")
    elif status == 429:
        err = RateLimitedError(f"{where} is rate limiting requests ({summary})")
    elif status in (400, 404, 413, 422):
        err = UpstreamRejectedError(f"{where} rejected the request ({summary})")
    else:
        err = UpstreamError(f"{where} failed with {summary}")
    if retry_after is not None and isinstance(err, UpstreamError):
        err.retry_after = retry_after
    return err


def json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds an upstream asked to wait (`retry-after-ms`, `retry-after` seconds or HTTP date)."""
    millis = headers.get("retry-after-ms")
    with contextlib.suppress(TypeError, ValueError):
        if millis is not None:
            return max(0.0, float(millis) / 1000.0)
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.replace(".", "", 1).isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError, IndexError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    return None


def translate_error(exc: BaseException, profile: str) -> ThinkgateError:
    """The gateway error for an exception raised by litellm, aiohttp, httpx or the network."""
    import httpx
    import litellm
    from litellm.types.router import RouterRateLimitError

    where = f"upstream for profile {profile!r}"
    if isinstance(exc, ThinkgateError):
        return exc
    original = getattr(exc, "thinkgate_error", None)  # raised by our attempt, relayed by litellm
    if isinstance(original, ThinkgateError):
        return original
    if isinstance(exc, RouterRateLimitError):
        err = UpstreamError(f"{where}: every deployment is cooling down after failures")
        cooldown = getattr(exc, "cooldown_time", None)
        err.retry_after = float(cooldown) if isinstance(cooldown, int | float) else None
        return err
    if isinstance(exc, litellm.Timeout | httpx.TimeoutException | TimeoutError):
        return UpstreamTimeoutError(f"{where} timed out")
    status = getattr(exc, "status_code", None)
    # The exception's text is the provider's error text: never relayed (see status_error).
    if isinstance(exc, litellm.RateLimitError):
        response = getattr(exc, "response", None)
        return RateLimitedError(
            f"{where} is rate limiting requests (HTTP {status or 429})",
            retry_after=retry_after_s(getattr(response, "headers", None) or {}),
        )
    if isinstance(
        exc,
        litellm.BadRequestError | litellm.NotFoundError | litellm.UnprocessableEntityError,
    ):
        return UpstreamRejectedError(f"{where} rejected the request (HTTP {status})")
    if isinstance(exc, litellm.APIConnectionError):
        text = str(exc).lower()
        if "timeout" in text or "timed out" in text:
            return UpstreamTimeoutError(f"{where} timed out")
    detail = f"HTTP {status}" if isinstance(status, int) else type(exc).__name__
    return UpstreamError(f"{where} failed: {detail}")


def waits_too_long(err: ThinkgateError) -> bool:
    """Whether the upstream asked to wait longer than a retry may (MAX_RETRY_AFTER_S)."""
    asked = getattr(err, "retry_after", None)
    return isinstance(err, RateLimitedError) and asked is not None and asked > MAX_RETRY_AFTER_S
