"""Offline replay of recorded reasoning traces through the convergence watcher.

Each trace is fed to the same `ConvergenceWatcher` the gateway uses, in token-sized deltas; the
exit point and the answer at exit are compared with the full trace, both graded against gold.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from difficulty.answers import answers_match, extract_answer
from difficulty.tokens import count_tokens
from difficulty.traces import Trace
from policies.convergence.watcher import ConvergenceWatcher, WatcherParams

__all__ = [
    "ORACLE_ACCURACY",
    "TraceResult",
    "PreparedTrace",
    "token_deltas",
    "oracle_chunk",
    "replay_trace",
    "replay",
    "summarize",
    "split_traces",
    "in_tuning_part",
    "SweepPoint",
    "DEFAULT_GRID",
    "sweep",
    "frontier",
    "choose_params",
]

ORACLE_ACCURACY = 0.9
SPLIT_SALT = "thinkgate-convergence-v1"
_DELTA = re.compile(r"\s*(?:[A-Za-z]+|\d|[^\sA-Za-z\d])|\s+$")


def token_deltas(text: str) -> list[str]:
    """The text cut into token-sized streaming deltas (a word, digit or symbol with its space)."""
    return _DELTA.findall(text)


def oracle_chunk(chunks: Sequence[Any]) -> int | None:
    """First chunk from which the resampled accuracy stays >= 0.9 to the end, or None."""
    start = None
    for index, chunk in enumerate(chunks):
        if chunk.accuracy is None:
            continue
        if chunk.accuracy < ORACLE_ACCURACY:
            start = None
        elif start is None:
            start = index
    return start


@dataclass(frozen=True)
class TraceResult:
    """What the watcher did on one trace."""

    id: str
    exited: bool
    tokens_full: int
    tokens_at_exit: int
    answer_full: str | None
    answer_exit: str | None
    correct_full: bool | None
    correct_exit: bool | None
    exit_chunk: int | None = None
    oracle_chunk: int | None = None
    tokens_oracle: int | None = None


def _chunk_at(chunks: Sequence[Any], offset: int) -> int:
    position = 0
    for index, chunk in enumerate(chunks):
        position += len(chunk.text)
        if offset <= position:
            return index
    return len(chunks) - 1


@dataclass
class PreparedTrace:
    """A trace with what every replay of it needs computed once: deltas, full tokens, answer."""

    trace: Trace
    deltas: list[str]
    tokens_full: int
    answer_full: str | None
    _prefix_tokens: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, trace: Trace) -> PreparedTrace:
        """Prepare one trace."""
        answer = extract_answer(trace.final) if trace.final.strip() else None
        if answer is None:
            answer = extract_answer(trace.reasoning)
        return cls(trace, token_deltas(trace.reasoning), count_tokens(trace.reasoning), answer)

    def tokens_until(self, chars: int) -> int:
        """Tokens in the first `chars` characters of the reasoning."""
        if chars not in self._prefix_tokens:
            self._prefix_tokens[chars] = count_tokens(self.trace.reasoning[:chars])
        return self._prefix_tokens[chars]


def replay_trace(trace: Trace | PreparedTrace, params: WatcherParams) -> TraceResult:
    """Feed one trace to a fresh watcher; grade the answer at exit and the full answer."""
    prepared = trace if isinstance(trace, PreparedTrace) else PreparedTrace.of(trace)
    trace = prepared.trace
    watcher = ConvergenceWatcher(params)
    decision = None
    for delta in prepared.deltas:
        decision = watcher.feed(delta)
        if decision is not None:
            break
    answer_full, tokens_full = prepared.answer_full, prepared.tokens_full
    if decision is None:
        answer_exit, tokens_at_exit = answer_full, tokens_full
    else:
        answer_exit = decision.answer
        tokens_at_exit = prepared.tokens_until(decision.chars_at_exit)
    graded = trace.gold is not None
    result = TraceResult(
        id=trace.id,
        exited=decision is not None,
        tokens_full=tokens_full,
        tokens_at_exit=tokens_at_exit,
        answer_full=answer_full,
        answer_exit=answer_exit,
        correct_full=answers_match(answer_full, trace.gold) if graded else None,
        correct_exit=answers_match(answer_exit, trace.gold) if graded else None,
    )
    if not trace.chunks:
        return result
    oracle = oracle_chunk(trace.chunks)
    tokens_oracle = None
    if oracle is not None:
        tokens_oracle = prepared.tokens_until(sum(len(c.text) for c in trace.chunks[: oracle + 1]))
    exit_chunk = _chunk_at(trace.chunks, decision.chars_at_exit) if decision else None
    return replace(result, exit_chunk=exit_chunk, oracle_chunk=oracle, tokens_oracle=tokens_oracle)


def replay(traces: Iterable[Trace | PreparedTrace], params: WatcherParams) -> list[TraceResult]:
    """Replay every trace with the same params."""
    return [replay_trace(trace, params) for trace in traces]


def _share(values: list[bool | None]) -> float | None:
    graded = [v for v in values if v is not None]
    return round(sum(graded) / len(graded), 4) if graded else None


def summarize(results: Sequence[TraceResult]) -> dict[str, Any]:
    """Per-dataset figures: tokens saved, accuracy full vs at exit, exits, n (and oracle ones)."""
    full = sum(r.tokens_full for r in results)
    used = sum(r.tokens_at_exit for r in results)
    exits = sum(r.exited for r in results)
    summary: dict[str, Any] = {
        "n": len(results),
        "exits": exits,
        "tokens_full": full,
        "tokens_at_exit": used,
        "tokens_saved": round(1 - used / full, 4) if full else 0.0,
        "accuracy_full": _share([r.correct_full for r in results]),
        "accuracy_exit": _share([r.correct_exit for r in results]),
        "forced_answer_share": round(exits / len(results), 4) if results else 0.0,
        "premature_exits": sum(
            1 for r in results if r.exited and r.correct_full and r.correct_exit is False
        ),
    }
    with_chunks = [r for r in results if r.tokens_oracle is not None or r.exit_chunk is not None]
    if with_chunks:
        oracle_saved = sum(r.tokens_full - (r.tokens_oracle or r.tokens_full) for r in results)
        summary["oracle_tokens_saved"] = round(oracle_saved / full, 4) if full else 0.0
        summary["savings_share_of_oracle"] = (
            round((full - used) / oracle_saved, 4) if oracle_saved else None
        )
        # Tokens the watcher kept generating after the oracle point had been reached.
        summary["tokens_left_on_table"] = sum(
            max(0, r.tokens_at_exit - r.tokens_oracle)
            for r in results
            if r.tokens_oracle is not None
        )
        summary["exits_before_oracle"] = sum(
            1
            for r in results
            if r.exit_chunk is not None
            and (r.oracle_chunk is None or r.exit_chunk < r.oracle_chunk)
        )
        summary["traces"] = [
            {
                "id": r.id,
                "exit_chunk": r.exit_chunk,
                "oracle_chunk": r.oracle_chunk,
                "tokens_full": r.tokens_full,
                "tokens_at_exit": r.tokens_at_exit,
                "tokens_oracle": r.tokens_oracle,
                "correct_full": r.correct_full,
                "correct_exit": r.correct_exit,
            }
            for r in results
        ]
    return summary


def split_traces(
    traces: Sequence[Trace], share: float = 0.5, salt: str = SPLIT_SALT
) -> tuple[list[Trace], list[Trace]]:
    """A seeded split by item id: (tuning part, held-out part); stable across runs and models."""
    tune: list[Trace] = []
    held: list[Trace] = []
    for trace in traces:
        (tune if in_tuning_part(trace.id, share, salt) else held).append(trace)
    return tune, held


def in_tuning_part(item_id: str, share: float = 0.5, salt: str = SPLIT_SALT) -> bool:
    """Whether `split_traces` puts this item in the tuning part."""
    digest = hashlib.sha256(f"{salt}:{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@dataclass(frozen=True)
class SweepPoint:
    """One parameter setting and what it did, pooled over datasets (each weighs the same)."""

    params: WatcherParams
    tokens_saved: float
    accuracy_full: float | None
    accuracy_exit: float | None
    accuracy_drop: float  # the worst dataset's drop: the constraint holds on every dataset
    exits: int
    n: int


DEFAULT_GRID: dict[str, tuple[int, ...]] = {
    "k": (2, 3, 4),  # k = 1 would not be "held": one sighting exits
    "interval_tokens": (50, 100, 200),
    "hesitation_window": (0, 20, 50, 150),
    "min_tokens": (100, 300),
}


def sweep(
    datasets: Sequence[Sequence[Trace | PreparedTrace]],
    grid: dict[str, tuple[int, ...]] | None = None,
    base: WatcherParams | None = None,
) -> list[SweepPoint]:
    """Every grid setting pooled over the datasets; the frontier is read from the points."""
    grid = grid or DEFAULT_GRID
    base = base or WatcherParams()
    names = list(grid)
    prepared = [
        [t if isinstance(t, PreparedTrace) else PreparedTrace.of(t) for t in traces]
        for traces in datasets
    ]
    points = []
    for values in itertools.product(*(grid[name] for name in names)):
        settings: dict[str, Any] = dict(zip(names, values, strict=True))
        params = replace(base, **settings)
        per_set = [summarize(replay(traces, params)) for traces in prepared if traces]
        points.append(_pool(params, per_set))
    return points


def _pool(params: WatcherParams, summaries: list[dict[str, Any]]) -> SweepPoint:
    saved = sum(s["tokens_saved"] for s in summaries) / len(summaries)
    graded = [s for s in summaries if s["accuracy_full"] is not None]
    acc_full = acc_exit = None
    if graded:
        acc_full = round(sum(s["accuracy_full"] for s in graded) / len(graded), 4)
        acc_exit = round(sum(s["accuracy_exit"] for s in graded) / len(graded), 4)
    worst = max((s["accuracy_full"] - s["accuracy_exit"] for s in graded), default=0.0)
    return SweepPoint(
        params=params,
        tokens_saved=round(saved, 4),
        accuracy_full=acc_full,
        accuracy_exit=acc_exit,
        accuracy_drop=round(worst, 4),
        exits=sum(s["exits"] for s in summaries),
        n=sum(s["n"] for s in summaries),
    )


def frontier(points: Sequence[SweepPoint]) -> list[SweepPoint]:
    """The points no other point beats on both savings and accuracy drop, by savings."""
    ordered = sorted(points, key=lambda p: (p.accuracy_drop, -p.tokens_saved))
    best: list[SweepPoint] = []
    for point in ordered:
        if not best or point.tokens_saved > best[-1].tokens_saved:
            best.append(point)
    return best


def choose_params(points: Sequence[SweepPoint], max_drop: float = 0.01) -> SweepPoint:
    """The setting that saves the most while losing at most `max_drop` accuracy on every set."""
    feasible = [p for p in points if p.accuracy_drop <= max_drop + 1e-9]
    if not feasible:
        return min(points, key=lambda p: (p.accuracy_drop, -p.tokens_saved))
    return max(feasible, key=lambda p: (p.tokens_saved, -p.accuracy_drop))
