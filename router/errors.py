"""The gateway's API errors and their one rendering: OpenAI's error body."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.responses import JSONResponse

from difficulty.errors import InvalidInputError, NotFoundError, ThinkgateError

__all__ = [
    "ConfigError",
    "AuthenticationError",
    "PermissionDeniedError",
    "ModelNotFoundError",
    "PayloadTooLargeError",
    "RequestTimeoutError",
    "NotReadyError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "UpstreamRejectedError",
    "RateLimitedError",
    "error_body",
    "invalid_input",
    "render_error",
    "validation_problem",
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


class RequestTimeoutError(InvalidInputError):
    """The request body did not arrive in time."""

    status = 408
    code = "request_timeout"
    # The rest of the body may still trickle in: the connection cannot serve another request.
    close_connection = True


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
    retry_after: float | None = None  # seconds the upstream asked to wait, passed on


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
    """The upstream kept rate-limiting the request (`retry_after`: the seconds it asked for)."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limited"

    def __init__(
        self, message: str, *, retry_after: float | None = None, param: str | None = None
    ) -> None:
        super().__init__(message, param=param)
        self.retry_after = retry_after


# Where FastAPI says a request field came from: not part of the field's name.
_REQUEST_PARTS = ("body", "query", "path")


def validation_problem(errors: Sequence[Mapping[str, Any]]) -> tuple[str | None, str]:
    """(dotted key, what is wrong) of the first problem pydantic reports; a validator that
    names its own key (an exception with a `key`, as settings' cross-field checks raise) wins."""
    if not errors:
        return None, "invalid value"
    err = errors[0]
    problem = (err.get("ctx") or {}).get("error")
    key = getattr(problem, "key", None)
    if isinstance(key, str):
        return key, str(getattr(problem, "reason", problem))
    loc = ".".join(str(p) for p in err.get("loc", ()) if p not in _REQUEST_PARTS) or None
    if err.get("type") == "missing":
        return loc, "is required"
    return loc, str(err.get("msg", "invalid value")).removeprefix("Value error, ")


def invalid_input(errors: Sequence[Mapping[str, Any]]) -> InvalidInputError:
    """The 400 for a request that did not validate, naming the field in OpenAI's words."""
    param, reason = validation_problem(errors)
    if param is None:
        return InvalidInputError(f"invalid request: {reason}")
    if reason == "is required":
        return InvalidInputError(f"'{param}' is a required property", param=param)
    return InvalidInputError(f"invalid '{param}': {reason}", param=param)


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
    if getattr(exc, "close_connection", False):
        hdrs["connection"] = "close"
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        hdrs["retry-after"] = str(max(1, math.ceil(retry_after)))
    return JSONResponse(error_body(exc), status_code=exc.status, headers=hdrs)
