"""Credentials are scrubbed from text and logs; upstream errors shrink to a safe summary."""

from __future__ import annotations

import logging

import pytest

from router.redact import REDACTED, Redactor, install_log_redaction, upstream_summary

KEY = "tg-configured-0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Incorrect API key provided: Bearer sk-upstream-abcdef123456.", "sk-upstream-abcdef"),
        ("authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNz"),
        ('{"headers": {"Authorization": "Bearer abc.def.ghi-123"}}', "abc.def.ghi"),
        ("x-api-key=AIzaSyD-very-secret-value", "AIzaSyD"),
        ("calling https://bob:hunter2pass@api.example.com/v1", "hunter2pass"),
        ("GET /v1/models?api_key=secret-value-42&x=1", "secret-value-42"),
        ("anthropic says sk-ant-api03-AbCdEf_123-xyz is invalid", "sk-ant-api03"),
        (f"the key {KEY} was refused", KEY),
    ],
)
def test_credentials_are_scrubbed(text: str, gone: str) -> None:
    scrubbed = Redactor([KEY]).scrub(text)
    assert gone not in scrubbed
    assert REDACTED in scrubbed


def test_ordinary_text_is_left_alone() -> None:
    text = "The answer is 42; ask for a skeleton key if the sk-8 fails."
    assert Redactor([KEY, "abc"]).scrub(text) == text


def test_upstream_summary_keeps_status_and_identifiers_only() -> None:
    body = {"error": {"message": "prompt 'my secret plan' not found", "type": "not_found_error",
                      "code": "model not found: my secret plan"}}  # fmt: skip
    assert upstream_summary(404, body) == "HTTP 404 (not_found_error)"
    assert upstream_summary(500, "Bearer sk-xyz internal") == "HTTP 500"
    assert upstream_summary(None, {"error": {"type": "a", "code": "b"}}) == "an error (a, b)"


def test_log_records_and_tracebacks_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    uninstall = install_log_redaction(Redactor([KEY]))
    log = logging.getLogger("thinkgate.test-redact")
    try:
        with caplog.at_level(logging.INFO, logger="thinkgate.test-redact"):
            log.info("upstream said %s", f"Bearer {KEY}")
            try:
                raise RuntimeError(f"request failed with authorization: Bearer {KEY}")
            except RuntimeError:
                log.exception("call failed")
        uninstall()
        log.info("after: %s", KEY)
    finally:
        uninstall()
    text = caplog.text
    assert text.count(KEY) == 0
    assert "RuntimeError: request failed with authorization: [redacted]" in text
    assert caplog.records[0].getMessage() == f"upstream said Bearer {REDACTED}"
