"""Reading a thinking stream: tags cut across deltas, tokens estimated, hesitation found."""

from __future__ import annotations

from policies.convergence.thinking import (
    DEFAULT_MARKERS,
    ThinkSplitter,
    TokenEstimate,
    estimate_tokens,
    hesitation_pattern,
)


def test_token_estimate_counts_words_digits_and_symbols() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("So 540 = 9 * 60.") == 10  # So 5 4 0 = 9 * 6 0 .


def test_token_estimate_fed_in_deltas_counts_a_cut_word_once() -> None:
    estimate = TokenEstimate()
    assert [estimate.feed(p) for p in ("hel", "lo wor", "ld 12", "3")] == [1, 2, 4, 5]
    assert estimate.tokens == estimate_tokens("hello world 123") == 5


def test_hesitation_pattern_matches_whole_words_in_any_case() -> None:
    pattern = hesitation_pattern(DEFAULT_MARKERS)
    assert pattern is not None
    assert pattern.search("Hmm, let me CHECK that") is not None
    assert pattern.search("waiting for the butter") is None  # "wait", "but" only as words
    assert hesitation_pattern(()) is None


def test_think_splitter_handles_tags_cut_across_deltas() -> None:
    splitter = ThinkSplitter()
    pieces = ["<th", "ink>Let me think. The answer", " is 4.</thi", "nk>\n\nIt is 4."]
    reasoning, content = "", ""
    for piece in pieces:
        r, c = splitter.feed(piece)
        reasoning, content = reasoning + r, content + c
    assert reasoning == "Let me think. The answer is 4."
    assert content == "\n\nIt is 4."
    assert splitter.done


def test_think_splitter_for_templates_that_open_thinking_in_the_prompt() -> None:
    splitter = ThinkSplitter(in_think=True)
    assert splitter.feed("reasoning here</think>answer") == ("reasoning here", "answer")
