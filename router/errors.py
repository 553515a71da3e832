"""The gateway's API errors and their one rendering: OpenAI's error body."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from difficulty.errors import InvalidInputError, NotFoundError, ThinkgateError

__all__ = [
    "ConfigError",
    "AuthenticationError",
    "PermissionDeniedError",
    "ModelNotFoundError",
    "PayloadTooLargeError",
    "NotReadyError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "UpstreamRejectedError",
    "RateLimitedError",
    "error_body",
    "render_error",
]


class ConfigError(InvalidInputError):
    """The gateway's config is invalid; the message names the offending key."""

    code = "invalid_config"

    def __init__(self, message: str, key: str | None) -> None:
        super().__init__(message, param=key)
        self.key = key


class AuthenticationError(ThinkgateError):
    """No bearer key, or one the gateway does not know."""

    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class PermissionDeniedError(ThinkgateError):
    """A valid key that may not do this (admin endpoints)."""

    status = 403
    type = "permission_error"
    code = "permission_denied"


class ModelNotFoundError(NotFoundError):
    """The requested model is neither thinkgate/auto, a profile, nor an upstream alias."""

    code = "model_not_found"


class PayloadTooLargeError(InvalidInputError):
    """The request body is over the configured size."""

    status = 413
    code = "payload_too_large"


class NotReadyError(ThinkgateError):
    """The gateway is still starting (model or ledger not available)."""

    status = 503
    type = "server_error"
    code = "not_ready"


class UpstreamError(ThinkgateError):
    """The upstream endpoint failed (5xx, refused connection, broken stream) after retries."""

    status = 502
    type = "api_error"
    code = "upstream_error"


class UpstreamTimeoutError(UpstreamError):
    """The upstream endpoint did not answer in time."""

    status = 504
    code = "upstream_timeout"


class UpstreamRejectedError(ThinkgateError):
    """The upstream refused the request itself (its 4xx); retrying would not help."""

    status = 400
    type = "invalid_request_error"
    code = "upstream_rejected"


class RateLimitedError(UpstreamError):
    """The upstream kept rate-limiting the request."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limited"


def error_body(exc: ThinkgateError) -> dict[str, Any]:
    """OpenAI's error body for `exc`."""
    return {
        "error": {
            "message": exc.message,
            "type": exc.type,
            "param": exc.param,
            "code": exc.code,
        }
    }


def render_error(exc: ThinkgateError, headers: dict[str, str] | None = None) -> JSONResponse:
    """The HTTP response for `exc`: its status and OpenAI's error body."""
    hdrs = dict(headers or {})
    if isinstance(exc, AuthenticationError):
        hdrs.setdefault("www-authenticate", "Bearer")
    return JSONResponse(error_body(exc), status_code=exc.status, headers=hdrs)
