"""Fit the learned exit rule on the tuning half of the traces and write router/exit_weights.py.

python bench/fit_exit_rule.py [--interval 50] [--min-tokens 100] [--margin 0.0] [--dry-run]

Only the tuning half (`router.trace_replay.split_traces`) of the QwQ-32B and s1.1 GSM8K/MATH
traces is read. The threshold is chosen on out-of-fold probabilities (5 folds by trace) so it is
not fitted to the same checkpoints it judges: the lowest one that loses at most 1 point of
accuracy on every set. The held-out half is left for `bench/convergence.py`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from difficulty.answers import answers_match
from difficulty.traces import load_traces
from router.convergence import ConvergenceWatcher, WatcherParams
from router.exit_features import FEATURE_NAMES
from router.exit_rule import ExitRule
from router.trace_replay import PreparedTrace, split_traces

SETS = ("mip-gsm8k-QwQ-32B", "mip-gsm8k-s1.1", "mip-math-QwQ-32B", "mip-math-s1.1")
MAX_DROP = 0.01
WEIGHTS_FILE = Path(__file__).resolve().parent.parent / "router" / "exit_weights.py"


@dataclass
class TraceRows:
    """One trace's candidate values at every checkpoint, and whether each is the final answer."""

    dataset: str
    features: np.ndarray  # one row per (checkpoint, candidate value)
    agrees: np.ndarray  # the value is the full trace's answer (the label)
    correct: np.ndarray  # the value matches gold
    checkpoint: np.ndarray  # which checkpoint each row belongs to
    tokens: np.ndarray  # per checkpoint: tokens so far (scaled to cl100k)
    eligible: np.ndarray  # per checkpoint: past min_tokens
    tokens_full: int
    correct_full: bool


def collect(name: str, traces: list[PreparedTrace], params: WatcherParams) -> list[TraceRows]:
    """Replay each trace without exiting and keep every candidate value at every checkpoint."""
    rows = []
    for prepared in traces:
        watcher = ConvergenceWatcher(params, record=True, exit_rule=ExitRule.never())
        feats, agrees, correct, owner, tokens, eligible = [], [], [], [], [], []
        ratio = prepared.tokens_full / max(1, watcher_tokens(prepared))
        for delta in prepared.deltas:
            before = watcher.checkpoints
            watcher.feed(delta)
            if watcher.checkpoints == before:
                continue
            seen = watcher.checkpoints_seen[-1]
            for candidate, features in seen.options:
                feats.append(features)
                agrees.append(answers_match(candidate.text, prepared.answer_full))
                correct.append(answers_match(candidate.text, prepared.trace.gold))
                owner.append(len(tokens))
            tokens.append(watcher.tokens * ratio)
            eligible.append(watcher.tokens >= params.min_tokens)
        rows.append(
            TraceRows(
                name,
                np.array(feats, dtype=float).reshape(-1, len(FEATURE_NAMES)),
                np.array(agrees, dtype=bool),
                np.array(correct, dtype=bool),
                np.array(owner, dtype=int),
                np.array(tokens, dtype=float),
                np.array(eligible, dtype=bool),
                prepared.tokens_full,
                answers_match(prepared.answer_full, prepared.trace.gold),
            )
        )
    return rows


def watcher_tokens(prepared: PreparedTrace) -> int:
    """The watcher's own token estimate of the whole trace."""
    watcher = ConvergenceWatcher(WatcherParams(rule="streak", interval_tokens=10**9))
    for delta in prepared.deltas:
        watcher.feed(delta)
    return watcher.tokens


