"""The encoder: unit-norm embeddings, on-disk cache reuse, single-prompt path, lazy import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from difficulty.encoder import EmbeddingCache, Encoder
from difficulty.errors import InvalidInputError

TEXTS = ["What is 2 + 3?", "Prove that there are infinitely many primes.", "What is 2 + 3?"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("encoder-cache")


@pytest.fixture(scope="module")
def encoder(cache_dir: Path) -> Encoder:
    return Encoder(cache_dir=cache_dir, progress=False)


def test_encode_gives_unit_rows_in_input_order(encoder: Encoder) -> None:
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[0], vectors[2])
    assert float(vectors[0] @ vectors[1]) < 0.9


def test_cached_texts_are_not_re_embedded(encoder: Encoder, cache_dir: Path) -> None:
    first = encoder.encode(TEXTS[:2])
    fresh = Encoder(cache_dir=cache_dir, progress=False)
    again = fresh.encode(TEXTS[:2])
    np.testing.assert_array_equal(first, again)
    assert fresh._model is None  # served from the cache: the network was never loaded


def test_cache_is_keyed_by_model_name(cache_dir: Path) -> None:
    cache = EmbeddingCache(cache_dir)
    cache.put_many("model-a", {"k": np.ones(3, dtype=np.float32)})
    assert "k" in cache.get_many("model-a", ["k"])
    assert cache.get_many("model-b", ["k"]) == {}


@pytest.mark.parametrize("single", ["auto", "numpy", "torch"])
def test_encode_one_matches_batch(encoder: Encoder, cache_dir: Path, single: str) -> None:
    one = Encoder(cache_dir=cache_dir, use_cache=False, single=single).encode_one(TEXTS[1])
    assert one.shape == (384,)
    assert one.dtype == np.float32
    np.testing.assert_allclose(one, encoder.encode([TEXTS[1]])[0], atol=1e-5)


def test_single_backend_auto_prefers_onnxruntime(cache_dir: Path) -> None:
    import importlib.util

    have_onnx = all(importlib.util.find_spec(m) for m in ("onnxruntime", "onnx"))
    assert Encoder(cache_dir=cache_dir).single_backend() == ("onnx" if have_onnx else "numpy")
    int8 = Encoder(cache_dir=cache_dir, single="auto-int8").single_backend()
    assert int8 == ("onnx-int8" if have_onnx else "numpy")
    assert Encoder(cache_dir=cache_dir, single="numpy").single_backend() == "numpy"


def test_auto_int8_stays_close_to_batch(encoder: Encoder, cache_dir: Path) -> None:
    one = Encoder(cache_dir=cache_dir, use_cache=False, single="auto-int8").encode_one(TEXTS[1])
    assert one.shape == (384,)
    assert one.dtype == np.float32
    assert float(one @ encoder.encode([TEXTS[1]])[0]) >= 0.99


def test_unknown_single_backend_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        Encoder(single="gpu")


@pytest.mark.parametrize("bad", [[""], ["   "], [None], [3]])
def test_bad_prompts_raise(encoder: Encoder, bad: list[object]) -> None:
    with pytest.raises(InvalidInputError):
        encoder.encode(bad)  # type: ignore[arg-type]


def test_single_string_is_refused(encoder: Encoder) -> None:
    with pytest.raises(InvalidInputError):
        encoder.encode("not a list")


def test_unknown_encoder_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        Encoder("no-such-model", cache_dir=tmp_path).encode(["x"])


def test_import_loads_nothing_heavy() -> None:
    code = (
        "import sys, difficulty.encoder, difficulty.model, difficulty.crossfit; "
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_encode_one_from_many_threads_at_once(cache_dir: Path, encoder: Encoder) -> None:
    from concurrent.futures import ThreadPoolExecutor

    fresh = Encoder(cache_dir=cache_dir, use_cache=False)  # the first calls race to build it
    prompts = [TEXTS[i % 2] for i in range(8)]
    with ThreadPoolExecutor(4) as pool:
        vectors = list(pool.map(fresh.encode_one, prompts))
    expected = encoder.encode(prompts)
    np.testing.assert_allclose(np.stack(vectors), expected, atol=1e-5)


def test_without_onnxruntime_single_prompts_fall_back_to_numpy(tmp_path: Path) -> None:
    # A package that fails to import stands in for an environment without onnxruntime.
    (tmp_path / "onnxruntime").mkdir()
    (tmp_path / "onnxruntime" / "__init__.py").write_text("raise ImportError('not installed')\n")
    code = (
        "import sys; from difficulty.encoder import Encoder; "
        "e = Encoder(use_cache=False); v = e.encode_one('What is 2+3?'); "
        "q = Encoder(use_cache=False, single='auto-int8'); w = q.encode_one('What is 2+3?'); "
        "print(e.single_backend(), q.single_backend(), v.shape, w.shape, 'torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "numpy numpy (384,) (384,) False"


def test_static_encoder_batch_equals_single_and_runs_on_its_table(tmp_path: Path) -> None:
    static = Encoder("minilm-static", cache_dir=tmp_path, progress=False)
    assert static.single_backend() == "static"
    many = static.encode(TEXTS)
    assert many.shape == (3, static.dim) and many.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(many, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(static.encode_one(TEXTS[1]), many[1], atol=1e-6)
    assert static._model is None  # no sentence-transformers model was loaded


def test_static_cache_is_keyed_by_the_tables_digest(tmp_path: Path) -> None:
    import hashlib

    static = Encoder("minilm-static", cache_dir=tmp_path, progress=False)
    assert static.cache_key.startswith("minilm-static:") and len(static.cache_key) > 20
    planted = np.full(static.dim, 0.5, dtype=np.float32)
    key = hashlib.sha256(b"planted text").hexdigest()
    EmbeddingCache(tmp_path).put_many(static.cache_key, {key: planted})
    EmbeddingCache(tmp_path).put_many("minilm-static", {key: -planted})  # another table's
    np.testing.assert_array_equal(static.encode(["planted text"])[0], planted)
