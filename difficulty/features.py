"""Cheap text features of a prompt, computed beside the embedding (no model, microseconds)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

__all__ = ["FEATURE_VERSION", "FEATURE_NAMES", "text_features", "feature_matrix"]

# Bump whenever the features, their order, or the embedding they sit beside change:
# a saved model with another version is refused at load time.
FEATURE_VERSION = 1

FEATURE_NAMES: tuple[str, ...] = (
    "log_chars",
    "log_words",
    "n_lines",
    "n_digits",
    "n_numbers",
    "n_distinct_numbers",
    "log_max_number",
    "n_decimals",
    "n_fractions",
    "n_latex_commands",
    "n_dollar",
    "n_question_marks",
    "n_operators",
    "n_parens",
    "has_choices",
    "n_sentences",
    "mean_word_len",
    "share_upper",
)

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_DECIMAL = re.compile(r"\d\.\d")
_FRACTION = re.compile(r"\\d?frac|\d\s*/\s*\d")
_LATEX = re.compile(r"\\[A-Za-z]+")
_OPERATORS = re.compile(r"[+\-*/=<>^×÷≤≥]")
_CHOICES = re.compile(r"(?:^|\s|\()\(?[A-E][).:]\s", re.MULTILINE)
_SENTENCE = re.compile(r"[.!?](?:\s|$)")


def text_features(prompt: str) -> list[float]:
    """The FEATURE_NAMES values of one prompt, in order."""
    words = prompt.split()
    numbers = [n.replace(",", "") for n in _NUMBER.findall(prompt)]
    values = []
    for n in numbers:
        try:
            values.append(abs(float(n)))
        except ValueError:
            continue
    letters = [c for c in prompt if c.isalpha()]
    return [
        math.log1p(len(prompt)),
        math.log1p(len(words)),
        float(prompt.count("\n") + 1),
        float(sum(c.isdigit() for c in prompt)),
        float(len(numbers)),
        float(len(set(numbers))),
        math.log10(1.0 + max(values)) if values else 0.0,
        float(len(_DECIMAL.findall(prompt))),
        float(len(_FRACTION.findall(prompt))),
        float(len(_LATEX.findall(prompt))),
        float(prompt.count("$")),
        float(prompt.count("?")),
        float(len(_OPERATORS.findall(prompt))),
        float(prompt.count("(") + prompt.count("[") + prompt.count("{")),
        1.0 if len(_CHOICES.findall(prompt)) >= 2 else 0.0,
        float(len(_SENTENCE.findall(prompt))),
        float(np.mean([len(w) for w in words])) if words else 0.0,
        sum(c.isupper() for c in letters) / len(letters) if letters else 0.0,
    ]


def feature_matrix(prompts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
    """Model input: embedding columns followed by the text features -> float32 (n, dim + F)."""
    if embeddings.ndim != 2 or embeddings.shape[0] != len(prompts):
        raise ValueError("embeddings must have one row per prompt")
    text = np.asarray([text_features(p) for p in prompts], dtype=np.float32).reshape(
        len(prompts), len(FEATURE_NAMES)
    )
    return np.hstack([embeddings.astype(np.float32, copy=False), text])
