"""Ledger token counts at a bounded cost: exact up to EXACT_CHARS, sampled and scaled beyond."""

from __future__ import annotations

import time

import pytest

from difficulty.datasets import load_dataset
from difficulty.tokens import count_tokens
from router.usage_count import EXACT_CHARS, ledger_tokens


@pytest.fixture(scope="module")
def long_text() -> str:
    # Natural text well past the bound: bundled prompts, one after another (~300k characters).
    prompts = [r.prompt for r in load_dataset("mip-gsm8k")]
    text = ""
    for prompt in prompts:
        text += prompt + "\n\n"
        if len(text) > 5 * EXACT_CHARS:
            break
    return text


def test_texts_up_to_the_bound_are_counted_exactly(long_text: str) -> None:
    for text in ("", "What is 2 + 3?", long_text[:EXACT_CHARS]):
        assert ledger_tokens(text) == count_tokens(text)


def test_a_longer_text_is_its_head_and_tail_scaled_and_within_two_percent(long_text: str) -> None:
    half = EXACT_CHARS // 2
    sampled = count_tokens(long_text[:half]) + count_tokens(long_text[-half:])
    estimate = ledger_tokens(long_text)
    assert estimate == round(sampled * len(long_text) / EXACT_CHARS)
    exact = count_tokens(long_text)
    assert abs(estimate - exact) / exact < 0.02  # 1.0% here


def test_a_1_mb_text_costs_what_the_bound_does() -> None:
    big = ("What is 17 * 23? " * 60_000)[:1_000_000]
    ledger_tokens(big)  # the encoder is loaded
    t0 = time.process_time()
    ledger_tokens(big)
    bounded = time.process_time() - t0
    t0 = time.process_time()
    count_tokens(big)
    whole = time.process_time() - t0
    assert bounded < whole / 5  # 64k of 1M characters read: ~1/16 of the work
