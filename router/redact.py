"""Credentials out of everything the gateway writes: error messages, logs, the ledger.

`Redactor.scrub` removes the configured keys (the gateway's, the admin's, every upstream's) and
anything shaped like a credential: `Authorization`/`x-api-key` header values, `Bearer` and
`Basic` tokens, `sk-`-style keys, `key=`/`token=` query parameters and `user:password@` in URLs.
`upstream_summary` reduces an upstream's error body to what is safe to show a client: the status
and the error's `type`/`code` when they are plain identifiers, never its free text (providers
quote the request back: the prompt, and sometimes the key). `install_log_redaction` scrubs every
log record the process creates, tracebacks included.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["REDACTED", "Redactor", "upstream_summary", "install_log_redaction"]

REDACTED = "[redacted]"

_PATTERNS = [
    # header values, whatever the scheme: everything to the end of the line or quote
    re.compile(
        r"(?i)\b(authorization|proxy-authorization|x-api-key|api-key)(\s*[:=]\s*)[^\r\n\"',}]+"
    ),
    re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(r"()()\b(?:sk|rk|pk)-[A-Za-z0-9_-]{8,}"),
    re.compile(r"(?i)\b(api_key|apikey|access_token|token|key|secret|password)(=)[^&\s\"']+"),
    re.compile(r"(?i)(://)([^/\s:@]+:)[^/\s@]+(?=@)"),
]
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")


class Redactor:
    """Scrubs the configured secrets and credential-shaped text from strings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a key that contains another is removed whole; short strings
        # (< 6 characters) would redact ordinary words and are not credentials anyway.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """`text` with every secret and credential-shaped value replaced by `[redacted]`."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        return text


def upstream_summary(status: int | None, body: Any) -> str:
    """`HTTP 404 (not_found_error)`-style summary of an upstream error, free text left out."""
    error = body.get("error") if isinstance(body, dict) else None
    labels: list[str] = []
    if isinstance(error, dict):
        for field in ("type", "code"):
            value = error.get(field)
            if isinstance(value, str) and _IDENTIFIER.fullmatch(value) and value not in labels:
                labels.append(value)
    head = f"HTTP {status}" if status is not None else "an error"
    return f"{head} ({', '.join(labels)})" if labels else head


_lock = threading.Lock()
_installed: list[Redactor] = []


def install_log_redaction(redactor: Redactor) -> Callable[[], None]:
    """Scrub every log record's message and traceback with `redactor` (and any other installed
    one) from now on; returns the function that removes it again."""
    with _lock:
        if not _installed:
            _wrap_factory()
        _installed.append(redactor)

    def uninstall() -> None:
        with _lock:
            if redactor in _installed:
                _installed.remove(redactor)

    return uninstall


def _wrap_factory() -> None:
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactors = list(_installed)
        if not redactors:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it itself, later
            return record
        text = record.exc_text or (
            "".join(traceback.format_exception(*record.exc_info)).rstrip()
            if record.exc_info and record.exc_info[0] is not None
            else None
        )
        for redactor in redactors:
            message = redactor.scrub(message)
            text = redactor.scrub(text) if text else text
        record.msg, record.args = message, None
        if text:
            record.exc_text = text  # formatters print exc_text instead of re-formatting
        return record

    logging.setLogRecordFactory(factory)
