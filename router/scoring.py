"""Scoring prompts with the difficulty model off the event loop, one prompt per worker thread.

Measured on the 2-core dev machine: the encoder costs ~29 ms of CPU per prompt with one torch
thread, the same per prompt in batches of 4-64 (so batching buys nothing), and ~300 ms with two
intra-op threads under load (OpenMP threads spin against each other). So the encoder runs
single-threaded and concurrency comes from one worker thread per core (torch releases the GIL).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from policies.policy import PredictionLike

__all__ = ["OnePredictor", "Scorer"]


class OnePredictor(Protocol):
    """The difficulty model's serving method (difficulty.model.DifficultyModel.predict_one)."""

    def predict_one(self, prompt: str) -> Mapping[str, PredictionLike]: ...


class Scorer:
    """Runs `predict_one` on a pool of as many threads as cores; `close()` releases them."""

    def __init__(self, model: OnePredictor, workers: int | None = None) -> None:
        self.model = model
        self.workers = workers or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="thinkgate-score")

    async def score(self, prompt: str) -> Mapping[str, PredictionLike]:
        """Per difficulty-model profile predictions for one prompt."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.model.predict_one, prompt)

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)