def fit(rows: list[TraceRows], c: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Logistic regression on standardised features; each trace weighs the same."""
    from sklearn.linear_model import LogisticRegression

    rows = [r for r in rows if len(r.agrees)]
    x = np.vstack([r.features for r in rows])
    y = np.concatenate([r.agrees for r in rows])
    w = np.concatenate([np.full(len(r.agrees), 1.0 / len(r.agrees)) for r in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit((x - mean) / scale, y, sample_weight=w * len(rows))
    return mean, scale, model.coef_[0], float(model.intercept_[0])


def probabilities(rows: list[TraceRows], mean, scale, coef, bias) -> list[np.ndarray]:
    """The fitted rule's probability for every row of every trace."""
    return [1 / (1 + np.exp(-(((r.features - mean) / scale) @ coef + bias))) for r in rows]


def exit_point(r: TraceRows, p: np.ndarray, threshold: float) -> tuple[int, int] | None:
    """(checkpoint, row) where the watcher exits: the first eligible best value over threshold."""
    for row in np.flatnonzero(p >= threshold):
        cp = int(r.checkpoint[row])
        if not r.eligible[cp]:
            continue
        rows = np.flatnonzero(r.checkpoint == cp)
        return cp, int(rows[np.argmax(p[rows])])
    return None


def simulate(rows: list[TraceRows], probs: list[np.ndarray], threshold: float) -> dict:
    """Per dataset: tokens saved and accuracy drop at exit, with this threshold."""
    out: dict[str, dict[str, float]] = {}
    for r, p in zip(rows, probs, strict=True):
        s = out.setdefault(r.dataset, {"full": 0, "used": 0, "acc_full": 0, "acc_exit": 0, "n": 0})
        s["n"] += 1
        s["full"] += r.tokens_full
        s["acc_full"] += r.correct_full
        point = exit_point(r, p, threshold)
        if point is None:
            s["used"] += r.tokens_full
            s["acc_exit"] += r.correct_full
        else:
            s["used"] += min(r.tokens[point[0]], r.tokens_full)
            s["acc_exit"] += bool(r.correct[point[1]])
    return {
        name: {
            "saved": 1 - s["used"] / s["full"],
            "drop": (s["acc_full"] - s["acc_exit"]) / s["n"],
        }
        for name, s in out.items()
    }


def choose_threshold(rows, probs, margin: float) -> tuple[float, dict]:
    """The lowest threshold whose worst-set accuracy drop stays within MAX_DROP - margin."""
    best = (1.0, simulate(rows, probs, 1.0))
    for threshold in np.arange(0.995, 0.5, -0.0025):
        result = simulate(rows, probs, float(threshold))
        if max(v["drop"] for v in result.values()) > MAX_DROP - margin + 1e-9:
            break
        best = (float(threshold), result)
    return best


def main(argv: list[str] | None = None) -> int:
    """Fit, choose the threshold out of fold, write the weights; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=int, default=WatcherParams().interval_tokens)
    parser.add_argument("--min-tokens", type=int, default=WatcherParams().min_tokens)
    parser.add_argument("--margin", type=float, default=0.0)
    parser.add_argument("--dry-run", action="store_true", help="do not write the weights")
    args = parser.parse_args(argv)
    params = WatcherParams(interval_tokens=args.interval, min_tokens=args.min_tokens)
    rows: list[TraceRows] = []
    for name in SETS:
        tune, _ = split_traces(load_traces(name))
        rows += collect(name, [PreparedTrace.of(t) for t in tune], params)
    print(f"{len(rows)} tuning traces, {sum(len(r.agrees) for r in rows)} checkpoints")
    folds = np.arange(len(rows)) % 5
    oof: list[np.ndarray] = [np.empty(0)] * len(rows)
    for fold in range(5):
        train = [r for r, f in zip(rows, folds, strict=True) if f != fold]
        weights = fit(train)
        for i in np.flatnonzero(folds == fold):
            oof[i] = probabilities([rows[i]], *weights)[0]
    threshold, result = choose_threshold(rows, oof, args.margin)
    print(f"threshold {threshold:.2f} (out of fold, tuning half):")
    for name, v in result.items():
        print(f"  {name:<24} saved {100 * v['saved']:5.1f}%  drop {100 * v['drop']:4.1f} pt")
    mean, scale, coef, bias = fit(rows)
    for name, c in zip(FEATURE_NAMES, coef, strict=True):
        print(f"  {name:<20} {c:+.3f}")
    if args.dry_run:
        return 0
    weights = {
        "names": list(FEATURE_NAMES),
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "weights": [round(float(v), 6) for v in coef],
        "bias": round(bias, 6),
        "threshold": round(threshold, 4),
        "interval_tokens": args.interval,
        "min_tokens": args.min_tokens,
    }
    WEIGHTS_FILE.write_text(
        '"""Shipped weights of the learned exit rule (written by bench/fit_exit_rule.py)."""\n\n'
        "from typing import Any\n\n"
        f"WEIGHTS: dict[str, Any] = {json.dumps(weights, indent=4)}\n",
        encoding="utf-8",
    )
    print(f"wrote {WEIGHTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
