"""A static distillation of all-MiniLM-L6-v2: one vector per token, a prompt in microseconds.

A prompt's embedding is the weighted mean of its tokens' vectors (MiniLM's own tokenizer and
256-token truncation), mapped into MiniLM's 384-d space and unit-normalised. The table is fitted
by `python -m difficulty.static_build` so that this mean regresses onto MiniLM's sentence
embeddings; no transformer runs at serving time, so no torch and no onnxruntime.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["STATIC_ENCODER", "StaticMiniLM", "default_table_path", "default_tokenizer_path"]

STATIC_ENCODER = "minilm-static"
_MAX_TOKENS = 256  # MiniLM's max_seq_length: the table was fitted on the same truncation


def default_table_path() -> Path:
    """The shipped table (built from the bundled prompts; see its NOTICE next to it)."""
    return Path(__file__).parent / "default_model" / "minilm-static.npz"


def default_tokenizer_path() -> Path:
    """MiniLM's WordPiece tokenizer, shipped beside the table so that serving needs no MiniLM
    package (and so no torch): all-MiniLM-L6-v2's tokenizer.json, gzip-compressed."""
    return Path(__file__).parent / "default_model" / "minilm-tokenizer.json.gz"


def _load_tokenizer(path: Path) -> Any:
    from tokenizers import Tokenizer

    if path.suffix == ".gz":
        return Tokenizer.from_str(gzip.decompress(path.read_bytes()).decode("utf-8"))
    return Tokenizer.from_file(str(path))


class StaticMiniLM:
    """Token-vector table + MiniLM tokenizer -> unit-norm float32 embeddings (dim,)."""

    def __init__(self, table: str | Path, tokenizer_file: str | Path | None = None) -> None:
        path = Path(table)
        raw = path.read_bytes()
        # Keys the embedding cache: a rebuilt table never reuses vectors of the old one.
        self.digest = hashlib.sha256(raw).hexdigest()[:16]
        with np.load(path, allow_pickle=False) as data:
            ids = data["token_ids"].astype(np.int64)
            # int8 rows with one scale each (see difficulty.static_build)
            vectors = data["codes"].astype(np.float32) * data["scales"][:, None]
            self.weights = data["weights"].astype(np.float32)
            self.components = data["components"].astype(np.float32)
            self.mean = data["mean"].astype(np.float32)
            self.meta: dict[str, Any] = json.loads(str(data["meta"]))
        vocab = int(self.meta["vocab_size"])
        # Row of each vocabulary id in `vectors`; -1: the token never occurred when fitting.
        self._row = np.full(vocab, -1, dtype=np.int64)
        self._row[ids] = np.arange(len(ids))
        # Fold the per-token weight in once: the hot path is one gather and one sum.
        self._weighted = vectors * self.weights[:, None]
        tokenizer = _load_tokenizer(Path(tokenizer_file or default_tokenizer_path()))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        self._tokenizer = tokenizer

    @property
    def dim(self) -> int:
        """Length of one embedding vector."""
        return int(self.components.shape[1])

    def _from_ids(self, ids: Sequence[int]) -> np.ndarray:
        rows = self._row[np.asarray(ids, dtype=np.int64)]
        rows = rows[rows >= 0]
        z = np.zeros(self.components.shape[0], dtype=np.float32)
        if len(rows):
            total = float(self.weights[rows].sum())
            z = self._weighted[rows].sum(axis=0) / max(total, 1e-12)
        v = z @ self.components + self.mean
        return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)

    def encode(self, text: str) -> np.ndarray:
        """The unit-norm embedding of `text` -> float32 (dim,)."""
        return self._from_ids(self._tokenizer.encode(text).ids)

    def coverage(self, text: str) -> float:
        """The share of `text`'s tokens (specials aside) that the table has a vector for: the
        embedding of a prompt in a script or vocabulary the table never saw says little."""
        ids = self._tokenizer.encode(text, add_special_tokens=False).ids
        if not ids:
            return 1.0
        return float(np.mean(self._row[np.asarray(ids, dtype=np.int64)] >= 0))

    def encode_many(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of many texts -> float32 (n, dim)."""
        encodings = self._tokenizer.encode_batch(list(texts))
        out = np.empty((len(encodings), self.dim), dtype=np.float32)
        for i, enc in enumerate(encodings):
            out[i] = self._from_ids(enc.ids)
        return out
