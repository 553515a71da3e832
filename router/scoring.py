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
~60 ms at 16 concurrent streams. Such a model scores prompts of up to INLINE_CHARS inline, on the
loop; longer ones go to the worker threads, so a long prompt never holds every stream.

The difficulty model reads at most MAX_SCORED_CHARS characters of a prompt: the first and the
last half of that when it is longer (the question of a long prompt is usually at its end). The
longest prompt it was trained on has 4,868 characters, so no prompt like its training data is
cut; a 1 MB prompt costs what an 8,000-character one does (~30 ms on the 2-core dev machine,
against 0.7-3 s whole, during which it held the event loop). At most `workers` prompts are scored
at once; the others wait their turn without occupying a thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from policies.routing import PredictionLike
from router.json_body import sanitize_text

__all__ = [
    "INLINE_CHARS",
    "MAX_SCORED_CHARS",
    "Predictor",
    "Scorer",
    "scored_text",
    "scores_inline",
]

MAX_SCORED_CHARS = 8_000
# The static encoder scores 2,000 characters in ~2 ms: as long as inline scoring may hold the loop.
INLINE_CHARS = 2_000


class Predictor(Protocol):
    """The difficulty model's serving method (difficulty.model.DifficultyModel.predict_one)."""

    def predict_one(self, prompt: str) -> Mapping[str, PredictionLike]: ...


def scores_inline(model: object) -> bool:
    """Whether `model` is cheap enough to score on the event loop (a static-encoder model)."""
    encoder = getattr(model, "encoder_", None)
    return bool(getattr(encoder, "is_static", False))


def scored_text(prompt: str) -> str:
    """The part of `prompt` the difficulty model reads: all of it up to MAX_SCORED_CHARS, else
    its first and last halves of that, with lone surrogates replaced (tokenizers refuse them)."""
    if len(prompt) > MAX_SCORED_CHARS:
        half = MAX_SCORED_CHARS // 2
        prompt = prompt[:half] + "\n" + prompt[-half:]
    return sanitize_text(prompt)


def _single_threaded_math() -> None:
    # OpenMP's thread count is per calling thread: set it in each worker as it starts. BLAS
    # too (OpenBLAS's count is process-wide): the novelty index's one-row product spun its
    # threads against the other streams' and took 7 ms instead of 0.1 on a busy 2-core box.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


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
            self.workers, thread_name_prefix="thinkgate-score", initializer=_single_threaded_math
        )
        self._slots = asyncio.Semaphore(self.workers)

    async def score(self, prompt: str) -> Mapping[str, PredictionLike]:
        """Per difficulty-model profile predictions for one prompt (see `scored_text`)."""
        text = scored_text(prompt)
        if self.inline and len(text) <= INLINE_CHARS:
            if not self._loop_limited:
                # LightGBM's OpenMP threads would spin against the loop for a one-row predict.
                _single_threaded_math()
                self._loop_limited = True
            return self.model.predict_one(text)
        return await self._on_worker(text)

    async def warm(self) -> None:
        """Start every worker thread and score one long text on each, so that the first long
        prompts do not pay for the threads' start and imports (~20 ms on the event loop)."""
        text = "warm-up: " + "what is 2 + 3? " * (MAX_SCORED_CHARS // 15)
        await asyncio.gather(*(self._on_worker(text) for _ in range(self.workers)))

    async def _on_worker(self, text: str) -> Mapping[str, PredictionLike]:
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, self.model.predict_one, text)

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)
