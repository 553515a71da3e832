"""Replay catalog: model and prompt lookup, and cutting recorded text into paced pieces."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from difficulty.datasets import load_dataset
from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens
from router.replay.catalog import (
    ReplayCatalog,
    UnknownModelError,
    UnknownPromptError,
    normalise_prompt,
    split_pieces,
)


@settings(deadline=None)  # the first call loads the tokenizer
@given(st.text(alphabet=st.sampled_from(list("ab \n\t.,é")), max_size=60))
def test_pieces_concatenate_back_to_the_text(text: str) -> None:
    assert "".join(p.text for p in split_pieces(text)) == text
    assert "".join(p.text for p in split_pieces(text, chunk_tokens=4)) == text


def test_piece_counts_add_up_to_the_text_count_on_a_real_recording() -> None:
    row = next(r for r in load_dataset("mip-gsm8k") if r.profile == "QwQ-32B" and r.reasoning)
    assert row.reasoning is not None
    pieces = split_pieces(row.reasoning)
    total = sum(p.tokens for p in pieces)
    whole = count_tokens(row.reasoning)
    assert whole <= total <= 1.05 * whole  # pacing and max_tokens work in real tokens
    grouped = split_pieces(row.reasoning, chunk_tokens=8)
    assert all(p.tokens >= 8 for p in grouped[:-1])
    assert len(grouped) < len(pieces) / 4


def test_lookup_by_model_and_normalised_prompt() -> None:
    rows = [
        Outcome("1", "What is\n 2+3?", "QwQ-32B", True, 9, response="5"),
        Outcome("1", "What is 2+3?", "QwQ-32B", True, 9, response="five"),  # duplicate: first wins
        Outcome("2", "Solve x+1=2 for x.", "Qwen2.5-32B", True, 9, response="x=1"),
    ]
    catalog = ReplayCatalog(rows, aliases={"think": "QwQ-32B"})
    assert catalog.profiles == ["QwQ-32B", "Qwen2.5-32B"]
    assert list(catalog.model_names()) == ["QwQ-32B", "Qwen2.5-32B", "think"]
    assert catalog.resolve_model("hosted_vllm/think") == "QwQ-32B"
    assert catalog.find("QwQ-32B", "  What is 2+3? ").response == "5"
    assert normalise_prompt(" a \n\t b ") == "a b"
    template = "<|im_start|>user\nSolve x+1=2 for x.<|im_end|>\n<|im_start|>assistant\n"
    assert catalog.find_within("Qwen2.5-32B", template).id == "2"
    with pytest.raises(UnknownPromptError):
        catalog.find("Qwen2.5-32B", "What is 2+3?")
    with pytest.raises(UnknownModelError):
        catalog.resolve_model("gpt-4o")
