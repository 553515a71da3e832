"""The translation of upstream and Router failures: what the caller sees, never the provider's
text, with the Retry-After it asked for."""

from __future__ import annotations

import httpx
import litellm
import pytest
from litellm.types.router import RouterRateLimitError

from router.deployments import for_router
from router.errors import RateLimitedError, UpstreamError, UpstreamRejectedError, render_error
from router.upstream_errors import status_error, translate_error, waits_too_long

_REQUEST = httpx.Request("POST", "http://upstream/v1/chat/completions")


def test_a_429_keeps_its_retry_after_and_drops_the_providers_text() -> None:
    body = {"error": {"message": "key sk-leaked-0123456789 over quota", "type": "rate_limit"}}
    err = status_error(429, "upstream for profile 'direct'", body, 30.0)
    assert isinstance(err, RateLimitedError) and err.retry_after == 30.0
    assert (
        err.message
        == "upstream for profile 'direct' is rate limiting requests (HTTP 429 (rate_limit))"
    )
    assert render_error(err).headers["retry-after"] == "30"


def test_litellms_rate_limit_error_carries_its_retry_after() -> None:
    response = httpx.Response(429, headers={"retry-after": "12"}, request=_REQUEST)
    exc = litellm.RateLimitError("quota for sk-leaked-0123456789", "openai", "m", response=response)
    err = translate_error(exc, "direct")
    assert isinstance(err, RateLimitedError) and err.retry_after == 12.0
    assert "sk-leaked" not in err.message


def test_the_gateways_own_error_comes_back_through_the_router() -> None:
    original = UpstreamRejectedError(
        "upstream for profile 'direct' rejected the request (HTTP 400)"
    )
    assert translate_error(for_router(original, "openai/m"), "direct") is original
    limited = RateLimitedError("slow", retry_after=30.0)
    assert translate_error(for_router(limited, "openai/m"), "direct") is limited


def test_every_deployment_cooling_down_is_a_502_with_the_cooldown() -> None:
    exc = RouterRateLimitError("direct", 60.0, False, ["direct#0"], model_ids=["direct#0"])
    err = translate_error(exc, "direct")
    assert type(err) is UpstreamError and err.status == 502
    assert (
        err.message
        == "upstream for profile 'direct': every deployment is cooling down after failures"
    )
    assert render_error(err).headers["retry-after"] == "60"


@pytest.mark.parametrize(
    ("err", "too_long"),
    [(RateLimitedError("x", retry_after=30.0), True),
     (RateLimitedError("x", retry_after=2.0), False),
     (RateLimitedError("x"), False), (UpstreamError("x"), False)],
)  # fmt: skip
def test_only_a_retry_after_over_two_seconds_is_too_long_to_wait(
    err: UpstreamError, too_long: bool
) -> None:
    assert waits_too_long(err) is too_long
