"""Scoring prompts with the difficulty model: inline for a cheap encoder, else on worker threads.

Measured on the shared 2-core dev machine: with two OpenMP threads per call, the encoder cost
~300 ms of CPU per prompt and each one-row LightGBM predict ~5 ms (the threads spin against each
other); with one thread, ~30 ms and ~30 us. Batching prompts saved no CPU per prompt. So every
call runs single-threaded (the encoder's onnxruntime session has one intra-op thread, about
10-15 ms a GSM8K prompt; OpenMP per worker thread here) and concurrency comes from one worker
thread per core: both libraries release the GIL.

A model on the static encoder scores a prompt in ~1.5 ms of mostly-Python CPU. Handing that to
a thread costs more than it saves: while the event loop relays streams, the worker waits up to
the interpreter's 5 ms switch interval for the GIL at every C call, and a request's decision took
~60 ms at 16 concurrent streams. Such a model is scored inline, on the loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from policies.routing import PredictionLike

__all__ = ["Predictor", "Scorer", "scores_inline"]


class Predictor(Protocol):
    """The difficulty model's serving method (difficulty.model.DifficultyModel.predict_one)."""

    def predict_one(self, prompt: str) -> Mapping[str, PredictionLike]: ...


def scores_inline(model: object) -> bool:
    """Whether `model` is cheap enough to score on the event loop (a static-encoder model)."""
    encoder = getattr(model, "encoder_", None)
    return bool(getattr(encoder, "is_static", False))


def _single_threaded_openmp() -> None:
    # OpenMP's thread count is per calling thread: set it in each worker as it starts.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="openmp")


class Scorer:
    """Runs `predict_one` inline or on a pool of as many threads as cores; `close()` releases
    the threads."""

    def __init__(
        self, model: Predictor, workers: int | None = None, *, inline: bool | None = None
    ) -> None:
        self.model = model
        self.inline = scores_inline(model) if inline is None else inline
        self.workers = workers or os.cpu_count() or 1
        self._loop_limited = False
        self._pool = ThreadPoolExecutor(
            self.workers, thread_name_prefix="thinkgate-score", initializer=_single_threaded_openmp
        )

    async def score(self, prompt: str) -> Mapping[str, PredictionLike]:
        """Per difficulty-model profile predictions for one prompt."""
        if self.inline:
            if not self._loop_limited:
                # LightGBM's OpenMP threads would spin against the loop for a one-row predict.
                _single_threaded_openmp()
                self._loop_limited = True
            return self.model.predict_one(prompt)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.model.predict_one, prompt)

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)
