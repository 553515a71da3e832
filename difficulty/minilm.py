"""all-MiniLM-L6-v2 forward pass in numpy, for one prompt at a time without importing torch.

`thinkgate route` and the gateway embed one prompt per request; importing torch costs seconds,
the forward pass of this 6-layer, 384-wide BERT on one prompt costs milliseconds in numpy.
It reads the same bundled weights and tokenizer and reproduces sentence-transformers'
output (mean pooling, unit norm, 256-token truncation) to float32 rounding; tests check that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["NumpyMiniLM"]

_LAYERS = 6
_HEADS = 12
_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
_EPS = 1e-12


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _EPS) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    # BERT's exact (erf) GELU, not the tanh approximation.
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class NumpyMiniLM:
    """A BERT encoder (MiniLM-L6-H384) with mean pooling and L2 normalisation."""

    def __init__(self, model_dir: str | Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        root = Path(model_dir)
        self._w: dict[str, Any] = load_file(str(root / "model.safetensors"))
        tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        self._tokenizer = tokenizer
        # Linear layers are stored (out, in); transpose once so the hot path is x @ W.
        for name, value in list(self._w.items()):
            if value.ndim == 2 and not name.startswith("embeddings."):
                self._w[name] = np.ascontiguousarray(value.T)

    def _dense(self, x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ self._w[prefix + ".weight"] + self._w[prefix + ".bias"]

    def encode(self, text: str) -> np.ndarray:
        """The unit-norm sentence embedding of `text` -> float32 (384,)."""
        w = self._w
        ids = np.asarray(self._tokenizer.encode(text).ids, dtype=np.int64)
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        width = x.shape[1]
        head = width // _HEADS
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}"
            q = self._dense(x, f"{p}.attention.self.query").reshape(n, _HEADS, head)
            k = self._dense(x, f"{p}.attention.self.key").reshape(n, _HEADS, head)
            v = self._dense(x, f"{p}.attention.self.value").reshape(n, _HEADS, head)
            scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(head)
            scores -= scores.max(axis=-1, keepdims=True)
            attn = np.exp(scores)
            attn /= attn.sum(axis=-1, keepdims=True)
            context = np.einsum("hqk,khd->qhd", attn, v).reshape(n, width)
            x = _layer_norm(
                self._dense(context, f"{p}.attention.output.dense") + x,
                w[f"{p}.attention.output.LayerNorm.weight"],
                w[f"{p}.attention.output.LayerNorm.bias"],
            )
            inner = _gelu(self._dense(x, f"{p}.intermediate.dense"))
            x = _layer_norm(
                self._dense(inner, f"{p}.output.dense") + x,
                w[f"{p}.output.LayerNorm.weight"],
                w[f"{p}.output.LayerNorm.bias"],
            )
        pooled = x.mean(axis=0)
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)
