"""Scoring prompts with the difficulty model off the event loop, one prompt per worker thread.

Measured on the shared 2-core dev machine: with two OpenMP threads per call, the encoder cost
~300 ms of CPU per prompt and each one-row LightGBM predict ~5 ms (the threads spin against each
other); with one thread, ~30 ms and ~30 us. Batching prompts saved no CPU per prompt. So every
call runs single-threaded (the encoder's onnxruntime session has one intra-op thread, about
10-15 ms a GSM8K prompt; OpenMP per worker thread here) and concurrency comes from one worker
thread per core: both libraries release the GIL.
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


def _single_threaded_openmp() -> None:
    # OpenMP's thread count is per calling thread: set it in each worker as it starts.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="openmp")


class Scorer:
    """Runs `predict_one` on a pool of as many threads as cores; `close()` releases them."""

    def __init__(self, model: OnePredictor, workers: int | None = None) -> None:
        self.model = model
        self.workers = workers or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(
            self.workers, thread_name_prefix="thinkgate-score", initializer=_single_threaded_openmp
        )

    async def score(self, prompt: str) -> Mapping[str, PredictionLike]:
        """Per difficulty-model profile predictions for one prompt."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.model.predict_one, prompt)

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)
