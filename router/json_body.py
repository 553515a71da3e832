"""Request bodies as JSON, within bounds: nesting depth, integer literal length, finite numbers,
and text a tokenizer can read (lone UTF-16 surrogates replaced). Every violation is a 400.

The standard library's parser is kept (it is the fastest here on the typical small body); what it
does not bound is bounded around it: its recursion (a RecursionError past Python's stack limit,
well before which a depth check refuses), integers (Python refuses more than 4,300 digits with a
ValueError; `parse_int` refuses more than `MAX_INT_DIGITS` first), and `NaN`/`Infinity`, which
JSON does not have and a policy or sampling option must never hold.
"""

from __future__ import annotations

import json
import re
from typing import Any

from difficulty.errors import InvalidInputError

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "parse_json_body", "sanitize_text", "check_depth"]

# Deeper than any OpenAI request (messages -> content parts -> a JSON-schema response format
# nests ~10); shallow enough that relaying or re-serialising it never nears the stack limit.
MAX_DEPTH = 64
# 64-bit integers have at most 20 digits; nothing an API accepts needs more.
MAX_INT_DIGITS = 32

_SURROGATE = re.compile("[\ud800-\udfff]")


def sanitize_text(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD (a str from JSON holds no paired ones)."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise InvalidInputError(
            f"an integer in the request body has more than {MAX_INT_DIGITS} digits"
        )
    return int(literal)


def _constant(name: str) -> float:
    raise InvalidInputError(f"the request body holds {name}, which is not JSON")


def _float(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise InvalidInputError(f"the number {literal[:40]} in the request body is out of range")
    return value


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """400 when `value` nests lists and objects more than `limit` deep (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            raise InvalidInputError(f"the request body nests deeper than {limit} levels")
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


def _clean(value: Any) -> Any:
    # Strings (keys included) are where surrogates hide; depth is already bounded here.
    if isinstance(value, str):
        return sanitize_text(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {sanitize_text(k): _clean(v) for k, v in value.items()}
    return value


def parse_json_body(body: bytes) -> Any:
    """The body parsed as bounded JSON with sanitised text, or a 400 that names the problem."""
    if not body:
        raise InvalidInputError("the request body is empty; send a JSON object")
    try:
        value = json.loads(body, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise InvalidInputError(f"the request body nests deeper than {MAX_DEPTH} levels") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"the request body is not valid JSON ({exc})") from None
    if isinstance(value, dict | list):
        check_depth(value)
        if b"\\u" in body:  # only an escape can produce a lone surrogate
            value = _clean(value)
    elif isinstance(value, str):
        value = sanitize_text(value)
    return value
