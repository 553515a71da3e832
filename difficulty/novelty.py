"""How far a prompt is from the training prompts: cosine distance to its nearest neighbours in
a small index of training embeddings shipped with the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["NoveltyIndex", "NEIGHBOURS"]

NEIGHBOURS = 5  # novelty = 1 - mean cosine similarity of the nearest NEIGHBOURS index rows


class NoveltyIndex:
    """Unit-norm float16 embeddings of (a sample of) the training prompts; `score(vec)` in
    [0, 2], `threshold` the score above which a prompt counts as novel."""

    def __init__(self, vectors: np.ndarray, threshold: float) -> None:
        self.vectors = vectors.astype(np.float16)
        self._work = self.vectors.astype(np.float32)
        self.threshold = float(threshold)

    @classmethod
    def fit(
        cls, embeddings: np.ndarray, *, size: int, random_state: int, quantile: float = 0.99
    ) -> NoveltyIndex:
        """A random `size` sample of `embeddings` as the index; the threshold is the `quantile`
        of the scores of training prompts left out of the sample (in-distribution prompts)."""
        rng = np.random.default_rng(random_state)
        order = rng.permutation(embeddings.shape[0])
        unit = _unit(embeddings.astype(np.float32))
        index = cls(unit[order[:size]], threshold=np.inf)
        rest = order[size : size + 2000]
        if len(rest) == 0:  # everything is in the index: score the index against itself
            rest = order[: min(size, 2000)]
        scores = index.scores(unit[rest])
        index.threshold = float(np.quantile(scores, quantile))
        return index

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Novelty of each row of `vectors` (n, dim)."""
        sims = _unit(vectors.astype(np.float32)) @ self._work.T
        k = min(NEIGHBOURS, sims.shape[1])
        top = np.partition(sims, -k, axis=1)[:, -k:]
        return 1.0 - top.mean(axis=1)

    def score(self, vector: np.ndarray) -> float:
        """Novelty of one embedding."""
        return float(self.scores(vector[None, :])[0])

    def save(self, path: str | Path) -> None:
        """Write the index and its threshold (npz)."""
        np.savez_compressed(path, vectors=self.vectors, threshold=np.float64(self.threshold))

    @classmethod
    def load(cls, path: str | Path) -> NoveltyIndex:
        """Read an index written by `save`."""
        with np.load(path, allow_pickle=False) as data:
            return cls(data["vectors"], float(data["threshold"]))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
