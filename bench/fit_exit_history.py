"""Fit the history score's weights on training-split traces and write `exit_history.json`.

python bench/fit_exit_history.py [--exclude-model NAME] [--l2 1.0] [--dry-run]

Reads only items in the training part of both splits (the tuning half of `split_traces` and
not `difficulty.split.is_holdout`), so no evaluation of bench/exit_calibration.py sees a fitted
item; `--exclude-model` leaves a model out (the unseen-model protocol fits on the others). The
correction is a logistic regression with the shipped rule's log-odds as an offset, over every
checkpoint past `min_tokens` (label: the leader is the full stream's answer), each trace weighing
the same, fitted by Newton steps with an L2 penalty (numpy only).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from difficulty.answers import answers_match
from difficulty.split import is_holdout
from difficulty.traces import Trace, load_traces
from policies.convergence import (
    HISTORY_FILE,
    ConvergenceWatcher,
    HistoryScore,
    PreparedTrace,
    WatcherParams,
)
from policies.convergence.simulator import in_tuning_part

SETS = (
    "mip-gsm8k-QwQ-32B",
    "mip-math-QwQ-32B",
    "mip-gsm8k-s1.1",
    "mip-math-s1.1",
    "mip-gsm8k-R1-Distill-Qwen-32B",
    "mip-math-R1-Distill-Qwen-32B",
)
L2 = 1.0
HISTORY_PATH = Path(__file__).resolve().parent.parent / "policies" / "convergence" / HISTORY_FILE


def training_item(item_id: str) -> bool:
    """In the tuning half of `split_traces` and outside the documented held-out split."""
    return in_tuning_part(item_id) and not is_holdout(item_id)


@dataclass
class TraceCheckpoints:
    """One trace's checkpoints: the rule's log-odds, the history features, the label."""

    model: str
    offset: np.ndarray
    features: np.ndarray
    agrees: np.ndarray


def collect(traces: Iterable[Trace], params: WatcherParams | None = None) -> list[TraceCheckpoints]:
    """Run each trace through a shadow watcher with a neutral history; keep every checkpoint."""
    out = []
    for trace in traces:
        prepared = PreparedTrace.of(trace)
        watcher = ConvergenceWatcher(
            params or WatcherParams(),
            shadow=True,
            record=True,
            exit_history=HistoryScore.neutral(),
        )
        for delta in prepared.deltas:
            watcher.feed(delta)
            watcher.checkpoints_seen.clear()  # the features are what is kept, not the options
        rows = watcher.history_seen
        if not rows:
            continue
        verdicts: dict[str, bool] = {}
        for _, _, leader in rows:
            if leader not in verdicts:
                full = prepared.answer_full
                verdicts[leader] = full is not None and answers_match(leader, full)
        out.append(
            TraceCheckpoints(
                model=trace.model or "unknown",
                offset=np.array([z for z, _, _ in rows]),
                features=np.array([values for _, values, _ in rows]),
                agrees=np.array([verdicts[leader] for _, _, leader in rows], dtype=float),
            )
        )
    return out


def fit(rows: Sequence[TraceCheckpoints], l2: float = L2, iterations: int = 50) -> HistoryScore:
    """The offset logistic regression, each trace weighing the same."""
    x = np.vstack([r.features for r in rows])
    offset = np.concatenate([r.offset for r in rows])
    y = np.concatenate([r.agrees for r in rows])
    w = np.concatenate([np.full(len(r.agrees), 1 / len(r.agrees)) for r in rows])
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    penalty = l2 * np.diag(np.r_[np.ones(z.shape[1] - 1), 0.0])  # the bias is not shrunk
    beta = np.zeros(z.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(offset + z @ beta, -30, 30)))
        gradient = z.T @ (w * (p - y)) + penalty @ beta
        hessian = (z * (w * p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    return HistoryScore(
        mean=tuple(round(float(v), 6) for v in mean),
        scale=tuple(round(float(v), 6) for v in scale),
        weights=tuple(round(float(v), 6) for v in beta[:-1]),
        bias=round(float(beta[-1]), 6),
    )


def training_rows(exclude_model: str | None = None) -> list[TraceCheckpoints]:
    """Checkpoints of the training items of every set (less one model's)."""
    traces = [
        t
        for name in SETS
        if exclude_model is None or not name.endswith(exclude_model)
        for t in load_traces(name)
        if training_item(t.id)
    ]
    return collect(traces)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exclude-model", help="fit on the other models only")
    parser.add_argument("--l2", type=float, default=L2)
    parser.add_argument("--dry-run", action="store_true", help="print, do not write the file")
    args = parser.parse_args()
    rows = training_rows(args.exclude_model)
    score = fit(rows, args.l2)
    checkpoints = sum(len(r.agrees) for r in rows)
    print(f"fitted on {len(rows)} training traces, {checkpoints} checkpoints")
    for name, weight in zip(score.names, score.weights, strict=True):
        print(f"  {name:<18} {weight:+.3f}")
    if not args.dry_run:
        notes = {"fitted_on": sorted({r.model for r in rows}), "traces": len(rows), "l2": args.l2}
        text = json.dumps({**score.to_dict(), "fitting": notes}, indent=2)
        HISTORY_PATH.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {HISTORY_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
