"""Tests of the token counter: offline cl100k_base counts."""

from __future__ import annotations

import os

from difficulty.tokens import ENCODING_NAME, count_tokens, tokenizer_dir


def test_known_counts() -> None:
    # cl100k_base reference counts.
    assert count_tokens("hello world") == 2
    assert count_tokens("") == 0
    assert ENCODING_NAME == "cl100k_base"


def test_counts_grow_with_text() -> None:
    text = "The answer is 42. " * 50
    assert count_tokens(text) > count_tokens(text[:100]) > 0


def test_special_token_strings_are_plain_text() -> None:
    assert count_tokens("<|endoftext|>") > 1


def test_loads_offline_without_leaving_environment_changes() -> None:
    before = os.environ.get("TIKTOKEN_CACHE_DIR")
    count_tokens("warm up")
    assert os.environ.get("TIKTOKEN_CACHE_DIR") == before
    assert tokenizer_dir().is_dir()
