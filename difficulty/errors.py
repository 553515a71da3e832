"""The typed error hierarchy: raised where things go wrong, rendered once at the edge."""

from __future__ import annotations

__all__ = [
    "ThinkgateError",
    "InvalidInputError",
    "NotFoundError",
    "OutcomeFormatError",
    "ModelFormatError",
]


class ThinkgateError(Exception):
    """Base of every error thinkgate raises on purpose; carries an HTTP status and OpenAI type."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidInputError(ThinkgateError):
    """The caller sent something thinkgate cannot use (empty prompt, wrong type, bad option)."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_value"


class NotFoundError(ThinkgateError):
    """A named thing (dataset, profile, model, request id) does not exist."""

    status = 404
    type = "invalid_request_error"
    code = "not_found"


class OutcomeFormatError(InvalidInputError):
    """A row of an outcome or trace table is malformed; the message names the line."""

    code = "invalid_outcome_row"

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


class ModelFormatError(InvalidInputError):
    """A saved model directory is missing, corrupt, or from another feature version."""

    code = "invalid_model"
