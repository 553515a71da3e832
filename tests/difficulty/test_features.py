"""Cheap text features: named, ordered, and sensitive to what they claim to measure."""

from __future__ import annotations

import numpy as np
import pytest

from difficulty.features import FEATURE_NAMES, FEATURE_VERSION, feature_matrix, text_features


def named(prompt: str) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, text_features(prompt), strict=True))


def test_one_value_per_name() -> None:
    assert len(text_features("hello")) == len(FEATURE_NAMES)
    assert isinstance(FEATURE_VERSION, int)


def test_numbers_and_magnitude() -> None:
    f = named("She sells 1,200 eggs at 3.5 dollars and 7 more?")
    assert f["n_numbers"] == 3
    assert f["n_decimals"] == 1
    assert f["log_max_number"] == pytest.approx(np.log10(1201))
    assert f["n_question_marks"] == 1


def test_latex_and_fractions() -> None:
    f = named(r"Compute $\frac{1}{2} + \sqrt{x}$ and 3/4.")
    assert f["n_latex_commands"] == 2
    assert f["n_fractions"] == 2
    assert f["n_dollar"] == 2


def test_choices_detected() -> None:
    assert named("Pick one. (A) 1 (B) 2 (C) 3")["has_choices"] == 1.0
    assert named("A cat sat.")["has_choices"] == 0.0


def test_longer_prompt_has_larger_length_features() -> None:
    short, long = named("Add 2 and 3."), named("Add 2 and 3. " * 20)
    assert long["log_chars"] > short["log_chars"]
    assert long["log_words"] > short["log_words"]


def test_feature_matrix_appends_text_features() -> None:
    emb = np.zeros((2, 4), dtype=np.float32)
    x = feature_matrix(["a b", "c"], emb)
    assert x.shape == (2, 4 + len(FEATURE_NAMES))
    assert x.dtype == np.float32
    with pytest.raises(ValueError):
        feature_matrix(["a"], emb)
