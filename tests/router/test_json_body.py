"""Bounded JSON bodies: depth, integer length, non-finite numbers and lone surrogates are 400s."""

from __future__ import annotations

import pytest

from difficulty.errors import InvalidInputError
from router.json_body import MAX_DEPTH, MAX_INT_DIGITS, parse_json_body, sanitize_text


def nested(depth: int) -> bytes:
    return b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def test_ordinary_bodies_parse_unchanged() -> None:
    body = b'{"model": "m", "n": 2, "temperature": 0.5, "messages": [{"role": "user"}]}'
    assert parse_json_body(body) == {
        "model": "m", "n": 2, "temperature": 0.5, "messages": [{"role": "user"}],
    }  # fmt: skip
    assert parse_json_body(nested(MAX_DEPTH))["a"] is not None


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    with pytest.raises(InvalidInputError, match="nests deeper than 64"):
        parse_json_body(nested(depth))


@pytest.mark.parametrize(
    "literal", [b"9" * (MAX_INT_DIGITS + 1), b"-" + b"1" * 5000, b"1" * 100_000]
)
def test_long_integer_literals_are_refused(literal: bytes) -> None:
    with pytest.raises(InvalidInputError, match="more than 32 digits"):
        parse_json_body(b'{"n": ' + literal + b"}")
    assert parse_json_body(b'{"n": ' + b"9" * MAX_INT_DIGITS + b"}")["n"] == int("9" * 32)


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-2e400"])
def test_non_finite_numbers_are_refused(number: bytes) -> None:
    with pytest.raises(InvalidInputError):
        parse_json_body(b'{"lam": ' + number + b"}")


def test_lone_surrogates_are_replaced_everywhere() -> None:
    body = b'{"m\\ud800": ["x\\udfff", {"c": "\\ud83d\\ude00 ok \\ud83d"}]}'
    assert parse_json_body(body) == {"m\ufffd": ["x\ufffd", {"c": "\U0001f600 ok \ufffd"}]}
    assert parse_json_body(b'"\\udc00"') == "\ufffd"
    assert sanitize_text("plain") == "plain"


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"", "empty"), (b"{", "not valid JSON"), (b"\xed\xa0\x80", "not valid JSON")],
)
def test_malformed_bodies_name_the_problem(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_json_body(body)
